"""Expert iteration with MCTS on Countdown from the SFT checkpoint (AlphaZero-style self-play).

  python -m experiments.expert_iteration --config configs/countdown_expert_iteration.py \
      --config.init_from=runs/demo/sft [--config.target=sft] [--config.evaluator=value]

target 'policy': cross-entropy to mctx's action_weights over the K candidate steps + value head
onto the outcome; 'sft': fine-tune on the verified search trajectories. Machine: 2 CPU cores;
figures in docs/results.md.
"""

import ml_collections


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.seed = 0
  c.init_from = "runs/demo/sft"
  c.evaluator = "outcome"        # leaf values: 'outcome' (verifier at the end, value head
                                 # inside) | 'value' | 'prm'
  c.prm = ""                     # reward-model workdir, for evaluator='prm'
  c.task = ml_collections.ConfigDict({"name": "countdown", "trap_share": 0.1})
  c.train_difficulties = "1,2"
  c.train_problems = 1000        # per difficulty (held-out excluded)
  c.eval_difficulties = "1,2"
  c.eval_problems = 200          # per difficulty, the SFT run's held-out problems
  c.iterations = 3
  c.problems_per_iteration = 256
  c.target = "policy"            # 'policy' (pi, z) | 'sft' (verified trajectories)
  c.num_simulations = 8
  c.num_candidates = 4           # K next steps per node
  c.max_moves = 6
  c.step_tokens = 20
  c.mcts_policy = "gumbel"       # mctx.gumbel_muzero_policy | 'muzero'
  c.mcts_batch = 256
  c.max_new = 64
  c.epochs = 2
  c.batch_size = 32              # rows (x K candidate sequences) per step
  c.value_coef = 0.25
  c.optim = ml_collections.ConfigDict({
      "lr": 3e-4, "warmup_steps": 10, "min_lr_ratio": 0.1, "weight_decay": 0.0,
      "b1": 0.9, "b2": 0.98, "grad_clip": 1.0})
  c.mesh = ml_collections.ConfigDict({"data": -1, "fsdp": 1, "tensor": 1})  # reasoning/mesh.py
  c.keep_checkpoints = 2
  if arg == "tiny":
    c.train_problems = 8
    c.eval_problems = 4
    c.iterations = 2
    c.problems_per_iteration = 6
    c.num_simulations = 2
    c.num_candidates = 2
    c.max_moves = 2
    c.step_tokens = 12
    c.mcts_batch = 4
    c.max_new = 24
    c.epochs = 1
    c.batch_size = 4
  elif arg == "small":  # make reproduce SCALE=small
    c.eval_problems = 100
    c.iterations = 2
    c.problems_per_iteration = 64
    c.mcts_batch = 64
  elif arg is not None:
    raise ValueError(f"configs/countdown_expert_iteration.py: unknown variant {arg!r}; "
                     "expected 'tiny', 'small' or none")
  return c

"""Expert iteration with MCTS (AlphaZero-style self-play on reasoning steps) from the Countdown
SFT checkpoint.

  python -m experiments.expert_iteration --config configs/countdown_expert_iteration.py \
      --config.init_from=runs/demo/sft [--config.target=sft] [--config.evaluator=prm --config.prm=DIR]

Machine: 2 CPU cores. Time and results: docs/self_improvement.md.
"""

from configs import common


def get_config(arg: str | None = None) -> common.ConfigDict:
  c = common.ConfigDict()
  c.seed = 0
  c.init_from = "runs/demo/sft"
  c.evaluator = "outcome"        # leaf values: 'outcome' (verifier at the end, value head
                                 # inside) | 'value' | 'prm'
  c.prm = ""                     # reward-model workdir, for evaluator='prm'
  c.task = common.countdown()
  c.train_difficulties = (1, 2)
  c.train_problems = 1000        # per difficulty (held-out excluded)
  c.eval_difficulties = (1, 2)
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
  c.optim = common.optim(3e-4, 10)
  c.mesh = common.mesh()
  common.outputs(c)
  return common.variant(
      c, arg, "configs/countdown_expert_iteration.py",
      tiny={"train_problems": 8, "eval_problems": 4, "iterations": 2,
            "problems_per_iteration": 6, "num_simulations": 2, "num_candidates": 2,
            "max_moves": 2, "step_tokens": 12, "mcts_batch": 4, "max_new": 24, "epochs": 1,
            "batch_size": 4},
      small={"eval_problems": 100, "iterations": 2, "problems_per_iteration": 64,
             "mcts_batch": 64})

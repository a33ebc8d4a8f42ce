"""RL on chains of thought from the Countdown SFT checkpoint: outcome reward from the verifier.

  python -m experiments.rl --config configs/countdown_rl.py --config.init_from=runs/demo/sft
  python -m experiments.rl --config configs/countdown_rl.py --config.rl.algo=ppo   # grpo|rloo|reinforce
  python -m experiments.rl --config configs/countdown_rl.py:retry --config.init_from=<sft :retry>

`init_from` is an SFT workdir: its config.json gives the model shape, its latest checkpoint the
initial (and frozen reference) parameters, its metrics the SFT FLOPs that start the train-compute
axis. Machine: 2 CPU cores. Figures measured are in the README.
"""

import ml_collections


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.seed = 0
  c.init_from = "runs/demo/sft"
  c.task = ml_collections.ConfigDict({"name": "countdown", "trap_share": 0.1})
  c.train_difficulties = "1,2"
  c.train_trap_share = ml_collections.config_dict.placeholder(float)  # None: the task's
  c.eval_difficulties = "1,2"       # the trained ones: SFT leaves difficulty 3 at 0-1%
  c.eval_problems = 200
  c.rl = ml_collections.ConfigDict({
      "algo": "grpo", "clip_eps": 0.2, "dual_clip": 0.0, "value_clip": 0.2, "value_coef": 0.5,
      "entropy_coef": 0.0, "kl_coef": 0.05, "kl_estimator": "k3", "kl_in_reward": False,
      "gamma": 1.0, "gae_lambda": 0.95, "aggregation": "token", "normalize_std": True,
      # Positive-only updates: with failures pushed down too (1.0, the textbook estimators)
      # every run from the SFT checkpoint lost ground at difficulty 2 (15.5 -> 8.5-9.5%,
      # traps 47 -> 21%); with 0.0 three seeds keep d2 (14.7 +- 2.8%) and gain d1 (+2.8).
      # push_penalized=True still pushes down a false `none` (with train_trap_share=0.5 it
      # keeps solvable accuracy; at the default trap share it collapses d2 and traps like 1.0).
      # docs/results.md, session 7.
      "negative_scale": 0.0, "push_penalized": False})
  c.optim = ml_collections.ConfigDict({
      "lr": 1e-4, "warmup_steps": 5, "min_lr_ratio": 0.5, "weight_decay": 0.0,
      "b1": 0.9, "b2": 0.98, "grad_clip": 1.0})
  c.steps = 130                # RL iterations (rollout + updates): ~7 minutes on 2 CPU cores;
                               # 600 (~30 min): d1 54.0 -> 66.5%, d2 flat (session 12)
  c.prompts_per_step = 32
  c.samples_per_prompt = 8     # G: the group for GRPO/RLOO
  c.epochs = 1                 # passes over each rollout batch
  c.minibatch_size = 128       # rows per gradient step
  c.max_new = 64
  c.temperature = 1.0          # rollout temperature; below 1 the samples are not the policy's
                               # own (log-probs and ratios stay at temperature 1)
  c.format_penalty = 0.0       # reward of a malformed completion is -format_penalty
  c.none_penalty = 0.25        # reward of `ANSWER: none` on a solvable problem is -none_penalty
  c.illegal_penalty = 0.0      # reward of a wrong answer with an illegal step (the fudged last
                               # step) is -illegal_penalty; with rl.push_penalized it is pushed down
                               # (0.5: traps 44.7 -> 71.1%, solvable 35.6 -> 31.2%; session 12)
  c.step_reward = 0.0          # process reward: + step_reward x share of oracle-good lines
  c.abandoned_credit = 1.0     # advantage scale on attempts a completion abandoned (`retry`)
  c.curriculum = True          # sample difficulties by p(1-p) of their running pass rate
  c.baseline_decay = 0.9       # REINFORCE moving-average baseline
  c.mesh = ml_collections.ConfigDict({"data": -1, "fsdp": 1, "tensor": 1})  # reasoning/mesh.py
  c.eval_every = 20
  c.pass_k = 0
  c.checkpoint_every = 10
  c.keep_checkpoints = 2
  c.log_every = 1
  if arg == "tiny":
    c.eval_problems = 4
    c.steps = 3
    c.prompts_per_step = 4
    c.samples_per_prompt = 2
    c.minibatch_size = 4
    c.max_new = 24
    c.eval_every = 2
    c.checkpoint_every = 1
  elif arg == "small":  # make reproduce SCALE=small
    c.eval_problems = 100
    c.steps = 24
    c.prompts_per_step = 16
    c.eval_every = 8
    c.checkpoint_every = 8
  elif arg == "retry":  # from an SFT checkpoint of configs/countdown_sft.py:retry
    c.max_new = 104
    c.abandoned_credit = 0.0
  elif arg is not None:
    raise ValueError(f"configs/countdown_rl.py: unknown variant {arg!r}; "
                     "expected 'tiny', 'small', 'retry' or none")
  return c

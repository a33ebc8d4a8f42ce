"""A process (PRM) or outcome (ORM) reward model on the SFT policy's own Countdown samples,
labelled by the task's exact step oracle (or Monte-Carlo rollouts, Math-Shepherd).

  python -m experiments.verifier --config configs/countdown_verifier.py --config.init_from=runs/demo/sft
  python -m experiments.verifier --config configs/countdown_verifier.py:small --config.kind=orm

`:small` is the demo's; `:large` trains on 30x the solutions. Results, times and machine:
docs/verifiers.md.
"""

from configs import common


def get_config(arg: str | None = None) -> common.ConfigDict:
  c = common.ConfigDict()
  c.seed = 0
  c.init_from = "runs/demo/sft"
  c.task = common.countdown()
  c.kind = "prm"                 # 'prm' | 'orm'
  c.labels = "oracle"            # PRM labels: 'oracle' | 'mc' (Math-Shepherd)
  c.mc_rollouts = 4              # k continuations per step prefix for 'mc'
  c.mc_hard = False              # 'mc': hard labels (any continuation verifies) instead of soft
  c.train_difficulties = (1, 2)
  c.train_problems = 800         # total, drawn uniformly over train_difficulties
  c.samples_per_problem = 4
  c.synthetic_problems = 0       # more training problems with flawed attempts
  c.synthetic_per_problem = 4    # (countdown_traces.flawed_solution), oracle-labelled
  c.eval_difficulties = (1, 2, 3)
  c.eval_problems = 60           # per difficulty
  c.eval_samples = 4
  c.max_new = 64
  c.optim = common.optim(5e-4, 20)
  c.steps = 300
  c.batch_size = 64
  common.outputs(c, checkpoint_every=100, keep_checkpoints=1, log_every=25)
  return common.variant(
      c, arg, "configs/countdown_verifier.py",
      tiny={"train_problems": 8, "samples_per_problem": 2, "eval_problems": 3,
            "eval_samples": 2, "max_new": 24, "mc_rollouts": 2, "steps": 4, "batch_size": 4,
            "optim.warmup_steps": 1, "checkpoint_every": 2, "log_every": 1},
      small={"train_problems": 400, "eval_problems": 40, "steps": 150},
      large={"train_problems": 24_000, "eval_problems": 150, "steps": 3000,
             "checkpoint_every": 500, "log_every": 100})

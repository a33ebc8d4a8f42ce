"""STaR (bootstrapped rationales with rationalization) from the Countdown SFT checkpoint.

  python -m experiments.star --config configs/countdown_star.py --config.init_from=runs/demo/sft
  python -m experiments.star --config configs/countdown_star.py --config.rationalize=False

Machine: 2 CPU cores. The defaults draw fresh problems every iteration and fine-tune on the
union of every iteration's kept examples (`fresh_problems`, `accumulate`);
`--config.fresh_problems=False --config.accumulate=False --config.samples=8` runs the paper's
fixed problem set. Both measured, with times: docs/self_improvement.md.
"""

from configs import common


def get_config(arg: str | None = None) -> common.ConfigDict:
  c = common.ConfigDict()
  c.seed = 0
  c.init_from = "runs/demo/sft"
  c.task = common.countdown()
  c.train_difficulties = (1, 2)
  c.train_problems = 2000        # per difficulty (held-out excluded)
  c.eval_difficulties = (1, 2)
  c.eval_problems = 200          # per difficulty, the SFT run's held-out problems
  c.iterations = 5
  c.samples = 4                  # rationales sampled per problem and iteration
  c.temperature = 1.0
  c.rationalize = True           # hinted second chance for the problems no sample solved
  c.rationalize_samples = 2
  c.balance_traps = True         # at most trap_share of the kept examples are traps
  c.fresh_problems = True        # a new draw of problems every iteration after the first
  c.accumulate = True            # fine-tune on the union of every iteration's examples
  c.max_new = 64
  c.seq_len = 128
  c.finetune = common.ConfigDict({"epochs": 2, "min_steps": 40, "batch_size": 64})
  c.optim = common.optim(2e-4, 10)
  c.mesh = common.mesh()
  common.outputs(c)
  return common.variant(
      c, arg, "configs/countdown_star.py",
      tiny={"train_problems": 12, "eval_problems": 4, "iterations": 2, "samples": 2,
            "max_new": 24, "finetune.epochs": 1, "finetune.min_steps": 2,
            "finetune.batch_size": 8},
      small={"train_problems": 300, "eval_problems": 100, "iterations": 3, "samples": 2,
             "finetune.min_steps": 20})

"""Best-of-N on Countdown with majority vote, ORM and PRM selectors, with bootstrap intervals.

  python -m experiments.best_of_n --config configs/countdown_bon.py \
      --config.policy=runs/reproduce/sft --config.orm=runs/reproduce/orm \
      --config.prm=runs/reproduce/prm

The defaults are `make reproduce`'s runs (`make demo` trains no ORM).

Machine: 2 CPU cores. Results: docs/search.md.
"""

from configs import common


def get_config(arg: str | None = None) -> common.ConfigDict:
  c = common.ConfigDict()
  c.seed = 0
  c.policy = "runs/reproduce/sft"
  c.orm = "runs/reproduce/orm"
  c.prm = "runs/reproduce/prm"
  c.prm_aggregation = "min"
  c.task = common.countdown()
  c.eval_difficulties = (1, 2, 3)
  c.eval_problems = 100          # per difficulty, the SFT run's held-out problems
  c.pool = 64
  c.resamples = 100
  c.max_new = 64
  return common.variant(
      c, arg, "configs/countdown_bon.py",
      tiny={"eval_problems": 3, "pool": 4, "resamples": 5, "max_new": 24},
      small={"eval_problems": 40, "pool": 16})

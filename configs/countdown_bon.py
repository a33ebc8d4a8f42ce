"""Best-of-N on held-out Countdown: majority vote vs ORM vs PRM, best and weighted ("Let's Verify").

  python -m experiments.best_of_n --config configs/countdown_bon.py \
      --config.policy=SFT_DIR --config.orm=ORM_DIR --config.prm=PRM_DIR

For every held-out problem, `pool` samples from the policy at T=1; accuracy of best-of-N for
N = 1, 2, 4, ..., pool is estimated by resampling N from the pool (`resamples` times, as
Lightman et al. do), with a 90% band. Writes metrics.jsonl (one record per difficulty, selector
and N with its test-time FLOPs) and plots/best_of_n.png. Machine: 2 CPU cores.
"""

import ml_collections


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.seed = 0
  c.policy = "runs/demo/sft"
  c.orm = "runs/demo/orm"
  c.prm = "runs/demo/prm"
  c.prm_aggregation = "min"
  c.task = ml_collections.ConfigDict({"name": "countdown", "trap_share": 0.1})
  c.eval_difficulties = "1,2,3"
  c.eval_problems = 100          # per difficulty, the SFT run's held-out problems
  c.pool = 64
  c.resamples = 100
  c.max_new = 64
  if arg == "tiny":
    c.eval_problems = 3
    c.pool = 4
    c.resamples = 5
    c.max_new = 24
  elif arg == "small":  # make reproduce SCALE=small
    c.eval_problems = 40
    c.pool = 16
  elif arg is not None:
    raise ValueError(f"configs/countdown_bon.py: unknown variant {arg!r}; "
                     "expected 'tiny', 'small' or none")
  return c

"""Fit RL compute curves: held-out pass@1 against RL compute for groups of RL runs (the seeds of
one configuration), each group fitted with the log-linear law and ScaleRL's sigmoid with
bootstrap intervals, the extrapolation check per seed, one figure and one table.

  python scripts/fit_scaling.py --out runs/fits grpo=runs/rl_s0,runs/rl_s1,runs/rl_s2 \
      dapo=runs/dapo_s0,runs/dapo_s1 [--key sampled/d1]

Writes OUT/fits.json (every fitted number), OUT/fits.md (the table) and OUT/rl_compute.png.
Every plotted point is an evaluation on `eval_problems` held-out problems per difficulty (the
runs' config.json), the count the bootstrap redraws from.
"""

from __future__ import annotations

import argparse

from experiments.cli import labelled
from reasoning import curves


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("groups", nargs="+", type=labelled, help="LABEL=WORKDIR[,WORKDIR...]")
  parser.add_argument("--out", required=True)
  parser.add_argument("--key", default="sampled/d1", help="the metric, e.g. greedy/d1, greedy/all")
  parser.add_argument("--title", default="held-out pass@1 against RL compute")
  parser.add_argument("--resamples", type=int, default=200)
  parser.add_argument("--flops", default="train_flops", choices=("train_flops", "student_flops"),
                      help="the compute axis: every FLOP, or the trained policy's own (a "
                           "distillation run's teacher excluded)")
  args = parser.parse_args()
  groups = {}
  for label, dirs in args.groups:
    groups[label] = dirs.split(",")
  curves.fit_groups(groups, args.out, key=args.key, title=args.title, resamples=args.resamples,
                    flops=args.flops)


if __name__ == "__main__":
  main()

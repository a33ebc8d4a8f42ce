"""Draw the train-time scaling plot of several RL runs (one line per run) on one figure.

  python scripts/plot_train_scaling.py --out docs/figures/train_scaling.png \
      runs/rl/grpo runs/rl/ppo runs/rl/rloo runs/rl/reinforce

Each run directory is an experiments.rl workdir; its SFT run (config.json: init_from) supplies
the starting point of the compute axis. Lines are labelled by algorithm (and seed if several).
Prints each line's fitted slope in points per decade of train FLOPs.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

sys.path.insert(0, ".")
from reasoning import plots  # noqa: E402
from reasoning.logging import read_metrics  # noqa: E402


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("runs", nargs="+")
  parser.add_argument("--out", required=True)
  parser.add_argument("--keys", default="greedy/d1,greedy/d2")
  args = parser.parse_args()
  runs = {}
  for workdir in args.runs:
    with open(os.path.join(workdir, "config.json")) as f:
      config = json.load(f)
    label = f"{config['rl']['algo']} seed {config['seed']}"
    sft = read_metrics(os.path.join(config["init_from"], "metrics.jsonl"))
    runs[label] = sft + read_metrics(os.path.join(workdir, "metrics.jsonl"))
  slopes = plots.train_scaling(runs, args.out, keys=args.keys.split(","),
                               title=f"{config['task']['name']}: SFT then RL, held-out greedy pass@1")
  for label, by_key in slopes.items():
    print(label, " ".join(f"{k}: {v:+.1f} pts/decade" for k, v in by_key.items()))
  print(f"wrote {args.out}")


if __name__ == "__main__":
  main()

"""Draw train-time scaling: held-out pass@1 of the raw policy against train FLOPs, one line per
run (RL, STaR, expert iteration workdirs, mixed freely), on one figure.

  python scripts/plot_train_scaling.py --out docs/figures/countdown_train_scaling.png \
      runs/rl_grpo runs/rl_ppo runs/star runs/star_norat runs/expert_iteration

The runs start from one SFT run (config.json: init_from), whose learning curve is the first
panel against SFT compute; the others put each run's held-out accuracy against the compute it
spent after the SFT checkpoint (plots.post_training_scaling), with standard errors. Lines are
labelled by method (and seed where runs differ in it). Prints each line's fitted slope in
points per decade of post-training FLOPs.
"""

from __future__ import annotations

import argparse
import json
import os

from reasoning import plots
from reasoning.logging import read_metrics


def method_label(config: dict) -> str:
  """What a workdir's config.json says it ran."""
  if "rl" in config:
    return f"RL ({config['rl']['algo']})"
  if "rationalize" in config:
    label = "STaR" if config["rationalize"] else "STaR (no rationalization)"
    # The paper's loop (a config without the switch ran it too).
    return label if config.get("fresh_problems") else label + ", fixed problems"
  if "target" in config and "num_simulations" in config:
    return f"expert iteration, MCTS ({config['target']} targets)"
  raise ValueError(f"cannot tell which experiment wrote this config: {sorted(config)[:8]}...")


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("runs", nargs="+")
  parser.add_argument("--out", required=True)
  parser.add_argument("--keys", default="greedy/d1,greedy/d2")
  parser.add_argument("--title", default=None)
  args = parser.parse_args()
  configs = []
  for workdir in args.runs:
    with open(os.path.join(workdir, "config.json")) as f:
      configs.append(json.load(f))
  if len({c["init_from"] for c in configs}) > 1:
    parser.error("the runs start from different SFT runs; plot each SFT's runs on its own")
  several_seeds = len({c["seed"] for c in configs}) > 1
  runs = {}
  for workdir, config in zip(args.runs, configs):
    label = method_label(config) + (f" seed {config['seed']}" if several_seeds else "")
    if label in runs:  # two runs of one method: tell them apart by directory
      label += f" [{os.path.basename(os.path.normpath(workdir))}]"
    runs[label] = read_metrics(os.path.join(workdir, "metrics.jsonl"))
  sft = read_metrics(os.path.join(configs[0]["init_from"], "metrics.jsonl"))
  problems = {c.get("eval_problems") for c in configs}
  task = configs[0]["task"]["name"]
  slopes = plots.post_training_scaling(
      sft, runs, args.out, keys=args.keys.split(","), problems=min(problems),
      title=args.title or f"{task}: train-time scaling, held-out greedy pass@1 of the raw policy")
  for label, by_key in slopes.items():
    print(label, " ".join(f"{k}: {v:+.1f} pts/decade" if v == v else f"{k}: under 3 points"
                          for k, v in by_key.items()))
  print(f"wrote {args.out}")


if __name__ == "__main__":
  main()

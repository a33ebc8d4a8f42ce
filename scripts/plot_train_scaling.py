"""Draw train-time scaling: held-out pass@1 of the raw policy against train FLOPs, one line per
run (RL, STaR, expert iteration workdirs, mixed freely), on one figure.

  python scripts/plot_train_scaling.py --out docs/figures/countdown_train_scaling.png \
      runs/rl_grpo runs/rl_ppo runs/star runs/star_norat runs/expert_iteration

Each run starts from an SFT run (config.json: init_from); its line starts at that SFT's final
evaluation, and the SFT's own learning curve is drawn once as "SFT only". Lines are labelled by
method (and seed where runs differ in it). Prints each line's fitted slope in points per decade
of train FLOPs.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

sys.path.insert(0, ".")
from reasoning import plots  # noqa: E402
from reasoning.logging import read_metrics  # noqa: E402


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
  several_seeds = len({c["seed"] for c in configs}) > 1
  runs, sft_dirs = {}, []
  for workdir, config in zip(args.runs, configs):
    label = method_label(config) + (f" seed {config['seed']}" if several_seeds else "")
    sft = [r for r in read_metrics(os.path.join(config["init_from"], "metrics.jsonl"))
           if "greedy/all" in r]
    if config["init_from"] not in sft_dirs:
      sft_dirs.append(config["init_from"])
      runs["SFT only" if len(sft_dirs) == 1 else f"SFT only ({config['init_from']})"] = sft
    if label in runs:  # two runs of one method: tell them apart by directory
      label += f" [{os.path.basename(os.path.normpath(workdir))}]"
    runs[label] = sft[-1:] + read_metrics(os.path.join(workdir, "metrics.jsonl"))
  task = configs[0]["task"]["name"]
  slopes = plots.train_scaling(runs, args.out, keys=args.keys.split(","),
                               title=args.title or f"{task}: train-time scaling, held-out "
                                                   "greedy pass@1 of the raw policy")
  for label, by_key in slopes.items():
    print(label, " ".join(f"{k}: {v:+.1f} pts/decade" for k, v in by_key.items()))
  print(f"wrote {args.out}")


if __name__ == "__main__":
  main()

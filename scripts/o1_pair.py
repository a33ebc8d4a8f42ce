"""The o1 pair of plots, measured: held-out pass@1 against train-time (RL) compute and against
test-time compute, on log axes, with their fits (ScaleRL's sigmoid and the log-linear law on the
left, log-linear per searcher on the right) and parameters in the legend.

  python scripts/o1_pair.py --out docs/figures/countdown_o1_pair.png \
      --rl runs/rl_s0,runs/rl_s1,runs/rl_s2 --search runs/search [--key d1]

--rl: RL workdirs (seeds of one config), fitted pooled (reasoning/curves.py). --search: an
experiments.search workdir; its searchers' accuracy over all its problems of the bin, the
compute-optimal frontier on the test half.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, ".")
sys.path.insert(0, "scripts")
import fit_scaling  # noqa: E402
from reasoning import curves as curves_lib, plots, rng as rng_lib, scaling  # noqa: E402

FAMILIES = ("best-of-N majority", "best-of-N PRM weighted", "beam (PRM)")


def search_points(workdir: str, bin_name: str) -> dict:
  """{family: [(FLOPs per problem, accuracy)]} over both halves of the bin, and the
  compute-optimal frontier on the test half, with a log-linear fit of each."""
  rows = [json.loads(l) for l in open(os.path.join(workdir, "metrics.jsonl"))]
  out = {}
  by_method = {}
  for r in rows:
    if r["bin"] == bin_name:
      by_method.setdefault((r["family"], r["method"]), []).append(r)
  for (family, _), parts in by_method.items():
    if family in FAMILIES or family.startswith("lookahead") or family.startswith("MCTS"):
      out.setdefault(family, []).append((float(np.mean([p["test_flops"] for p in parts])),
                                         float(np.mean([p["accuracy"] for p in parts]))))
  out = {k: v for k, v in out.items() if len(v) >= 2}
  out["_fits"] = {k: scaling.log_linear_fit(*zip(*v)) for k, v in out.items()}
  return out


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--out", required=True)
  parser.add_argument("--rl", required=True, help="RL workdirs, comma-separated (seeds)")
  parser.add_argument("--search", required=True, help="an experiments.search workdir")
  parser.add_argument("--key", default="d1", help="the difficulty: d1, d2 or all")
  parser.add_argument("--rl_metric", default="sampled",
                      help="the RL runs' held-out metric: sampled (mean of pass_k samples) or "
                           "greedy")
  parser.add_argument("--title", default="Countdown: pass@1 against train-time and test-time "
                                         "compute")
  args = parser.parse_args()
  runs, problems = fit_scaling.load_group(args.rl.split(","), f"{args.rl_metric}/{args.key}")
  fit = curves_lib.fit(runs, problems, rng_lib.stream(0, "fit_bootstrap", 0))
  search = search_points(args.search, args.key)
  os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
  plots.o1_pair({"runs": runs, "fit": fit}, search, args.out, title=args.title,
                rl_label=f"held-out {args.rl_metric}, {args.key}, {problems} problems",
                search_label=f"held-out, {args.key}, chosen answer")
  s = fit["sigmoid"]
  print(f"RL: {len(runs)} runs, {fit['decades']:.2f} decades; sigmoid A={s['a']:.3f} "
        f"B={s['b']:.2f}; log-linear {100 * fit['log_linear']['slope_per_decade']:+.1f} pts/decade")
  for family, f in search["_fits"].items():
    print(f"search {family}: {100 * f['slope_per_decade']:+.1f} pts/decade (R² {f['r2']:.2f})")
  print(f"wrote {args.out}")


if __name__ == "__main__":
  main()

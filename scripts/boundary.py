"""Does RL only sharpen? (Yue et al. 2025): pass@k for k = 1..K of a policy before and after RL
on the same held-out problems, the paired difference at each k with its bootstrap interval over
problems, and the crossover k past which the policy before RL covers more (if any).

  python scripts/coverage.py --policy runs/demo/sft --out runs/demo/coverage_sft --k 256
  python scripts/coverage.py --policy runs/demo/rl --out runs/demo/coverage --k 256
  python scripts/boundary.py --before runs/demo/coverage_sft --after runs/demo/coverage \
      --out runs/demo/boundary [--key d2]

Both coverage runs must hold the same problems (a policy and the RL run built on it share their
root SFT run's held-out set). Writes OUT/boundary.json and OUT/boundary.png.
"""

from __future__ import annotations

import argparse
import json
import os

import numpy as np

from reasoning import plots, rng as rng_lib, scaling


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--before", required=True, help="scripts/coverage.py output of the start")
  parser.add_argument("--after", required=True, help="scripts/coverage.py output after RL")
  parser.add_argument("--out", required=True)
  parser.add_argument("--key", default="d1", help="a difficulty (d1, d2, ...) or 'all'")
  args = parser.parse_args()
  saved = []
  for path in (args.before, args.after):
    with open(os.path.join(path, "coverage.json")) as f:
      saved.append(json.load(f))
  before, after = saved
  if before["difficulty"] != after["difficulty"] or before["samples"] != after["samples"]:
    raise ValueError(f"{args.before} and {args.after}: different problems or sample counts; "
                     f"run scripts/coverage.py on both with the same --problems, "
                     f"--difficulties and --k")
  n = before["samples"]
  ks = [int(k) for k in 2 ** np.arange(int(np.log2(n)) + 1)]
  difficulty = np.asarray(before["difficulty"])
  rows = np.ones(len(difficulty), bool) if args.key == "all" else (
      difficulty == int(args.key.lstrip("d")))
  if not rows.any():
    raise ValueError(f"--key {args.key}: no problems of that difficulty in {args.before}")
  result = scaling.compare_coverage(
      scaling.pass_at_k_rows(np.asarray(before["counts"]["pool"])[rows], n, ks),
      scaling.pass_at_k_rows(np.asarray(after["counts"]["pool"])[rows], n, ks),
      rng_lib.stream(0, "fit_bootstrap", 0))
  result.update({"k": ks, "problems": int(rows.sum()), "key": args.key,
                 "before_policy": before["policy"], "after_policy": after["policy"]})
  os.makedirs(args.out, exist_ok=True)
  with open(os.path.join(args.out, "boundary.json"), "w") as f:
    json.dump(result, f, indent=1)
  plots.boundary(result, os.path.join(args.out, "boundary.png"),
                 title=f"pass@k before and after RL, {args.key}, {result['problems']} held-out "
                       f"problems, {n} samples each")
  for k, b, a, d, lo, hi in zip(ks, result["before"], result["after"], result["difference"],
                                result["difference_low"], result["difference_high"]):
    print(f"pass@{k}: before {100 * b:.1f}%  after {100 * a:.1f}%  "
          f"difference {100 * d:+.1f} [{100 * lo:+.1f}, {100 * hi:+.1f}]")
  c, (lo, hi) = result["crossover"], result["crossover_interval"]
  label = lambda i: f"k={ks[i]}" if i < len(ks) else f"none up to k={ks[-1]}"
  print(f"crossover: {label(c)} (90% interval {label(lo)} .. {label(hi)})")
  print(f"wrote {args.out}/boundary.json, boundary.png")


if __name__ == "__main__":
  main()

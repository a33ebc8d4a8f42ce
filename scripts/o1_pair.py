"""The o1 pair of plots, measured: held-out pass@1 against train-time (RL) compute and against
test-time compute, on log axes, with their fits (ScaleRL's sigmoid and the log-linear law on the
left, log-linear per test-time method on the right) and parameters in the legend.

  python scripts/o1_pair.py --out runs/demo/o1_pair.png --rl runs/demo/rl \
      --coverage runs/demo/coverage [--test_key d2] [--json runs/demo/o1_pair.json]
  python scripts/o1_pair.py --out o1_pair.png --rl runs/rl_s0,runs/rl_s1 --search runs/search

--rl: RL workdirs (seeds of one config), fitted pooled (reasoning/curves.py). The test-time
side is either --coverage, a scripts/coverage.py output: best-of-N with the task's exact checker
(Countdown's checks the equation, not a reference answer), accuracy = pass@N at N times the mean
sample's FLOPs; or --search, an experiments.search workdir: its searchers' accuracy over all its
problems of the bin. --json writes the plotted data and fits (accuracy in percent, compute in
FLOPs).
"""

from __future__ import annotations

import argparse
import json
import os

import numpy as np

from reasoning import curves as curves_lib, plots, rng as rng_lib, scaling

FAMILIES = ("best-of-N majority", "best-of-N PRM weighted", "beam (PRM)")


def search_points(workdir: str, bin_name: str) -> dict:
  """{family: [(FLOPs per problem, accuracy)]} over both halves of the bin, and the
  compute-optimal frontier on the test half, with a log-linear fit of each."""
  rows = [json.loads(l) for l in open(os.path.join(workdir, "metrics.jsonl"))]
  out: dict = {}
  by_method: dict = {}
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


def coverage_points(directory: str, key: str) -> tuple[dict, int]:
  """({"best-of-N, exact checker": [(FLOPs per problem, pass@N)], "_fits": ...}, problems) from
  a scripts/coverage.py output directory, for its group `key` (d1, d2, q1...)."""
  with open(os.path.join(directory, "coverage.json")) as f:
    saved = json.load(f)
  if key not in saved["results"]:
    raise ValueError(f"{directory}/coverage.json: no group {key!r} (has "
                     f"{', '.join(saved['results'])})")
  r = saved["results"][key]
  points = [(k * r["flops_per_sample"], c) for k, c in zip(r["k"], r["coverage"])]
  family = "best-of-N, exact checker"
  return {family: points, "_fits": {family: scaling.log_linear_fit(*zip(*points))}}, r["problems"]


def write_json(path: str, runs: list[dict], fit: dict, problems: int, test: dict,
               test_problems: int, test_family: str) -> None:
  """The figure's data: the RL runs' points (mean over seeds at each evaluation) and the cited
  test-time method's, accuracy in percent and compute in FLOPs, with their fits."""
  def pct(x):
    return [round(100 * float(v), 3) for v in x]
  ll, sig = fit["log_linear"], fit["sigmoid"]
  compute, accuracy = zip(*sorted(test[test_family]))
  tf = test["_fits"][test_family]
  data = {
      "train": {"compute": [float(c) for c in np.mean([r["compute"] for r in runs], 0)],
                "accuracy": pct(np.mean([r["accuracy"] for r in runs], 0)),
                "accuracy_per_seed": [pct(r["accuracy"]) for r in runs], "n": problems,
                "r0": round(100 * fit["r0"], 3),
                "fit": {"log_linear": {"slope_per_decade": 100 * ll["slope_per_decade"],
                                       "slope_interval": [100 * v for v in
                                                          fit["log_linear_interval"]["slope_per_decade"]],
                                       "r2": ll["r2"]},
                        "sigmoid": {"a": 100 * sig["a"], "b": sig["b"], "c_mid": sig["c_mid"],
                                    "a_interval": [100 * v for v in fit["sigmoid_interval"]["a"]],
                                    "b_interval": list(fit["sigmoid_interval"]["b"])},
                        "extrapolation": fit["extrapolation"]}},
      "test": {"method": test_family, "compute": [float(c) for c in compute],
               "accuracy": pct(accuracy), "n": test_problems,
               "fit": {"log_linear": {"slope_per_decade": 100 * tf["slope_per_decade"],
                                      "r2": tf["r2"]}}}}
  with open(path, "w") as f:
    json.dump(data, f, indent=1)


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--out", required=True)
  parser.add_argument("--rl", required=True, help="RL workdirs, comma-separated (seeds)")
  test = parser.add_mutually_exclusive_group(required=True)
  test.add_argument("--search", help="an experiments.search workdir")
  test.add_argument("--coverage", help="a scripts/coverage.py output directory")
  parser.add_argument("--test_key", default=None,
                      help="the test-time side's difficulty or bin (default: --key)")
  parser.add_argument("--json", default=None, help="write the plotted data and fits here")
  parser.add_argument("--key", default="d1", help="the difficulty: d1, d2 or all")
  parser.add_argument("--rl_metric", default="sampled",
                      help="the RL runs' held-out metric: sampled (mean of pass_k samples) or "
                           "greedy")
  parser.add_argument("--title", default="Countdown: pass@1 against train-time and test-time "
                                         "compute")
  args = parser.parse_args()
  runs, problems = curves_lib.load_group(args.rl.split(","), f"{args.rl_metric}/{args.key}")
  fit = curves_lib.fit(runs, problems, rng_lib.stream(0, "fit_bootstrap", 0))
  test_key = args.test_key or args.key
  if args.coverage:
    search, test_problems = coverage_points(args.coverage, test_key)
    search_label = f"held-out, {test_key}, {test_problems} problems"
  else:
    search, test_problems = search_points(args.search, test_key), None
    search_label = f"held-out, {test_key}, chosen answer"
  os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
  plots.o1_pair({"runs": runs, "fit": fit}, search, args.out, title=args.title,
                rl_label=f"held-out {args.rl_metric}, {args.key}, {problems} problems",
                search_label=search_label)
  if args.json:
    family = next(k for k in search if k != "_fits")
    write_json(args.json, runs, fit, problems, search, test_problems or 0, family)
  s = fit["sigmoid"]
  print(f"RL: {len(runs)} runs, {fit['decades']:.2f} decades; sigmoid A={s['a']:.3f} "
        f"B={s['b']:.2f}; log-linear {100 * fit['log_linear']['slope_per_decade']:+.1f} pts/decade")
  for e in fit["extrapolation"]:
    if e:
      print(f"RL: the sigmoid fitted on the first half of the log-compute range "
            f"({e['fitted_points']} points) predicts the last evaluation "
            f"{100 * e['error_last']:+.1f} pts off, over a measured rise of {100 * e['rise']:+.1f}")
  for family, f in search["_fits"].items():
    print(f"test-time {family}: {100 * f['slope_per_decade']:+.1f} pts/decade "
          f"(R² {f['r2']:.2f})")
  print(f"wrote {args.out}")


if __name__ == "__main__":
  main()

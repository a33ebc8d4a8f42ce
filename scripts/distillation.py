"""Does on-policy distillation widen the boundary where RL does not? Methods trained from the
same student (RL, on-policy distillation, SFT on teacher samples) compared on the same held-out
problems: held-out pass@1 against the student's own FLOPs, fitted, and pass@k for k = 1..K
against the student before training, paired per problem with bootstrap intervals.

  python scripts/coverage.py --policy runs/sft_width64 --out runs/coverage_width64
  python scripts/coverage.py --policy runs/distill --out runs/coverage_distill    # each method
  python scripts/distillation.py --out runs/distillation --start runs/coverage_width64 \
      --teacher runs/demo/coverage_sft \
      "RL (GRPO)=runs/rl_width64:runs/coverage_rl_width64" \
      "on-policy distillation=runs/distill:runs/coverage_distill" \
      "SFT on teacher samples=runs/distill_offpolicy:runs/coverage_distill_offpolicy"

Every coverage run must hold the same problems and sample count (policies that share their root
SFT run's held-out set). Writes OUT/distillation.json, OUT/distillation.md and
OUT/distillation.png; intervals are 90% bootstrap intervals over problems (pass@k) or parametric
bootstrap intervals (the compute fit).
"""

from __future__ import annotations

import argparse
import json
import os

import numpy as np

from experiments.cli import labelled
from reasoning import curves as curves_lib, plots, rng as rng_lib, scaling


def _coverage(path: str) -> dict:
  with open(os.path.join(path, "coverage.json")) as f:
    return json.load(f)


def compare_methods(start: str, methods: dict[str, tuple[str, str]], *, key: str,
                    metric: str, teacher: str | None = None, seed: int = 0) -> dict:
  """{k, problems, start, teacher, methods: {label: {curve, fit, pass_at_k}}} (see the module
  docstring). `methods`: {label: (run workdir, coverage dir)}."""
  base = _coverage(start)
  n = base["samples"]
  ks = [int(k) for k in 2 ** np.arange(int(np.log2(n)) + 1)]
  difficulty = np.asarray(base["difficulty"])
  rows = np.ones(len(difficulty), bool) if key == "all" else difficulty == int(key.lstrip("d"))
  if not rows.any():
    raise ValueError(f"--key {key}: no problems of that difficulty in {start}")

  def rows_of(path):
    cov = _coverage(path)
    if cov["difficulty"] != base["difficulty"] or cov["samples"] != n:
      raise ValueError(f"{path} and {start}: different problems or sample counts; run "
                       f"scripts/coverage.py on both with the same --problems, --difficulties "
                       f"and --k")
    return scaling.pass_at_k_rows(np.asarray(cov["counts"]["pool"])[rows], n, ks)

  before = rows_of(start)
  out: dict = {"k": ks, "problems": int(rows.sum()), "key": key, "metric": metric,
               "start": {"path": start, "pass_at_k": before.mean(0).tolist()}, "methods": {}}
  if teacher:
    out["teacher"] = {"path": teacher, **scaling.compare_coverage(
        before, rows_of(teacher), rng_lib.stream(seed, "fit_bootstrap", 99))}
  for i, (label, (workdir, coverage)) in enumerate(methods.items()):
    runs, problems = curves_lib.load_group([workdir], metric, "student_flops")
    fit = curves_lib.fit(runs, problems, rng_lib.stream(seed, "fit_bootstrap", i))
    out["methods"][label] = {"workdir": workdir, "coverage": coverage, "curve": runs[0],
                             "fit": fit, **scaling.compare_coverage(
                                 before, rows_of(coverage),
                                 rng_lib.stream(seed, "fit_bootstrap", 50 + i))}
  return out


def table(result: dict) -> str:
  """Markdown: per method the held-out pass@1 before and at the last evaluation (paired gain and
  SE from the run), the log-linear slope against student FLOPs, and pass@k differences from the
  start at k = 1, 16 and K with their intervals."""
  ks = result["k"]
  shown = [i for i, k in enumerate(ks) if k in (1, 16, ks[-1])]
  head = " | ".join(f"pass@{ks[i]} vs start (pts)" for i in shown)
  lines = [f"| method | {result['metric']}: start → last (paired gain ± SE) | slope "
           f"(pts/decade of student FLOPs) | {head} | crossover |", "|---" * (4 + len(shown)) + "|"]
  rows = dict(result["methods"])
  if "teacher" in result:
    rows["teacher (reference)"] = dict(result["teacher"], fit=None)
  for label, m in rows.items():
    cells = " | ".join(f"{100 * m['difference'][i]:+.1f} [{100 * m['difference_low'][i]:+.1f}, "
                       f"{100 * m['difference_high'][i]:+.1f}]" for i in shown)
    fit = m["fit"]
    if fit is None:
      gain = slope = "-"
    else:
      curve = m["curve"]
      g = curve["gain"]
      gain = (f"{100 * curve['r0']:.1f} → {100 * curve['accuracy'][-1]:.1f}"
              + (f" ({100 * g[0]:+.1f} ± {100 * g[1]:.1f})" if g else ""))
      lo, hi = fit["log_linear_interval"]["slope_per_decade"]
      slope = (f"{100 * fit['log_linear']['slope_per_decade']:+.1f} [{100 * lo:+.1f}, "
               f"{100 * hi:+.1f}], R² {fit['log_linear']['r2']:.2f}")
    c = m["crossover"]
    cross = f"k={ks[c]}" if c < len(ks) else f"none to k={ks[-1]}"
    lines.append(f"| {label} | {gain} | {slope} | {cells} | {cross} |")
  return "\n".join(lines)


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("methods", nargs="+", type=labelled,
                      help="LABEL=RUN_WORKDIR:COVERAGE_DIR")
  parser.add_argument("--start", required=True, help="scripts/coverage.py output of the student")
  parser.add_argument("--teacher", default=None, help="scripts/coverage.py output of the teacher")
  parser.add_argument("--out", required=True)
  parser.add_argument("--key", default="d1", help="a difficulty (d1, d2, ...) or 'all'")
  parser.add_argument("--metric", default="sampled/d1", help="the runs' held-out metric to fit")
  args = parser.parse_args()
  methods = {}
  for label, dirs in args.methods:
    workdir, sep, coverage = dirs.partition(":")
    if not (sep and workdir and coverage):
      parser.error(f"{label}={dirs}: expected LABEL=RUN_WORKDIR:COVERAGE_DIR")
    methods[label] = (workdir, coverage)
  result = compare_methods(args.start, methods, key=args.key, metric=args.metric,
                           teacher=args.teacher)
  os.makedirs(args.out, exist_ok=True)
  with open(os.path.join(args.out, "distillation.json"), "w") as f:
    json.dump(result, f, indent=1, default=lambda x: np.asarray(x).tolist())
  md = table(result)
  with open(os.path.join(args.out, "distillation.md"), "w") as f:
    f.write(md + "\n")
  plots.distillation(result, os.path.join(args.out, "distillation.png"),
                     title=f"from the same student: {args.key}, {result['problems']} held-out "
                           f"problems, {result['k'][-1]} samples each")
  print(md)
  print(f"wrote {args.out}/distillation.json, distillation.md, distillation.png")


if __name__ == "__main__":
  main()

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
import json
import os
import sys

import numpy as np

sys.path.insert(0, ".")
from experiments.common import labelled  # noqa: E402
from reasoning import curves as curves_lib, plots, rng as rng_lib  # noqa: E402
from reasoning.logging import read_metrics  # noqa: E402


def load_group(workdirs: list[str], key: str, flops: str = "train_flops"
               ) -> tuple[list[dict], int]:
  """(rl_curve per run, held-out problems per point) of a group's workdirs."""
  runs, problems = [], set()
  for workdir in workdirs:
    with open(os.path.join(workdir, "config.json")) as f:
      config = json.load(f)
    problems.add(config["eval_problems"] * (1 if "/d" in key else
                                            len(str(config["eval_difficulties"]).split(","))))
    try:
      runs.append(curves_lib.rl_curve(read_metrics(os.path.join(workdir, "metrics.jsonl")), key,
                                      flops))
    except ValueError as e:
      raise ValueError(f"{workdir}: {e}") from None
  if len(problems) != 1:
    raise ValueError(f"{workdirs}: the runs evaluate on different numbers of problems {problems}")
  return runs, problems.pop()


def seconds_per_step(workdir: str) -> float:
  """The median wall-clock gap between a run's consecutive training records (an evaluation
  between two steps lengthens one gap, which the median ignores)."""
  train = [r for r in read_metrics(os.path.join(workdir, "metrics.jsonl"))
           if "train_flops" in r and not any(k.startswith("greedy/") for k in r)]
  gaps = np.diff([r["time"] for r in train])
  return float(np.median(gaps)) if len(gaps) else float("nan")


def interval(fit: dict, name: str, key: str, scale: float = 1.0, fmt: str = ".1f") -> str:
  lo, hi = fit[f"{name}_interval"][key]
  return (f"{scale * fit[name][key]:{fmt}} [{scale * lo:{fmt}}, {scale * hi:{fmt}}]")


def table(fits: dict[str, dict], key: str) -> str:
  """Markdown: per group the last evaluation (mean over seeds ± SE), RL's paired gain, the
  sigmoid's A and B and the log-linear slope with their 90% intervals, and each seed's
  extrapolation error with the rise the fit had to predict (an error on a flat part is no
  evidence of extrapolation)."""
  lines = [f"| run ({key}) | before RL | last eval, mean ± SE (seeds) | gain, paired (pts) | "
           f"asymptote A (%) | efficiency B | C_mid (FLOPs) | slope (pts/decade) | R² | "
           f"first-half fit's error at the last point (rise it predicted), per seed (pts) | "
           f"s/step |", "|---" * 11 + "|"]
  for label, fit in fits.items():
    last = fit["last"]
    seeds = ", ".join(f"{100 * e['error_last']:+.1f} ({100 * e['rise']:+.1f})" if e else "-"
                      for e in fit["extrapolation"])
    gain = (f"{100 * fit['gain']['mean']:+.1f} ± {100 * fit['gain']['se']:.1f}" if "gain" in fit
            else "-")
    lines.append(
        f"| {label} | {100 * fit['r0']:.1f} | {100 * last['mean']:.1f} ± {100 * last['se']:.1f} "
        f"({', '.join(f'{100 * x:.1f}' for x in last['per_seed'])}) | {gain} | "
        f"{interval(fit, 'sigmoid', 'a', 100)} | {interval(fit, 'sigmoid', 'b', 1, '.2f')} | "
        f"{fit['sigmoid']['c_mid']:.2g} | {interval(fit, 'log_linear', 'slope_per_decade', 100)} "
        f"| {fit['log_linear']['r2']:.2f} | {seeds} | "
        f"{np.median(fit.get('seconds_per_step', [np.nan])):.2f} |")
  return "\n".join(lines)


def fit_groups(groups: dict[str, list[str]], out: str, *, key: str, title: str,
               resamples: int = 200, seed: int = 0, flops: str = "train_flops"
               ) -> dict[str, dict]:
  """Fits every group, writes fits.json, fits.md and rl_compute.png under `out`; returns the
  fits."""
  os.makedirs(out, exist_ok=True)
  curves, fits = {}, {}
  for i, (label, workdirs) in enumerate(groups.items()):
    runs, problems = load_group(workdirs, key, flops)
    fits[label] = curves_lib.fit(runs, problems, rng_lib.stream(seed, "fit_bootstrap", i),
                                 resamples=resamples)
    fits[label]["problems"] = problems
    fits[label]["workdirs"] = workdirs
    fits[label]["seconds_per_step"] = [seconds_per_step(w) for w in workdirs]
    curves[label] = {"runs": runs, "fit": fits[label]}
  with open(os.path.join(out, "fits.json"), "w") as f:
    json.dump(fits, f, indent=1)
  text = table(fits, key)
  with open(os.path.join(out, "fits.md"), "w") as f:
    f.write(text + "\n")
  plots.rl_compute_curves(curves, os.path.join(out, "rl_compute.png"), title=title,
                          ylabel=f"held-out {key} (%)")
  print(text)
  print(f"wrote {out}/fits.json, fits.md, rl_compute.png")
  return fits


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
  fit_groups(groups, args.out, key=args.key, title=args.title, resamples=args.resamples,
             flops=args.flops)


if __name__ == "__main__":
  main()

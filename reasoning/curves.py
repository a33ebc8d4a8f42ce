"""Compute curves of training runs: held-out accuracy against RL compute, read from the runs'
metrics.jsonl records, and their scaling fits (reasoning/scaling.py) with intervals.

RL compute is counted from RL's start: an RL run's `train_flops` include its SFT checkpoint's,
which the step-0 evaluation records; subtracting it gives the compute RL itself spent, the axis
on which ScaleRL (Khatri et al. 2025) fits its saturating curve. R0, the accuracy before RL, is
the step-0 evaluation's.
"""

from __future__ import annotations

import json
import os
from typing import Sequence

import numpy as np

from reasoning import rng as rng_lib, runs as runs_lib, scaling
from reasoning.logging import read_metrics


def rl_curve(records: Sequence[dict], key: str, flops: str = "train_flops") -> dict:
  """{compute, accuracy, r0, sft_flops} of one run: its held-out evaluations of `key` (e.g.
  'greedy/d1') after step 0, at the compute spent up to each. `flops`: the ledger counted,
  'train_flops' (every FLOP) or 'student_flops' (the trained policy's own, which
  experiments.distill logs apart from the teacher's; a run without it, such as RL with the exact
  verifier, spends every FLOP on the policy and is read from train_flops)."""
  count = lambda r: r.get(flops, r["train_flops"])
  evals = [r for r in records if key in r and "train_flops" in r]
  start = [r for r in evals if r["step"] == 0]
  if not start:
    raise ValueError(f"no step-0 evaluation of {key!r}: the curve needs the accuracy before RL")
  sft_flops = count(start[0])
  later = [r for r in evals if r["step"] > 0]
  gains = [r for r in records if f"gain/{key}" in r]  # experiments.rl's paired gain, if any
  return {"compute": np.array([count(r) - sft_flops for r in later]),
          "accuracy": np.array([r[key] for r in later]), "r0": float(start[0][key]),
          "sft_flops": float(sft_flops), "steps": [r["step"] for r in later],
          "gain": ((gains[-1][f"gain/{key}"], gains[-1][f"gain_se/{key}"]) if gains else None)}


def fit(runs: Sequence[dict], problems: int, rng: np.random.Generator, *,
        resamples: int = 200, level: float = 0.9, log_share: float = 0.5) -> dict:
  """Fits of the runs of one configuration (seeds) pooled: the log-linear law (slope per
  decade, R^2) and ScaleRL's sigmoid (asymptote A, efficiency B, C_mid) with R0 the mean
  accuracy before RL, each parameter with its parametric-bootstrap `level` interval (every point
  redrawn as Binomial(problems, accuracy)). RL's gain paired per problem (when the runs recorded
  it), averaged over seeds with its standard error. Per seed: the last evaluation and the
  extrapolation check (the sigmoid fitted on the points of the first `log_share` of the
  log-compute range predicts the last, and the rise it had to predict; None for a run of fewer
  than four evaluations)."""
  compute = np.concatenate([r["compute"] for r in runs])
  accuracy = np.concatenate([r["accuracy"] for r in runs])
  r0 = float(np.mean([r["r0"] for r in runs]))
  sig = lambda c, a: scaling.sigmoid_fit(c, a, r0)
  out = {"r0": r0, "points": len(compute),
         "decades": float(np.log10(compute.max() / compute[compute > 0].min())),
         "log_linear": scaling.log_linear_fit(compute, accuracy),
         "sigmoid": sig(compute, accuracy)}
  out["log_linear_interval"] = scaling.bootstrap(scaling.log_linear_fit, compute, accuracy,
                                                 problems, rng, resamples, level)
  out["sigmoid_interval"] = scaling.bootstrap(sig, compute, accuracy, problems, rng, resamples,
                                              level)
  last = np.array([r["accuracy"][-1] for r in runs])
  out["last"] = {"mean": float(last.mean()), "per_seed": last.tolist(),
                 "se": float(last.std(ddof=1) / np.sqrt(len(last))) if len(last) > 1 else 0.0,
                 "eval_se": float(np.sqrt(last.mean() * (1 - last.mean()) / problems))}
  if all(r.get("gain") for r in runs):  # paired per problem within each seed
    g = np.array([r["gain"] for r in runs])
    out["gain"] = {"mean": float(g[:, 0].mean()), "per_seed": g[:, 0].tolist(),
                   "se": float(np.sqrt(np.sum(g[:, 1] ** 2)) / len(g))}
  checks: list[dict | None] = []
  for r in runs:
    if len(r["compute"]) < 4:  # three points to fit and one to predict, at least
      checks.append(None)
      continue
    check = scaling.extrapolation_check(r["compute"], r["accuracy"], r["r0"], log_share)
    checks.append({"predicted_last": check["predicted"][-1], "measured_last": check["measured"][-1],
                   "error_last": check["errors"][-1], "rise": check["rise"],
                   "fitted_points": check["fitted_points"],
                   "max_abs_error": float(np.max(np.abs(check["errors"]))),
                   "fit": check["fit"]})
  out["extrapolation"] = checks
  return out


def load_group(workdirs: list[str], key: str, flops: str = "train_flops"
               ) -> tuple[list[dict], int]:
  """(rl_curve per run, held-out problems per point) of a group's workdirs."""
  runs, problems = [], set()
  for workdir in workdirs:
    config = runs_lib.read_run_config(workdir)
    levels = runs_lib.ints(config["eval_difficulties"])
    problems.add(config["eval_problems"] * (1 if "/d" in key else len(levels)))
    try:
      runs.append(rl_curve(read_metrics(os.path.join(workdir, "metrics.jsonl")), key,
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


def fits_table(fits: dict[str, dict], key: str) -> str:
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
  from reasoning import plots  # matplotlib: only where a figure is drawn
  os.makedirs(out, exist_ok=True)
  curves, fits = {}, {}
  for i, (label, workdirs) in enumerate(groups.items()):
    runs, problems = load_group(workdirs, key, flops)
    fits[label] = fit(runs, problems, rng_lib.stream(seed, "fit_bootstrap", i),
                      resamples=resamples)
    fits[label]["problems"] = problems
    fits[label]["workdirs"] = workdirs
    fits[label]["seconds_per_step"] = [seconds_per_step(w) for w in workdirs]
    curves[label] = {"runs": runs, "fit": fits[label]}
  with open(os.path.join(out, "fits.json"), "w") as f:
    json.dump(fits, f, indent=1)
  text = fits_table(fits, key)
  with open(os.path.join(out, "fits.md"), "w") as f:
    f.write(text + "\n")
  plots.rl_compute_curves(curves, os.path.join(out, "rl_compute.png"), title=title,
                          ylabel=f"held-out {key} (%)")
  print(text)
  print(f"wrote {out}/fits.json, fits.md, rl_compute.png")
  return fits

"""Compute-optimal test-time scaling (Snell et al. 2024): per difficulty bin and FLOPs budget,
use the search setting that did best on a validation split within the budget; score it on the
test split. Pure functions of per-problem results, so the selection is testable by hand.

A record is {"method", "family", "budget", "correct": [P], "flops": [P]} for one setting (one
method at one budget knob) over the same P problems.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np


def tabulate(records: Sequence[dict], bins: dict[str, np.ndarray], split: np.ndarray):
  """(curves, frontier).

  curves[bin][family] = sorted list of (test FLOPs, test accuracy, val FLOPs, val accuracy,
  method) per setting (FLOPs are means per problem). frontier[bin] = list of (budget, test FLOPs,
  test accuracy, method) where, at each budget (every setting's validation FLOPs), the setting
  with the best validation accuracy within the budget is chosen. For the bin 'all', each
  difficulty bin (every bin but 'all') chooses for itself, and FLOPs and accuracy are averaged
  over problems: the compute-optimal strategy that knows each question's difficulty bin.
  """
  curves: dict = {}
  table: dict = {}
  for r in records:
    c, f = np.asarray(r["correct"], float), np.asarray(r["flops"], float)
    for name, rows in bins.items():
      val, test = rows & (split == 0), rows & (split == 1)
      if not val.any() or not test.any():
        continue
      point = (f[test].mean(), c[test].mean(), f[val].mean(), c[val].mean(), r["method"])
      curves.setdefault(name, {}).setdefault(r["family"], []).append(point)
      table.setdefault(name, []).append(point)
  for name in curves:
    for family in curves[name]:
      curves[name][family].sort()
  frontier = {name: _frontier(points) for name, points in table.items()}
  parts = [name for name in table if name != "all"]
  if parts:
    budgets = sorted({p[2] for name in parts for p in table[name]})
    weights = {name: float((bins[name] & (split == 1)).sum()) for name in parts}
    total = sum(weights.values())
    combined = []
    for budget in budgets:
      picks = {name: _pick(table[name], budget) for name in parts}
      if any(p is None for p in picks.values()):
        continue
      flops = sum(weights[n] * picks[n][0] for n in parts) / total
      acc = sum(weights[n] * picks[n][1] for n in parts) / total
      combined.append((budget, flops, acc, "+".join(picks[n][4] for n in parts)))
    frontier["all"] = combined
  return curves, frontier


def _pick(points, budget):
  """The setting with the best validation accuracy among those within `budget` val FLOPs (ties:
  the cheaper), or None."""
  within = [p for p in points if p[2] <= budget * (1 + 1e-9)]
  if not within:
    return None
  return max(within, key=lambda p: (p[3], -p[2]))


def _frontier(points):
  out = []
  for budget in sorted({p[2] for p in points}):
    p = _pick(points, budget)
    out.append((budget, p[0], p[1], p[4]))
  return out


def interpolate(points: Sequence[tuple[float, float]], flops: float) -> float:
  """Accuracy of a (FLOPs, accuracy) curve at `flops`, linear in log FLOPs; nan outside it."""
  pts = sorted(points)
  x = np.log10([p[0] for p in pts])
  if not x[0] <= np.log10(flops) <= x[-1]:
    return float("nan")
  return float(np.interp(np.log10(flops), x, [p[1] for p in pts]))


def frontier_summary(curves, frontier, reference: str = "best-of-N PRM weighted") -> dict:
  """Per bin: the reference family's top test accuracy and its FLOPs, the least FLOPs at which
  the compute-optimal frontier reaches it (and the ratio), and each other family's best margin
  over the reference at equal FLOPs (interpolated on the reference curve)."""
  out = {}
  for name, families in curves.items():
    if reference not in families:
      continue
    ref = families[reference]
    top_flops, top_acc = max(((p[0], p[1]) for p in ref), key=lambda x: (x[1], -x[0]))
    reach = [p[1] for p in frontier.get(name, []) if p[2] >= top_acc - 1e-12]
    entry = {"reference": reference, "reference_top_accuracy": top_acc,
             "reference_top_flops": top_flops,
             "frontier_flops_to_reach_it": min(reach) if reach else None}
    entry["savings"] = (top_flops / entry["frontier_flops_to_reach_it"]
                        if entry["frontier_flops_to_reach_it"] else None)
    margins = {}
    ref_curve = [(p[0], p[1]) for p in ref]
    for family, points in families.items():
      if family == reference or family.startswith("best-of-N"):
        continue
      diffs = [(p[1] - interpolate(ref_curve, p[0]), p[4]) for p in points]
      diffs = [d for d in diffs if not np.isnan(d[0])]
      if diffs:
        best = max(diffs)
        margins[family] = {"margin": best[0], "setting": best[1]}
    entry["margin_at_equal_flops"] = margins
    out[name] = entry
  return out


def versus_best_of_n(records: Sequence[dict], bins: dict[str, np.ndarray],
                     reference: str = "best-of-N PRM weighted", z: float = 2.0) -> dict:
  """Per bin, does any tree search beat best-of-N at equal FLOPs? A paired, per-problem answer:
  each search setting's per-problem correctness minus best-of-N's at the same mean FLOPs (the two
  best-of-N settings around it, weighted linearly in log FLOPs), averaged over the bin's problems
  with its standard error. Settings outside best-of-N's FLOPs range are not compared.

  {bin: {"settings": {method: {"margin", "se", "flops"}}, "best": method or None, "answer"}},
  the answer 'yes' when some setting's margin exceeds z standard errors, 'no' when every
  compared setting's margin is below zero by more than z of its standard errors ('best-of-N
  wins'), else 'no significant difference'."""
  ref = sorted((r for r in records if r["family"] == reference),
               key=lambda r: np.mean(r["flops"]))
  out = {}
  for name, rows in bins.items():
    if not rows.any() or len(ref) < 2:
      continue
    ref_flops = np.log10([np.mean(np.asarray(r["flops"])[rows]) for r in ref])
    ref_correct = [np.asarray(r["correct"], float)[rows] for r in ref]
    settings = {}
    for r in records:
      if r["family"].startswith("best-of-N") or r["family"] == reference:
        continue
      flops = float(np.mean(np.asarray(r["flops"])[rows]))
      x = np.log10(flops)
      if not ref_flops[0] <= x <= ref_flops[-1]:
        continue
      hi = int(np.clip(np.searchsorted(ref_flops, x), 1, len(ref) - 1))
      w = (x - ref_flops[hi - 1]) / max(ref_flops[hi] - ref_flops[hi - 1], 1e-12)
      matched = (1 - w) * ref_correct[hi - 1] + w * ref_correct[hi]
      d = np.asarray(r["correct"], float)[rows] - matched
      se = float(d.std(ddof=1) / np.sqrt(len(d))) if len(d) > 1 else float("inf")
      settings[r["method"]] = {"margin": float(d.mean()), "se": se, "flops": flops,
                               "family": r["family"]}
    if not settings:
      continue
    best = max(settings, key=lambda m: settings[m]["margin"] - z * settings[m]["se"])
    if settings[best]["margin"] > z * settings[best]["se"]:
      answer = "yes"
    elif all(s["margin"] < -z * s["se"] for s in settings.values()):
      answer = "no: best-of-N wins"
    else:
      answer = "no significant difference"
    out[name] = {"settings": settings, "best": best, "answer": answer,
                 "problems": int(rows.sum())}
  return out

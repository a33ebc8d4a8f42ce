"""Scaling-law fits: pure functions from (compute, accuracy, counts) to fitted parameters.

- `pass_at_k`: the unbiased pass@k estimator of Chen et al. 2021 from n samples with c correct.
- `log_linear_fit`: accuracy = intercept + slope * log10(compute); slope per decade and R^2.
- `sigmoid_fit`: ScaleRL's saturating curve (Khatri et al. 2025),
  R(C) = R0 + (A - R0) / (1 + (C_mid / C)^B), with R0 the accuracy before the compute counted
  (fixed), A the asymptote and B the efficiency; fitted by Levenberg-Marquardt in a
  parametrization that keeps R0 <= A <= 1, 0 < B <= 5 (ScaleRL's fits lie well inside; a
  steeper curve is a step that a few noisy points can fake), C_mid > 0.
- `coverage_fit`: the exponentiated power law of Brown et al. 2024, log(coverage) = a * k^b.
- `bootstrap`: intervals for any fit by a parametric bootstrap: each accuracy measured on n
  problems is redrawn as Binomial(n, accuracy) / n.
- `extrapolation_check`: fit on the points of the first half of the log-compute range, predict
  the rest, and say how much the curve rose in the part predicted (a check on a flat part
  predicts "flat" and says nothing about extrapolation).
- `difficulty_bins`: model-relative difficulty (Snell et al. 2024): quantile bins of the base
  policy's own pass rate (or of a verifier's mean score), hardest first.
- `exchange_table`: a smaller model's best-of-N against a larger model's greedy answer at equal
  total FLOPs (training + inference), with paired differences over problems.
No plotting and no file I/O here; scripts and plots call these.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
from numpy.typing import ArrayLike


def pass_at_k(n: int, c: int, k: int) -> float:
  """P(at least one of k samples drawn without replacement from n, c of them correct, is
  correct) = 1 - C(n-c, k) / C(n, k), in a numerically stable product form."""
  if not 0 <= c <= n or not 1 <= k <= n:
    raise ValueError(f"pass_at_k: need 0 <= c <= n and 1 <= k <= n, got n={n}, c={c}, k={k}")
  if n - c < k:
    return 1.0
  return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def pass_at_k_rows(counts: np.ndarray, n: int, ks: list[int]) -> np.ndarray:
  """[P, len(ks)] unbiased pass@k of each problem from its count of correct samples of n."""
  return np.array([[pass_at_k(n, int(c), k) for k in ks] for c in counts])


def compare_coverage(before: np.ndarray, after: np.ndarray, rng: np.random.Generator,
                     resamples: int = 500, level: float = 0.9) -> dict:
  """Paired comparison of per-problem pass@k rows [P, K] (the same problems): mean pass@k of
  each, the difference after - before with its bootstrap interval over problems, and the
  crossover: the first k index where the difference is below 0, with its interval (the
  quantiles of the first crossing over resamples; K means "no crossing")."""
  diff = after - before
  p = len(diff)
  draws = rng.integers(0, p, (resamples, p))
  boot = diff[draws].mean(1)                                     # [R, K]
  tail = (1 - level) / 2

  def crossing(d):
    below = np.flatnonzero(d < 0)
    return int(below[0]) if len(below) else d.shape[-1]

  crossings = np.array([crossing(b) for b in boot])
  return {"before": before.mean(0).tolist(), "after": after.mean(0).tolist(),
          "difference": diff.mean(0).tolist(),
          "difference_low": np.quantile(boot, tail, 0).tolist(),
          "difference_high": np.quantile(boot, 1 - tail, 0).tolist(),
          "crossover": crossing(diff.mean(0)),
          "crossover_interval": [int(np.quantile(crossings, tail)),
                                 int(np.quantile(crossings, 1 - tail))]}


def log_linear_fit(compute: ArrayLike, accuracy: ArrayLike) -> dict[str, float]:
  """Least squares of accuracy on log10(compute): {slope_per_decade, intercept, r2}."""
  x, y = np.log10(np.asarray(compute, float)), np.asarray(accuracy, float)
  if len(x) < 2 or np.ptp(x) == 0:
    raise ValueError("log_linear_fit: needs two or more distinct compute values")
  slope, intercept = np.polyfit(x, y, 1)
  residual = y - (intercept + slope * x)
  total = np.sum((y - y.mean()) ** 2)
  r2 = 1.0 - np.sum(residual ** 2) / total if total > 0 else 1.0
  return {"slope_per_decade": float(slope), "intercept": float(intercept), "r2": float(r2)}


def sigmoid(compute, r0: float, a: float, b: float, c_mid: float):
  """ScaleRL's R(C) = R0 + (A - R0) / (1 + (C_mid / C)^B)."""
  compute = np.asarray(compute, float)
  return r0 + (a - r0) / (1.0 + (c_mid / compute) ** b)


B_MAX = 5.0  # the sigmoid's efficiency is fitted in (0, B_MAX]: steeper is a step, not a law


def _unpack(theta, r0: float, scale: float) -> tuple[float, float, float]:
  a = r0 + (1.0 - r0) / (1.0 + np.exp(-theta[0]))
  b = B_MAX / (1.0 + np.exp(-theta[1]))
  return a, float(b), float(scale * np.exp(theta[2]))


def sigmoid_fit(compute: ArrayLike, accuracy: ArrayLike, r0: float,
                iterations: int = 200) -> dict[str, float]:
  """Fits A (asymptote), B (efficiency) and C_mid with R0 fixed: {a, b, c_mid, rmse}."""
  c, y = np.asarray(compute, float), np.asarray(accuracy, float)
  if len(c) < 3:
    raise ValueError("sigmoid_fit: needs three or more points")
  scale = float(np.exp(np.mean(np.log(c))))  # C_mid in units of the geometric mean compute
  residuals = lambda t: sigmoid(c, r0, *_unpack(t, r0, scale)) - y
  with np.errstate(over="ignore", invalid="ignore"):  # LM's trial steps may overshoot
    best = _levenberg_marquardt(residuals, iterations)
    a, b, c_mid = _unpack(best[1], r0, scale)
  return {"a": a, "b": b, "c_mid": c_mid, "rmse": float(np.sqrt(best[0] / len(c)))}


# A fit whose mean squared residual falls below this is exact (accuracies are multiples of one
# over the number of problems). A curve flat at R0 = 0 is fitted exactly by A -> 0, which LM
# would otherwise approach for all its iterations, halving a loss already below 1e-100: on the
# 442 RL curves under runs/ (and 4 binomial redraws of each) every fit is unchanged by this stop
# but one whose every point is 1.0, whose B and C_mid no point determines.
EXACT_FIT = 1e-24


def _levenberg_marquardt(residuals, iterations: int):
  """(loss, theta) minimizing sum(residuals(theta)^2) over 3 parameters, from two starts.
  Against scipy.optimize.least_squares (trf with the bounds explicit, or MINPACK's lm in this
  parametrization) on 225 fits (45 RL curves of this repository, each also with 4 noisy copies):
  the same fit in 95% of them, a lower loss as often as a higher one (trf 8 lower, 4 higher;
  MINPACK 6 and 5: the rest are flat curves where A and B are not determined), and 1.5-3x
  slower per fit, which the bootstrap's 200 refits multiply."""
  best = None
  for a0 in (0.0, 2.0):  # two starts: a low and a high asymptote
    theta, lam = np.array([a0, -1.5, 0.0]), 1e-2  # B starts near 1
    moved = True
    for _ in range(iterations):
      if moved:  # a rejected step leaves theta, and so its residuals and Jacobian, as they were
        r = residuals(theta)
        jac = np.stack([(residuals(theta + e) - r) / 1e-6 for e in np.eye(3) * 1e-6], axis=1)
      step = np.linalg.solve(jac.T @ jac + lam * np.diag(np.diag(jac.T @ jac) + 1e-9),
                             -jac.T @ r)
      trial = np.sum(residuals(theta + step) ** 2)
      moved = bool(trial < np.sum(r ** 2))
      if moved:
        theta, lam = theta + step, lam * 0.3
      else:
        lam *= 10.0
      if np.linalg.norm(step) < 1e-10 or (moved and trial < EXACT_FIT * len(r)):
        break
    loss = float(np.sum(residuals(theta) ** 2))
    if best is None or loss < best[0]:
      best = (loss, theta)
  return best


def coverage_fit(ks: ArrayLike, coverage: ArrayLike,
                 saturated: float = 0.98) -> dict[str, float]:
  """log(coverage) = a * k^b (a < 0, b < 0 as coverage rises to 1), fitted as a line in
  log(-log coverage) against log k over the points with 0 < coverage <= `saturated`: near 1,
  log(-log coverage) runs to -infinity and one problem more or less would set the slope."""
  k, cov = np.asarray(ks, float), np.asarray(coverage, float)
  keep = (cov > 0) & (cov <= saturated)
  if keep.sum() < 2:
    raise ValueError("coverage_fit: needs two or more coverages strictly between 0 and 1")
  line = log_linear_fit(k[keep], np.log(-np.log(cov[keep])))
  b = line["slope_per_decade"] / np.log(10)
  return {"a": float(-np.exp(line["intercept"])), "b": float(b), "r2": line["r2"]}


def coverage_law(ks: ArrayLike, fit: dict) -> np.ndarray:
  """Coverage at `ks` under a coverage_fit: exp(a * k^b)."""
  return np.exp(fit["a"] * np.asarray(ks, float) ** fit["b"])


def _first_share(x: np.ndarray, log_share: float) -> np.ndarray:
  """[N] bool: the points in the first `log_share` of the log range of x (all > 0)."""
  logs = np.log(x)
  return logs <= logs.min() + log_share * np.ptp(logs)


def coverage_extrapolation(ks: ArrayLike, coverage: ArrayLike, log_share: float = 0.5) -> dict:
  """Brown et al.'s law fitted on the ks in the first `log_share` of the log k range (three or
  more) predicts coverage at the larger ones: {fit_up_to, fit, k, predicted, measured, errors
  (predicted - measured)}. A law that only describes the points it was fitted on fails here;
  too few ks, or too few unsaturated ones among them, is a ValueError."""
  k, cov = np.asarray(ks, float), np.asarray(coverage, float)
  early = _first_share(k, log_share)
  if early.sum() < 3 or early.all():
    raise ValueError(f"coverage_extrapolation: {int(early.sum())} of {len(k)} ks fall in the "
                     f"first {log_share:.0%} of the log k range; needs three there and one after")
  fit = coverage_fit(k[early], cov[early])
  predicted = coverage_law(k[~early], fit)
  return {"fit_up_to": int(k[early].max()), "fit": fit, "k": k[~early].astype(int).tolist(),
          "predicted": predicted.tolist(), "measured": cov[~early].tolist(),
          "errors": (predicted - cov[~early]).tolist()}


def bootstrap(fit: Callable[[np.ndarray, np.ndarray], dict], compute, accuracy, counts,
              rng: np.random.Generator, resamples: int = 200, level: float = 0.9) -> dict:
  """{name: (low, high)}: the `level` interval of every fitted parameter when each accuracy is
  redrawn as Binomial(count, accuracy) / count (the evaluation set's noise)."""
  compute, accuracy = np.asarray(compute, float), np.asarray(accuracy, float)
  counts = np.broadcast_to(np.asarray(counts, int), accuracy.shape)
  draws = [fit(compute, rng.binomial(counts, np.clip(accuracy, 0, 1)) / counts)
           for _ in range(resamples)]
  tail = (1.0 - level) / 2
  return {name: (float(np.quantile([d[name] for d in draws], tail)),
                 float(np.quantile([d[name] for d in draws], 1 - tail))) for name in draws[0]}


def extrapolation_check(compute, accuracy, r0: float, log_share: float = 0.5) -> dict:
  """Fits the sigmoid on the points in the first `log_share` of the log-compute range (at least
  three) and predicts the rest: {fit, fitted_points, predicted, measured, errors (predicted -
  measured), rise (the measured rise over the predicted part: the last point minus the last
  fitted one)}."""
  compute, accuracy = np.asarray(compute, float), np.asarray(accuracy, float)
  early = _first_share(compute, log_share)
  if early.sum() < 3:
    early = np.arange(len(compute)) < 3
  fit = sigmoid_fit(compute[early], accuracy[early], r0)
  predicted = sigmoid(compute[~early], r0, fit["a"], fit["b"], fit["c_mid"])
  last_fitted = accuracy[early][np.argmax(compute[early])]
  return {"fit": fit, "fitted_points": int(early.sum()), "predicted": predicted.tolist(),
          "measured": accuracy[~early].tolist(), "errors": (predicted - accuracy[~early]).tolist(),
          "rise": float(accuracy[~early][-1] - last_fitted) if (~early).any() else 0.0}


def overoptimization_fit(d: ArrayLike, reward: ArrayLike, form: str = "rl") -> dict:
  """Gao et al. 2022's laws for a reward against the distance d = sqrt(KL) from the initial
  policy: 'rl' R(d) = r0 + d (alpha - beta log d), 'bon' R(d) = r0 + d (alpha - beta d), r0 the
  reward at d = 0 (fitted, so a noisy first point does not anchor the curve). Linear least
  squares in (r0, alpha, beta); returns them, r2, and d_peak, the d in the measured range
  [0, max d] where the fitted R is highest (the form's own maximum where it lies inside, else
  the better end: 0 for a reward that only falls, max d for one still rising), with its gain
  over r0 and `inside` (whether the peak is interior)."""
  d, r = np.asarray(d, np.float64), np.asarray(reward, np.float64)
  if form not in ("rl", "bon"):
    raise ValueError(f"overoptimization form {form!r}: expected 'rl' or 'bon'")
  if len(d) < 4 or (d > 0).sum() < 3:
    raise ValueError(f"an overoptimization fit needs 4 or more points, 3 with d > 0; got "
                     f"{len(d)} ({int((d > 0).sum())} with d > 0)")
  (r0, alpha, beta), *_ = np.linalg.lstsq(
      np.stack([np.ones_like(d), d, -_overoptimization_term(d, form)], 1), r, rcond=None)
  fit = {"form": form, "r0": float(r0), "alpha": float(alpha), "beta": float(beta)}
  total = np.sum((r - r.mean()) ** 2)
  residual = np.sum((r - overoptimization_curve(fit, d)) ** 2)
  r2 = 1.0 - residual / total if total > 0 else float("nan")
  gain = lambda x: float(overoptimization_curve(fit, x) - r0)
  if beta <= 0:  # no maximum in the form (R is convex): the best is at an end
    peak = float("inf")
  else:
    exponent = alpha / beta - 1.0
    peak = ((float(np.exp(exponent)) if exponent < 700 else float("inf")) if form == "rl"
            else float(alpha / (2 * beta)))
  inside = 0 < peak < d.max()
  best = peak if inside else max((0.0, float(d.max())), key=gain)
  return {**fit, "r2": float(r2), "d_peak": float(best), "gain_at_peak": gain(best),
          "inside": bool(inside)}


def overoptimization_interval(d: ArrayLike, share: ArrayLike, rows: int,
                              rng: np.random.Generator, form: str = "rl", resamples: int = 200,
                              level: float = 0.9) -> dict:
  """Parametric-bootstrap `level` intervals of an overoptimization fit to a share (the gold
  reward: the verified share of `rows` samples at each point): every point redrawn as
  Binomial(rows, share) / rows and refitted. Returns {d_peak, gain_at_peak, r2: [lo, hi]} and
  `inside_share`, the share of refits whose peak is interior."""
  d, p = np.asarray(d, np.float64), np.clip(np.asarray(share, np.float64), 0.0, 1.0)
  fits = [overoptimization_fit(d, rng.binomial(rows, p) / rows, form) for _ in range(resamples)]
  tail = (1 - level) / 2
  out: dict[str, Any] = {key: [float(np.quantile([f[key] for f in fits], q)) for q in (tail, 1 - tail)]
                         for key in ("d_peak", "gain_at_peak", "r2")}
  out["inside_share"] = float(np.mean([f["inside"] for f in fits]))
  return out


def _overoptimization_term(d, form: str):
  """The law's second term without -beta: d log d ('rl', 0 at d = 0) or d^2 ('bon')."""
  d = np.asarray(d, np.float64)
  return d * np.log(np.where(d > 0, d, 1.0)) if form == "rl" else d * d


def overoptimization_curve(fit: dict, d):
  """R(d) of an overoptimization_fit result at distances `d`."""
  return fit["r0"] + fit["alpha"] * np.asarray(d, np.float64) - fit["beta"] * (
      _overoptimization_term(d, fit["form"]))


def bon_distance(n) -> np.ndarray:
  """The KL distance of best-of-n from its base policy, d = sqrt(log n - (n - 1) / n) (the
  analytic KL of best-of-n, as Gao et al. 2022 plot it)."""
  n = np.asarray(n, np.float64)
  return np.sqrt(np.log(n) - (n - 1) / n)


def difficulty_bins(scores: ArrayLike, bins: int = 5) -> np.ndarray:
  """[P] bin index 0..bins-1 by quantiles of `scores` (the base policy's pass rate per problem,
  or a verifier's mean score): 0 holds the lowest scores, the hardest problems. Ties share a
  bin, so equal scores never straddle a boundary; a score on an edge goes to the harder bin
  (never-solved problems, however many, are bin 0)."""
  scores = np.asarray(scores, float)
  edges = np.quantile(scores, np.linspace(0, 1, bins + 1)[1:-1])
  return np.searchsorted(edges, scores, side="left").clip(0, bins - 1)


def _total(model: dict, inference_flops: float, queries: float) -> float:
  """Training FLOPs + `queries` answers at `inference_flops` each."""
  return model["train_flops"] + queries * inference_flops


def _difference(per_problem, small_bin: dict, large_bin: dict):
  """(smaller model's accuracy - larger model's greedy accuracy, its standard error): paired over
  problems when both answered the same ones, else the two binomial SEs combined; (None, None)
  when the smaller model has no value."""
  if per_problem is None:
    return None, None
  small, large = np.asarray(per_problem, float), np.asarray(large_bin["greedy"]["correct"], float)
  if small_bin["prompts"] == large_bin["prompts"]:
    diff = small - large
    return float(diff.mean()), float(diff.std(ddof=1) / np.sqrt(len(diff)))
  se = np.sqrt(small.var(ddof=1) / len(small) + large.var(ddof=1) / len(large))
  return float(small.mean() - large.mean()), float(se)


def exchange_table(models: list[dict], ratios: list[float]) -> tuple[list[dict], str]:
  """Snell et al.'s (2024, section 7) exchange of model size for test-time compute, from
  `scripts/exchange.py`'s per-model measurements (`models`: params, train_flops, train_tokens,
  query_tokens and per difficulty bin the greedy answers and best-of-n curves, per problem).
  The inference volume Q = R x training tokens / tokens per greedy query of the largest model.
  Per ratio and difficulty and for each pair of a smaller and a larger model: the smaller
  model's best-of-N accuracy at the total FLOPs of the larger model's greedy answer
  (interpolated in log FLOPs; its largest N's accuracy as a lower bound when even that costs
  less; None when one sample costs more) against that greedy accuracy, with the difference and
  its standard error over problems (paired where both models answered the same problems)."""
  ref = max(models, key=lambda m: m["params"])  # Q from the largest model's tokens and queries
  queries = {r: r * ref["train_tokens"] / ref["query_tokens"] for r in ratios}
  rows = []
  pairs = [(m, big) for big in models for m in models if m["params"] < big["params"]]
  for r in ratios:
    for name in ref["bins"]:
      for m, big in pairs:
        entry = big["bins"][name]
        target = _total(big, entry["greedy"]["flops"], queries[r])
        curve = sorted(m["bins"][name]["best_of_n"], key=lambda p: p["flops"])
        x = np.log10([_total(m, p["flops"], queries[r]) for p in curve])
        # per problem, the same interpolation as the mean's (x is shared by all problems)
        curves = np.array([p["per_problem"] for p in curve])
        if np.log10(target) > x[-1]:  # even its largest N costs less: a lower bound
          acc, bound, per_problem = curve[-1]["accuracy"], "at least", curves[-1]
        elif np.log10(target) < x[0]:  # one sample already costs more
          acc, bound, per_problem = None, "N=1 costs more", None
        else:
          acc = float(np.interp(np.log10(target), x, [p["accuracy"] for p in curve]))
          bound = ""
          per_problem = np.array([np.interp(np.log10(target), x, c) for c in curves.T])
        diff, se = _difference(per_problem, m["bins"][name], entry)
        n_used = max((p["n"] for p in m["bins"][name]["best_of_n"]
                      if _total(m, p["flops"], queries[r]) <= target), default=None)
        rows.append({"ratio": r, "bin": name, "small_params": m["params"],
                     "large_params": big["params"], "large_greedy": entry["greedy"]["accuracy"],
                     "small_at_equal_flops": acc, "small_n_within_budget": n_used,
                     "bound": bound, "difference": diff, "difference_se": se,
                     "problems": entry["problems"],
                     "small_greedy": m["bins"][name]["greedy"]["accuracy"]})
  lines = ["| R (inference / training tokens) | difficulty | smaller model | its greedy | "
           "its best-of-N (exact checker) at the larger model's total FLOPs (largest N within) | "
           "larger model greedy | difference (SE, problems) |", "|---" * 7 + "|"]
  for row in rows:
    if row["small_at_equal_flops"] is None:
      small = row["bound"]
    else:
      small = (f"{row['bound'] + ' ' if row['bound'] else ''}"
               f"{100 * row['small_at_equal_flops']:.1f}% (N≤{row['small_n_within_budget']})")
    lines.append(f"| {row['ratio']:g} | {row['bin']} | {row['small_params'] / 1e6:.2f}M | "
                 f"{100 * row['small_greedy']:.1f}% | {small} | "
                 f"{100 * row['large_greedy']:.1f}% ({row['large_params'] / 1e6:.2f}M) | "
                 + ("" if row["difference"] is None else
                    f"{100 * row['difference']:+.1f} ± {100 * row['difference_se']:.1f} "
                    f"(n = {row['problems']})") + " |")
  return rows, "\n".join(lines)

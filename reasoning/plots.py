"""Plots from metrics.jsonl records (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib import ticker  # noqa: E402

from reasoning import mesh  # noqa: E402


def _sci(x: float, _=None) -> str:
  if x <= 0:
    return ""
  e = int(np.floor(np.log10(x)))
  m = x / 10**e
  return f"$10^{{{e}}}$" if abs(m - 1) < 1e-9 else f"${m:.2g}\\times10^{{{e}}}$"


def _save(fig, title: str, path: str) -> None:
  """Title, layout and PNG. A base-10 log x-axis spanning under a decade gets four plain ticks,
  one under two decades ticks at 1 and 3 of each decade (matplotlib's default labels minor ticks
  there, and they overlap); base-2 axes (N) keep their powers of two."""
  for ax in fig.axes:
    lo, hi = ax.get_xlim()
    if (ax.get_xscale() == "log" and ax.xaxis.get_transform().base == 10 and 0 < lo
        and hi < 100 * lo):
      ax.xaxis.set_major_locator(ticker.MaxNLocator(4) if hi < 10 * lo else
                                 ticker.LogLocator(base=10, subs=(1.0, 3.0)))
      ax.xaxis.set_major_formatter(ticker.FuncFormatter(_sci))
      ax.xaxis.set_minor_formatter(ticker.NullFormatter())
  fig.suptitle(title)
  fig.tight_layout()
  if mesh.is_first_process():  # one writer in a multi-process run
    fig.savefig(path, dpi=110)
  plt.close(fig)


def learning_curve(records: list[dict], path: str, *, title: str) -> None:
  """Training loss and held-out greedy accuracy per difficulty against cumulative train FLOPs."""
  train = [r for r in records if "loss" in r]
  evals = [r for r in records if any(k.startswith("greedy/d") for k in r)]
  fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
  ax1.plot([r["train_flops"] for r in train], [r["loss"] for r in train])
  ax1.set(xscale="log", yscale="log", xlabel="train compute (FLOPs)", ylabel="loss (nats/token)",
          title="training loss")
  keys = sorted({k for r in evals for k in r if k.startswith("greedy/d")})
  for key in keys:
    ax2.plot([r["train_flops"] for r in evals], [100 * r[key] for r in evals], marker="o",
             label=f"difficulty {key.split('/d')[1]}")
  ax2.set(xscale="log", xlabel="train compute (FLOPs)", ylabel="held-out greedy pass@1 (%)",
          title="held-out accuracy", ylim=(0, 100))
  if keys:
    ax2.legend()
  _save(fig, title, path)


def log_linear_slope(flops, values) -> float:
  """Least-squares slope of values against log10(flops): points gained per decade of compute."""
  x = np.log10(np.asarray(flops, np.float64))
  if len(x) < 2 or np.ptp(x) == 0:
    return float("nan")
  return float(np.polyfit(x, np.asarray(values, np.float64), 1)[0])


def best_of_n(curves: dict, path: str, *, title: str) -> None:
  """% solved vs N (log2 axis) per difficulty; curves[d][method] = [(N, mean, low, high)]."""
  fig, axes = plt.subplots(1, len(curves), figsize=(5 * len(curves), 4), squeeze=False)
  for ax, (d, methods) in zip(axes[0], sorted(curves.items())):
    for label, points in methods.items():
      n, mean, lo, hi = (np.array(x) for x in zip(*points))
      ax.plot(n, 100 * mean, marker="o", label=label)
      ax.fill_between(n, 100 * lo, 100 * hi, alpha=0.15)
    ax.set(xscale="log", xlabel="N = solutions per problem", ylabel="% solved (best-of-N)",
           title=f"difficulty {d}", ylim=(0, 100))
    ax.set_xscale("log", base=2)
    ax.legend(fontsize=8)
  _save(fig, title, path)


def _bin_title(name: str) -> str:
  """A panel title for a bin name: 'all', 'd2' (the task's difficulty), 'q1' (the policy's own
  pass-rate quantile, q1 hardest), 'p1' (the verifier's predicted one)."""
  if name == "all":
    return "all problems"
  kinds = {"d": "difficulty", "q": "pass-rate bin q", "p": "PRM-score bin p"}
  if name[:1] in kinds and name[1:].isdigit():
    return f"{kinds[name[0]]}{' ' if name[0] == 'd' else ''}{name[1:]}"
  return name


def search_scaling(curves: dict, frontier: dict, path: str, *, title: str,
                   ylabel: str = "% solved (test half)") -> None:
  """Test accuracy (%) against mean test-time FLOPs per problem, one panel per difficulty bin,
  one line per search family; the compute-optimal frontier dashed. curves[bin][family] =
  [(flops, accuracy, ...)], frontier[bin] = [(budget, flops, accuracy, method)]."""
  names = sorted(curves, key=lambda n: (n == "all", n))
  fig, axes = plt.subplots(1, len(names), figsize=(5 * len(names), 4.2), squeeze=False)
  for ax, name in zip(axes[0], names):
    for family, points in sorted(curves[name].items()):
      ax.plot([p[0] for p in points], [100 * p[1] for p in points], marker="o", label=family)
    if frontier.get(name):
      ax.plot([p[1] for p in frontier[name]], [100 * p[2] for p in frontier[name]], "k--",
              drawstyle="steps-post", label="compute-optimal (chosen on validation)")
    ax.set(xscale="log", xlabel="test-time FLOPs per problem", ylabel=ylabel,
           title=_bin_title(name))
    ax.legend(fontsize=7)
  _save(fig, title, path)


def _fitted_lines(curve: dict):
  """(compute grid, sigmoid %, log-linear %) over the span of a fitted RL curve's runs."""
  from reasoning import scaling
  fit = curve["fit"]
  lo = min(r["compute"].min() for r in curve["runs"])
  hi = max(r["compute"].max() for r in curve["runs"])
  x = np.geomspace(lo, hi, 100)
  s, ll = fit["sigmoid"], fit["log_linear"]
  return (x, 100 * scaling.sigmoid(x, fit["r0"], s["a"], s["b"], s["c_mid"]),
          100 * (ll["intercept"] + ll["slope_per_decade"] * np.log10(x)))


def rl_compute_curves(curves: dict[str, dict], path: str, *, title: str, ylabel: str) -> None:
  """Held-out accuracy (%) against RL compute (FLOPs from RL's start), one colour per label:
  each seed's evaluations as points with the binomial standard error of the fit's evaluation
  set (fit["problems"] problems: the bootstrap's), the pooled fits as lines (the ScaleRL
  sigmoid solid, the log-linear law dashed) with the asymptote A and efficiency B in the legend.
  curves[label] = {"runs": [reasoning.curves.rl_curve ...], "fit": reasoning.curves.fit(...)}."""
  fig, ax = plt.subplots(figsize=(7, 4.5))
  for i, (label, curve) in enumerate(curves.items()):
    color = f"C{i}"
    n = curve["fit"].get("problems")
    for run in curve["runs"]:
      p = np.asarray(run["accuracy"], float)
      se = 100 * np.sqrt(p * (1 - p) / n) if n else None
      ax.errorbar(run["compute"], 100 * p, yerr=se, fmt="o", color=color, alpha=0.35, ms=3,
                  lw=0.8)
    s = curve["fit"]["sigmoid"]
    x, sigmoid, log_linear = _fitted_lines(curve)
    ax.plot(x, sigmoid, color=color, label=f"{label}: A={100 * s['a']:.0f}%, B={s['b']:.2f}")
    ax.plot(x, log_linear, "--", color=color, lw=0.8)
  ax.axhline(100 * np.mean([c["fit"]["r0"] for c in curves.values()]), color="gray", lw=0.6,
             ls=":", label="before RL (R0)")
  ax.set(xscale="log", xlabel="RL compute from RL's start (FLOPs)", ylabel=ylabel)
  ax.legend(fontsize=7)
  _save(fig, title, path)


def post_training_scaling(sft_records: list[dict], runs: dict[str, list[dict]], path: str, *,
                          keys: list[str], title: str, problems: int | None = None,
                          sft_keys: list[str] | None = None) -> dict:
  """Train-time scaling of post-training (RL, STaR, expert iteration) on its own axis: the first
  panel is the SFT run's held-out accuracy against SFT compute; then one panel per metric key
  with each run's accuracy against the compute spent *after* the SFT checkpoint (its records'
  train_flops minus the SFT run's last), with binomial standard errors over `problems` held-out
  problems per point and the log-linear slope (points per decade) in the legend. The SFT
  checkpoint's accuracy, at zero post-training compute, is a dotted line. The SFT panel draws
  `sft_keys` (default: `keys`; SFT evaluates sampled pass@1 only at its end). Returns
  {run: {key: slope}}."""
  sft_keys = sft_keys or keys
  sft_evals = [r for r in sft_records if any(k in r for k in sft_keys) and "train_flops" in r]
  offset = sft_records[-1]["train_flops"] if sft_records else 0.0
  # Legends go below the panels (2 lines per run): the figure grows with them.
  fig, axes = plt.subplots(1, len(keys) + 1, squeeze=False,
                           figsize=(4.6 * (len(keys) + 1), 4.2 + 0.26 * 2 * len(runs)))
  ax = axes[0][0]
  for i, key in enumerate(sft_keys):
    points = [(r["train_flops"], 100 * r[key]) for r in sft_evals if key in r]
    if points:
      ax.plot(*zip(*points), marker="o", color=f"C{i}", label=key)
  ax.set(xscale="log", xlabel="SFT compute (FLOPs)", ylabel="held-out pass@1 (%)",
         title="SFT" if sft_evals else "SFT (none: a base model)", ylim=(0, 100))
  if sft_evals:
    ax.legend(fontsize=8)
  slopes: dict = {}
  for ax, key in zip(axes[0][1:], keys):
    for i, (label, records) in enumerate(runs.items()):
      points = np.array([(r["train_flops"] - offset, r[key]) for r in records
                         if key in r and r.get("train_flops", 0) > offset])
      # The run's own evaluation of the SFT checkpoint (its held-out set), else the SFT run's.
      start = [r[key] for r in records if key in r and r.get("train_flops", -1) <= offset]
      start = start or [r[key] for r in sft_records if key in r]
      if start:
        ax.axhline(100 * start[-1], color=f"C{i}", ls=":", lw=1,
                   label=f"{label} at the SFT checkpoint ({100 * start[-1]:.1f}%)")
      if not len(points):
        continue
      x, p = points[:, 0], points[:, 1]
      fitted = len(x) >= 3  # a slope only from three or more points
      slope = log_linear_slope(x, 100 * p) if fitted else float("nan")
      slopes.setdefault(label, {})[key] = slope
      se = 100 * np.sqrt(p * (1 - p) / problems) if problems else None
      ax.errorbar(x, 100 * p, yerr=se, marker="o", ms=3, capsize=2, color=f"C{i}",
                  label=f"{label} ({slope:+.1f} pts/decade)" if fitted else label)
    name = key.split("/")[-1]
    ax.set(xscale="log", xlabel="post-training compute after SFT (FLOPs)",
           ylabel=f"held-out {key.split('/')[0]} pass@1 (%)",
           title=f"difficulty {name[1:]}" if name[1:].isdigit() else f"{name} problems")
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16))
  _save(fig, title, path)
  return slopes


def coverage(results: dict[str, dict], path: str, *, title: str) -> None:
  """Coverage (pass@k, %) against k on a log2 axis with bootstrap bands, one panel for the task's
  difficulties (d*) and one for the model-relative bins (q*), each with its fitted
  exponentiated power law (Brown et al. 2024) dashed."""
  from reasoning import scaling
  groups = [("task difficulty", [n for n in results if n.startswith("d")]),
            ("model-relative bin (q1 hardest)", [n for n in results if n.startswith("q")])]
  groups = [(t, names) for t, names in groups if names]
  fig, axes = plt.subplots(1, len(groups), figsize=(6 * len(groups), 4.2), squeeze=False)
  for ax, (subtitle, names) in zip(axes[0], groups):
    for i, name in enumerate(names):
      r = results[name]
      k = np.array(r["k"], float)
      ax.plot(k, 100 * np.array(r["coverage"]), marker="o", ms=3, color=f"C{i}",
              label=(f"{name} (n={r['problems']})" + (
                  f": a={r['fit']['a']:.2f}, b={r['fit']['b']:.2f}" if r.get("fit") else "")))
      ax.fill_between(k, 100 * np.array(r["low"]), 100 * np.array(r["high"]), color=f"C{i}",
                      alpha=0.15)
      if r.get("fit"):
        kk = np.geomspace(k[0], k[-1], 100)
        ax.plot(kk, 100 * scaling.coverage_law(kk, r["fit"]), "--", color=f"C{i}", lw=0.8)
    ax.set(xscale="log", xlabel="k (samples per problem)", ylabel="coverage, pass@k (%)",
           title=subtitle, ylim=(0, 100))
    ax.set_xscale("log", base=2)
    ax.legend(fontsize=7)
  _save(fig, title, path)


def boundary(result: dict, path: str, *, title: str) -> None:
  """pass@k before and after RL (left) and their paired difference with its bootstrap band
  (right), k on a log2 axis: Yue et al. 2025's test of whether RL widens what a policy can
  solve or only sharpens it. result: scripts/boundary.py's `compare` plus its "k"."""
  k = np.array(result["k"], float)
  fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
  left.plot(k, 100 * np.array(result["before"]), marker="o", ms=3, label="before RL")
  left.plot(k, 100 * np.array(result["after"]), marker="o", ms=3, label="after RL")
  left.set(xscale="log", xlabel="k (samples per problem)", ylabel="pass@k (%)", ylim=(0, 100),
           title=f"pass@k (n={result['problems']})")
  right.plot(k, 100 * np.array(result["difference"]), marker="o", ms=3, color="C2")
  right.fill_between(k, 100 * np.array(result["difference_low"]),
                     100 * np.array(result["difference_high"]), color="C2", alpha=0.2,
                     label="90% bootstrap interval over problems")
  right.axhline(0, color="gray", lw=0.8)
  right.set(xscale="log", xlabel="k (samples per problem)",
            ylabel="after - before (points)", title="paired difference")
  for ax in (left, right):
    ax.set_xscale("log", base=2)
    ax.legend(fontsize=7)
  _save(fig, title, path)


def distillation(result: dict, path: str, *, title: str) -> None:
  """Methods trained from one student (scripts/distillation.py): held-out pass@1 against the
  student's FLOPs with each log-linear fit dashed (left), pass@k of the student before, after each
  method and of the teacher (middle), and each method's paired difference from the student with
  its bootstrap band (right); k on a log2 axis."""
  k = np.array(result["k"], float)
  fig, (left, middle, right) = plt.subplots(1, 3, figsize=(16, 4.4))
  middle.plot(k, 100 * np.array(result["start"]["pass_at_k"]), marker="o", ms=3, color="gray",
              label="student before")
  if "teacher" in result:
    middle.plot(k, 100 * np.array(result["teacher"]["after"]), marker="s", ms=3, color="k",
                ls=":", label="teacher")
  for i, (label, m) in enumerate(result["methods"].items()):
    color = f"C{i}"
    curve, fit = m["curve"], m["fit"]
    x = np.asarray(curve["compute"], float)
    p = np.asarray(curve["accuracy"], float)
    n = m["fit"].get("problems") or result["problems"]
    left.errorbar(x, 100 * p, yerr=100 * np.sqrt(p * (1 - p) / n), fmt="o", ms=3, lw=0.8,
                  color=color, label=label)
    ll = fit["log_linear"]
    grid = np.geomspace(x[x > 0].min(), x.max(), 50)
    left.plot(grid, 100 * (ll["intercept"] + ll["slope_per_decade"] * np.log10(grid)), "--",
              color=color, lw=0.8)
    middle.plot(k, 100 * np.array(m["after"]), marker="o", ms=3, color=color, label=label)
    right.plot(k, 100 * np.array(m["difference"]), marker="o", ms=3, color=color, label=label)
    right.fill_between(k, 100 * np.array(m["difference_low"]),
                       100 * np.array(m["difference_high"]), color=color, alpha=0.15)
  r0 = next(iter(result["methods"].values()))["curve"]["r0"]
  left.axhline(100 * r0, color="gray", lw=0.6, ls=":", label="student before")
  left.set(xscale="log", xlabel="student FLOPs from the start (its sampling and training)",
           ylabel=f"held-out {result['metric']} (%)", title="pass@1 against student compute")
  middle.set(xlabel="k (samples per problem)", ylabel="pass@k (%)", ylim=(0, 100),
             title=f"pass@k (n={result['problems']})")
  right.axhline(0, color="gray", lw=0.8)
  right.set(xlabel="k (samples per problem)", ylabel="method - student before (points)",
            title="paired difference, 90% bootstrap band")
  for ax in (middle, right):
    ax.set_xscale("log", base=2)
  for ax in (left, middle, right):
    ax.legend(fontsize=7)
  _save(fig, title, path)


def tool_use(results: dict[str, dict], path: str, *, title: str,
             curves: dict[str, dict] | None = None) -> None:
  """Held-out greedy accuracy per difficulty, with the tool (solid) and with every call refused
  (hatched), one colour per run, binomial SE bars (scripts/tool_use.py); with `curves`
  ({label: {step, tool_calls, pass_rate}} of RL runs), a second panel of the rollouts' tool calls
  per answer and verified share against the RL step."""
  keys = [k for k in next(iter(results.values())) if k != "tool_calls"]
  fig, axes = plt.subplots(1, 2 if curves else 1, figsize=(13 if curves else 7, 4.2),
                           squeeze=False)
  ax = axes[0, 0]
  width = 0.8 / (2 * len(results))
  x = np.arange(len(keys))
  for i, (run, result) in enumerate(results.items()):
    for j, (arm, hatch) in enumerate((("with", None), ("without", "//"))):
      offset = (2 * i + j - len(results) + 0.5) * width
      ax.bar(x + offset, [100 * result[k][arm] for k in keys], width,
             yerr=[100 * result[k][f"{arm}_se"] for k in keys], color=f"C{i}", hatch=hatch,
             alpha=0.85 if j == 0 else 0.45,
             label=f"{run}, {'with the tool' if j == 0 else 'calls refused'} "
                   f"({result['tool_calls'][arm]:.2f} calls/answer)")
  ax.set_xticks(x, [f"{k} (n={next(iter(results.values()))[k]['n']})" for k in keys])
  ax.set(ylabel="held-out greedy accuracy (%)", ylim=(0, 105), title="held-out, greedy")
  ax.legend(fontsize=7)
  for i, (label, c) in enumerate((curves or {}).items()):
    ax = axes[0, 1]
    ax.plot(c["step"], c["tool_calls"], color=f"C{i + 2}", label=f"{label}: tool calls per answer")
    ax.plot(c["step"], c["pass_rate"], "--", color=f"C{i + 2}",
            label=f"{label}: share verified right")
    ax.set(xlabel="RL step", ylim=(0, 1.05), title="RL rollouts (training prompts)")
    ax.legend(fontsize=7)
  _save(fig, title, path)


def overoptimization(runs: dict[str, dict], path: str, *, title: str) -> None:
  """Per RL run against a learned reward, the proxy reward it optimized and the gold reward
  (the exact verifier's pass rate on the same samples) against d = sqrt(KL from the start),
  each with Gao et al.'s fit (R(d) = r0 + d (alpha - beta log d) for RL, r0 + d (alpha - beta d)
  for best-of-n: the fit's form). runs: scripts/
  overoptimization.py's curves with their fits."""
  from reasoning import scaling
  cols = min(len(runs), 4)
  rows = -(-len(runs) // cols)
  fig, axes = plt.subplots(rows, cols, figsize=(5.5 * cols, 4.2 * rows), squeeze=False)
  for ax in axes.flat[len(runs):]:
    ax.set_visible(False)
  for ax, (label, c) in zip(axes.flat, runs.items()):
    d = np.array(c["d"])
    xx = np.linspace(0, max(d.max(), 1e-6), 100)
    right = ax.twinx()
    for key, axis, color, name in (("gold", ax, "C0", "gold: verified share (%)"),
                                   ("proxy", right, "C1", "proxy: reward optimized")):
      f = c[f"fit_{key}"]
      scale = 100 if key == "gold" else 1
      y = np.array(c[key]) * scale
      if f is None:  # too few points away from the start to fit
        axis.plot(d, y, "o", ms=3, color=color, alpha=0.5, label=f"{name}: not fitted")
      else:
        axis.plot(d, y, "o", ms=3, color=color, alpha=0.5)
        peak = (f"peak d = {f['d_peak']:.2f}" if f["inside"] else
                f"highest at d = {f['d_peak']:.2f}, the range's end")
        axis.plot(xx, scale * scaling.overoptimization_curve(f, xx), color=color,
                  label=f"{name}: {peak} (R² {f['r2']:.2f})")
      axis.set_ylabel(name, color=color)
    ax.set(xlabel="d = sqrt(KL from the initial policy), nats^1/2",
           title=f"{label} ({c['rows']} "
                 f"{'problems' if c.get('form') == 'bon' else 'samples'} per point)")
    lines = ax.get_legend_handles_labels()
    more = right.get_legend_handles_labels()
    ax.legend(lines[0] + more[0], lines[1] + more[1], fontsize=7, loc="lower left")
  _save(fig, title, path)


def revision_attempts(attempts: dict[str, dict], path: str, *, title: str) -> None:
  """Sequential revisions, attempt by attempt (Snell et al. 2024, Figure 6 left): the share of
  attempts t that are right, and of chains right by attempt t, against t, per bin, with +-1
  standard error bands. attempts[bin] = search.revision.attempt_accuracy's dict."""
  fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
  for i, (name, a) in enumerate(sorted(attempts.items(), key=lambda x: (x[0] == "all", x[0]))):
    t = np.arange(1, len(a["accuracy"]) + 1)
    for ax, key in zip(axes, ("accuracy", "any")):
      y, se = 100 * np.asarray(a[key]), 100 * np.asarray(a[key + "_se"])
      ax.plot(t, y, marker="o", ms=3, color=f"C{i}", label=_bin_title(name))
      ax.fill_between(t, y - se, y + se, color=f"C{i}", alpha=0.15)
  axes[0].set(xlabel="attempt t", ylabel="attempt t right (%)", title="accuracy at attempt t")
  axes[1].set(xlabel="attempt t", ylabel="chains right by attempt t (%)",
              title="right at any attempt up to t")
  for ax in axes:
    ax.legend(fontsize=7)
  _save(fig, title, path)


def quiet_star(summary: dict, path: str, *, title: str) -> None:
  """Quiet-STaR against no thoughts: held-out exact match (%) and answer log-likelihood against
  train FLOPs, the plain arm's curve with each thought length's point (labelled m) and its paired
  gain over the plain arm at no fewer FLOPs."""
  fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
  plain = summary["plain"]
  base = summary["base"]
  for ax, key, label in ((axes[0], "exact", "exact match (%)"),
                         (axes[1], "logp", "answer log-likelihood (nats)")):
    scale = 100 if key == "exact" else 1
    xs = [base["flops"]] + [p["flops"] for p in plain]
    ax.plot(xs, [scale * base[key]] + [scale * p[key] for p in plain], "k-o", ms=3,
            label="no thoughts (direct answers)")
    for i, row in enumerate(summary["arms"]):
      text = f"Quiet-STaR m={row['thought_len']}"
      if key == "exact":
        text += f" ({100 * row['gain']:+.1f} ± {100 * row['gain_se']:.1f} pts)"
      ax.plot([row["flops"]], [scale * row[key]], "o", color=f"C{i}", label=text)
    ax.set(xscale="log", xlabel="train FLOPs (base model included)", ylabel=label)
    ax.legend(fontsize=7)
  _save(fig, title, path)


def exchange(models: list[dict], ratios: list[float], path: str, *, title: str) -> None:
  """One row per ratio R of inference to training tokens, one column per difficulty: each
  model's accuracy against total FLOPs (its training + R-scaled inference), greedy as a star and
  best of N = 1, 2, 4, ... samples by the exact checker as a line (scripts/exchange.py)."""
  big = max(models, key=lambda m: m["params"])
  names = list(big["bins"])
  fig, axes = plt.subplots(len(ratios), len(names), figsize=(5 * len(names), 3.6 * len(ratios)),
                           squeeze=False)
  for i, r in enumerate(ratios):
    queries = r * big["train_tokens"] / big["query_tokens"]
    for j, name in enumerate(names):
      ax = axes[i][j]
      for c, m in enumerate(sorted(models, key=lambda m: m["params"])):
        entry = m["bins"][name]
        pts = [(m["train_flops"] + queries * p["flops"], 100 * p["accuracy"])
               for p in entry["best_of_n"]]
        ax.plot(*zip(*pts), marker="o", ms=3, color=f"C{c}",
                label=f"{m['params'] / 1e6:.2f}M, best of N")
        ax.plot(m["train_flops"] + queries * entry["greedy"]["flops"],
                100 * entry["greedy"]["accuracy"], "*", ms=11, color=f"C{c}",
                label=f"{m['params'] / 1e6:.2f}M, greedy")
      ax.set(xscale="log", xlabel="total FLOPs (training + inference)",
             ylabel="held-out accuracy (%)", title=f"{name}, R = {r:g}")
      if i == 0 and j == 0:
        ax.legend(fontsize=7)
  _save(fig, title, path)


def o1_pair(rl: dict, search: dict, path: str, *, title: str, rl_label: str,
            search_label: str) -> None:
  """The two plots of OpenAI's o1 announcement, measured: held-out pass@1 against train-time
  (RL) compute and against test-time compute, both on log axes with their fits in the legend.
  rl = {"runs": [curves.rl_curve ...], "fit": curves.fit(...)}; search = {family: [(FLOPs,
  accuracy)], "_fits": {family: scaling.log_linear_fit}}."""
  fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.4))
  for run in rl["runs"]:
    left.plot(run["compute"], 100 * run["accuracy"], "o", color="C0", alpha=0.4, ms=3)
  fit = rl["fit"]
  x, sigmoid, log_linear = _fitted_lines(rl)
  s, ll = fit["sigmoid"], fit["log_linear"]
  a_lo, a_hi = fit["sigmoid_interval"]["a"]
  left.plot(x, sigmoid, color="C0",
            label=f"sigmoid: A = {100 * s['a']:.1f}% [{100 * a_lo:.1f}, {100 * a_hi:.1f}], "
                  f"B = {s['b']:.2f}")
  left.plot(x, log_linear, "--", color="C1",
            label=f"log-linear: {100 * ll['slope_per_decade']:+.1f} pts/decade "
                  f"(R² {ll['r2']:.2f})")
  left.axhline(100 * fit["r0"], color="gray", ls=":", lw=1, label=f"before RL ({100 * fit['r0']:.1f}%)")
  left.set(xscale="log", xlabel="train-time compute: RL FLOPs from RL's start",
           ylabel=f"pass@1 ({rl_label})",
           title=f"train-time compute ({len(rl['runs'])} seed{'s' if len(rl['runs']) > 1 else ''})")
  low, high = left.get_ylim()
  if high - low < 20:  # at least 20 points tall: a 3-point gain does not fill the panel
    middle = (high + low) / 2
    left.set_ylim(middle - 10, middle + 10)
  left.legend(fontsize=7)
  for i, (family, points) in enumerate((k, v) for k, v in search.items() if k != "_fits"):
    xs, ys = zip(*sorted(points))
    f = search["_fits"][family]
    fitted = len(xs) >= 3  # a fit's label only on a fit of three or more points
    right.plot(xs, 100 * np.array(ys), marker="o", ms=3, color=f"C{i}",
               label=(f"{family}: {100 * f['slope_per_decade']:+.1f} pts/decade "
                      f"(R² {f['r2']:.2f})") if fitted else family)
    if fitted:
      xx = np.geomspace(min(xs), max(xs), 50)
      right.plot(xx, 100 * (f["intercept"] + f["slope_per_decade"] * np.log10(xx)), "--",
                 color=f"C{i}", lw=0.8)
  right.set(xscale="log", xlabel="test-time compute: FLOPs per problem",
            ylabel=f"accuracy ({search_label})", title="test-time compute")
  right.legend(fontsize=7)
  _save(fig, title, path)

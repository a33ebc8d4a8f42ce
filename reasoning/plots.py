"""Plots from metrics.jsonl records (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


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
  fig.suptitle(title)
  fig.tight_layout()
  fig.savefig(path, dpi=110)
  plt.close(fig)

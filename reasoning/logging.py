"""Metrics as JSON lines and a concise console progress line. No global state."""

from __future__ import annotations

import json
import math
import os
import sys
import time
from typing import Any

import numpy as np


def _plain(value: Any):
  if isinstance(value, (np.generic, np.ndarray)) or hasattr(value, "item"):
    value = np.asarray(value)
    return value.item() if value.ndim == 0 else value.tolist()
  return value


class MetricsWriter:
  """Appends one JSON object per line to `path`; a resumed run keeps appending to the same file
  after dropping lines from steps beyond the checkpoint it resumed from."""

  def __init__(self, path: str, *, resume_step: int | None = None):
    self.path = path
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    if resume_step is not None and os.path.exists(path):
      with open(path) as f:
        kept = [line for line in f if line.strip() and json.loads(line).get("step", 0) <= resume_step]
      with open(path, "w") as f:
        f.writelines(kept)

  def write(self, step: int, **metrics) -> dict:
    record = {"step": int(step), "time": time.time(), **{k: _plain(v) for k, v in metrics.items()}}
    with open(self.path, "a") as f:
      f.write(json.dumps(record) + "\n")
    return record


def read_metrics(path: str) -> list[dict]:
  with open(path) as f:
    return [json.loads(line) for line in f if line.strip()]


class Progress:
  """`step 120/1000 | 4.1 steps/s | 9.3k tok/s | loss 0.812 | ETA 3m34s` on stderr."""

  def __init__(self, total: int, *, start: int = 0, every: int = 10, stream=sys.stderr):
    self.total, self.every, self.stream = total, every, stream
    self._t0, self._s0, self._tokens = time.perf_counter(), start, 0.0

  def update(self, step: int, tokens: float = 0.0, **metrics) -> None:
    self._tokens += tokens
    if step % self.every and step != self.total:
      return
    dt = max(time.perf_counter() - self._t0, 1e-9)
    rate = (step - self._s0) / dt
    eta = (self.total - step) / rate if rate > 0 else math.inf
    parts = [f"step {step}/{self.total}", f"{rate:.2f} steps/s", f"{self._tokens / dt / 1e3:.1f}k tok/s"]
    parts += [f"{k} {float(v):.4g}" for k, v in metrics.items()]
    parts.append(f"ETA {int(eta // 60)}m{int(eta % 60):02d}s" if math.isfinite(eta) else "ETA ?")
    print(" | ".join(parts), file=self.stream, flush=True)

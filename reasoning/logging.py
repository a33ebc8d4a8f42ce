"""Metrics as JSON lines and TensorBoard scalars, and a concise console progress line."""

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
  """Appends one JSON object per line to `path` and, with `tensorboard`, every numeric metric as
  a TensorBoard scalar to event files beside it (`tensorboard --logdir runs/`).

  A resumed run (`resume_step`) first cuts metrics.jsonl back to the lines of steps up to the
  checkpoint it resumed from, atomically (a new file renamed over the old), and has TensorBoard
  purge the events after that step, so every later step is logged exactly once. A torn last line
  (the process was killed mid-write) is dropped with a warning."""

  def __init__(self, path: str, *, resume_step: int | None = None, tensorboard: bool = True):
    from reasoning import mesh
    self.path = path
    self._tb = None
    self._enabled = mesh.is_first_process()  # one writer in a multi-process run
    if not self._enabled:
      return
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    if resume_step is None:
      repaired_records(path)  # a torn last line must not be appended to
    else:
      repaired_records(path, keep=lambda r: r.get("step", 0) <= resume_step)
    if tensorboard:
      self._tb = _event_writer(os.path.dirname(os.path.abspath(path)),
                               purge_step=None if resume_step is None else resume_step + 1)

  def write(self, step: int, **metrics) -> dict:
    record = {"step": int(step), "time": time.time(), **{k: _plain(v) for k, v in metrics.items()}}
    if not self._enabled:
      return record
    with open(self.path, "a") as f:
      f.write(json.dumps(record) + "\n")
    if self._tb is not None:
      for key, value in record.items():
        if key not in ("step", "time") and isinstance(value, (int, float)) and not isinstance(
            value, bool):
          self._tb.add_scalar(key, value, int(step))
      self._tb.flush()
    return record

  def close(self) -> None:
    if self._tb is not None:
      self._tb.close()
      self._tb = None


def read_metrics(path: str) -> list[dict]:
  """The records of a metrics.jsonl. A last line cut short by a kill is dropped with a warning;
  an unreadable line before it is an error naming the file and line."""
  with open(path) as f:
    lines = [line for line in f if line.strip()]
  out = []
  for i, line in enumerate(lines):
    try:
      out.append(json.loads(line))
    except json.JSONDecodeError as e:
      if i == len(lines) - 1 and not line.endswith("\n"):
        print(f"warning: {path}: dropped a torn last line ({len(line)} characters)",
              file=sys.stderr, flush=True)
        continue
      raise ValueError(f"{path}, line {i + 1}: not a JSON record ({e})") from None
  return out


def repaired_records(path: str, keep=None) -> list[dict]:
  """The records of a JSON-lines file that a run appends to (none if it does not exist), those
  `keep(record)` accepts when given, written back atomically (a new file renamed over the old):
  a torn last line is dropped from the file too, so appending after it cannot corrupt it."""
  if not os.path.exists(path):
    return []
  records = read_metrics(path)
  if keep is not None:
    records = [r for r in records if keep(r)]
  with open(path + ".tmp", "w") as f:
    f.writelines(json.dumps(r) + "\n" for r in records)
  os.replace(path + ".tmp", path)
  return records


def _event_writer(directory: str, purge_step: int | None = None):
  """A TensorBoard event-file writer (tensorboardX: no TensorFlow). Its file name gets a unique
  suffix: a writer opened in the same second as an earlier one would otherwise truncate its
  file (the name holds the time in seconds). tensorboardX imports torch when it is installed (to
  accept its tensors, which we never pass): that import, 1.5 s of every run's start, is refused."""
  refuse_torch = "torch" not in sys.modules
  if refuse_torch:
    sys.modules["torch"] = None  # type: ignore[assignment]  # `import torch` raises ImportError; tensorboardX goes without
  try:
    from tensorboardX import SummaryWriter
  finally:
    if refuse_torch:
      del sys.modules["torch"]
  return SummaryWriter(directory, purge_step=purge_step, flush_secs=10,
                       filename_suffix=f".{time.time_ns()}.{os.getpid()}")


class Progress:
  """`step 120/1000 | 4.1 steps/s | 9.3k tok/s | loss 0.812 | ETA 3m34s` on stderr (below half a
  step per second, `55.2 s/step`); `unit` names what is counted (`batch 12/125 | 30.1 s/batch`).
  Rates count from `start`."""

  def __init__(self, total: int, *, start: int = 0, every: int = 10, stream=None,
               unit: str = "step"):
    self.total, self.every, self.stream, self.unit = total, every, stream, unit
    self._t0, self._s0, self._tokens = time.perf_counter(), start, 0.0

  def update(self, step: int, tokens: float = 0.0, **metrics) -> None:
    self._tokens += tokens
    if step % self.every and step != self.total:
      return
    dt = max(time.perf_counter() - self._t0, 1e-9)
    rate = (step - self._s0) / dt
    eta = (self.total - step) / rate if rate > 0 else math.inf
    plural = self.unit + ("es" if self.unit.endswith("ch") else "s")
    pace = f"{rate:.2f} {plural}/s" if rate >= 0.5 or rate <= 0 else f"{1 / rate:.1f} s/{self.unit}"
    tok = self._tokens / dt
    parts = [f"{self.unit} {step}/{self.total}", pace,
             f"{tok / 1e3:.1f}k tok/s" if tok >= 1e3 else f"{tok:.0f} tok/s"]
    parts += [f"{k} {float(v):.4g}" for k, v in metrics.items()]
    parts.append(f"ETA {int(eta // 60)}m{int(eta % 60):02d}s" if math.isfinite(eta) else "ETA ?")
    print(" | ".join(parts), file=self.stream or sys.stderr, flush=True)


def write_scalar_summary(workdir: str, scalars: dict[str, list[tuple[int, float]]]) -> None:
  """TensorBoard scalars of a sweep whose records are all recomputed at its end (test-time
  search): {tag: [(step, value)]}, replacing the event files of an earlier end of the same run,
  so every point is logged once."""
  for name in os.listdir(workdir):
    if name.startswith("events.out.tfevents."):
      os.remove(os.path.join(workdir, name))
  writer = _event_writer(workdir)
  for tag, points in scalars.items():
    for step, value in sorted(points):
      writer.add_scalar(tag, float(value), int(step))
  writer.close()


class PhaseClock:
  """Wall seconds per phase of a training step, for `time/<phase>` metrics. `mark(name, *outs)`
  waits for `outs` (device arrays, any pytree) and charges the time since the previous mark to
  `name`. Waiting at each boundary stops the phases from overlapping (a pipelined step's
  generation no longer runs beside its verification), so a clock that is on measures where the
  time goes, not the fastest step; off (the default), `mark` does nothing and waits for
  nothing."""

  def __init__(self, on: bool = False):
    self.on = on
    self.seconds: dict[str, float] = {}
    self._last = time.perf_counter()

  def start(self) -> None:
    """Starts a step: clears the phases and restarts the clock."""
    self.seconds = {}
    self._last = time.perf_counter()

  def mark(self, name: str, *outs) -> None:
    if not self.on:
      return
    import jax
    jax.block_until_ready(outs)
    now = time.perf_counter()
    self.seconds[name] = self.seconds.get(name, 0.0) + now - self._last
    self._last = now

  def metrics(self) -> dict[str, float]:
    return {f"time/{name}": seconds for name, seconds in self.seconds.items()}

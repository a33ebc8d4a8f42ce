"""Checkpoints with orbax: save every N steps and at the end, keep K, resume from the latest
good one.

Orbax writes each step to a temporary directory and renames it when complete, so a run killed
mid-save leaves the previous checkpoint intact (half-written folders are cleaned up on the next
start). What a checkpoint holds is a snapshot: the metadata is copied when `save` is called, and
the arrays are immutable. Every saved array's checksum (CRC-32 of its bytes) is stored beside it;
`restore` recomputes them, and a checkpoint that is unreadable, truncated or altered is reported
with its path and set aside (moved to `<directory>-corrupt/`), and the previous one is tried, so
a run never resumes silently from bad data. A checkpoint of other shapes than the model's is a
one-line error naming the array and both shapes.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import shutil
import sys
import tempfile
import time
import zlib
from typing import Any

import jax
import numpy as np
import orbax.checkpoint as ocp

CHECKSUMS = "_checksums"  # the key of the array checksums in a checkpoint's metadata


def checksums(state) -> dict[str, int]:
  """{"path/of/leaf": CRC-32 of its bytes} of a pytree of arrays (fetched to the host)."""
  leaves = jax.tree_util.tree_flatten_with_path(state)[0]
  host = jax.device_get([x for _, x in leaves])
  return {jax.tree_util.keystr(path): zlib.crc32(np.ascontiguousarray(x).tobytes())
          for (path, _), x in zip(leaves, host)}


def _placed(abstract_state):
  """The abstract state with a sharding on every leaf that has none: replicated over every
  device, so a checkpoint restores whatever device topology wrote it (the caller places it)."""
  from jax.sharding import Mesh, NamedSharding, PartitionSpec, SingleDeviceSharding
  if jax.process_count() == 1:
    replicated = SingleDeviceSharding(jax.local_devices()[0])
  else:
    replicated = NamedSharding(Mesh(np.array(jax.devices()), ("all",)), PartitionSpec())
  return jax.tree.map(lambda x: x if getattr(x, "sharding", None) is not None else
                      jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=replicated), abstract_state)


def _names(path) -> tuple[str, ...]:
  """A pytree path as plain names: the same for a dataclass and the dict orbax stores it as."""
  return tuple(str(getattr(k, "key", getattr(k, "name", getattr(k, "idx", k)))) for k in path)


@contextlib.contextmanager
def _without_event_loop_noise(linger: float = 0.0, drop_all: bool = False):
  """Standard error (file descriptor 2) while orbax restores, less the tracebacks of
  `RuntimeError: Event loop is closed` that its reader threads print (hundreds of lines, often
  interleaved) when a restore fails: when that noise is there, every traceback line goes. When the
  read fails (or `drop_all`, closing after a failed read) nothing written is kept, asyncio's
  `Task exception was never retrieved` included: the failure itself is reported once, as
  CorruptCheckpoint."""
  sys.stderr.flush()
  saved = os.dup(2)
  failed = False
  with tempfile.TemporaryFile(mode="w+b") as captured:
    os.dup2(captured.fileno(), 2)
    try:
      yield
    except BaseException:
      failed = True
      time.sleep(1.0)  # the reader threads print as they wind down after the failure
      gc.collect()  # failed reader tasks log "Task exception was never retrieved" when collected
      raise
    finally:
      time.sleep(linger)
      sys.stderr.flush()
      os.dup2(saved, 2)
      os.close(saved)
      captured.seek(0)
      text = captured.read().decode(errors="replace")
      noise = "RuntimeError: Event loop is closed"
      marks = ("Traceback (most recent call last)", "_check_closed", "Event loop is closed",
               "base_events.py")
      if failed or drop_all:  # everything written is orbax's account of the one failure
        kept = []
      elif noise in text:
        kept = [line for line in text.splitlines(keepends=True)
                if line.strip() and not line.startswith(" ")
                and not any(m in line for m in marks)]
      else:
        kept = [text]
      if kept:
        sys.stderr.write("".join(kept))
        sys.stderr.flush()


class Checkpointer:
  """Saves {"state": pytree, "meta": json dict} per step under `directory`."""

  def __init__(self, directory: str, *, save_every: int, keep: int = 2):
    if save_every <= 0 or keep <= 0:
      raise ValueError(f"checkpoint: save_every and keep must be positive, got {save_every}, {keep}")
    self.directory = os.path.abspath(directory)
    self._failed_restore = False  # a failed read leaves orbax's reader threads to wind down
    self._manager = ocp.CheckpointManager(
        self.directory,
        options=ocp.CheckpointManagerOptions(save_interval_steps=save_every, max_to_keep=keep,
                                             create=True, cleanup_tmp_directories=True),
        item_handlers={"state": ocp.StandardCheckpointHandler(),
                       "meta": ocp.JsonCheckpointHandler()})

  def latest_step(self) -> int | None:
    return self._manager.latest_step()

  def should_save(self, step: int) -> bool:
    return self._manager.should_save(step)

  def save(self, step: int, state, meta: dict[str, Any], *, force: bool = False) -> bool:
    """Saves if `step` is on the save interval (or `force`). Returns whether it saved.

    A snapshot: orbax writes in a background thread after this returns, so `meta` is copied
    here (with the arrays' checksums) and the caller may change its dict at once."""
    if not (force or self._manager.should_save(step)):
      return False
    meta = json.loads(json.dumps(meta))
    if jax.process_count() == 1:  # across processes, orbax's commit protocol stands alone
      meta[CHECKSUMS] = checksums(state)
    return self._manager.save(
        step, args=ocp.args.Composite(state=ocp.args.StandardSave(state),
                                      meta=ocp.args.JsonSave(meta)), force=True)

  def restore(self, abstract_state, step: int | None = None, *, fall_back: bool = True):
    """(state, meta) of `step`, or by default of the latest good checkpoint (restore_latest).
    abstract_state: jax.eval_shape of a state. fall_back=False (a run reading another run's
    checkpoint): the latest checkpoint or an error naming it; nothing is moved or skipped."""
    if step is not None:
      return self._restore(abstract_state, step)
    if not fall_back:
      latest = self.latest_step()
      if latest is None:
        raise ValueError(f"no checkpoint in {self.directory}")
      return self._restore(abstract_state, latest)
    return self.restore_latest(abstract_state)[:2]

  def restore_latest(self, abstract_state):
    """(state, meta, step) of the latest good checkpoint. One that cannot be restored while an
    older one can is reported and set aside (it is corrupt: the same code restored the other);
    if none can, nothing is moved and the error names the latest."""
    steps = sorted(self._manager.all_steps(), reverse=True)
    if not steps:
      raise ValueError(f"no checkpoint in {self.directory}")
    failed = []
    for candidate in steps:
      try:
        restored = self._restore(abstract_state, candidate) + (candidate,)
      except CorruptCheckpoint as e:
        failed.append((candidate, e))
        continue
      for step, error in failed:
        aside = self._set_aside(step)
        print(f"warning: {error}; moved to {aside}; resuming from step {candidate}",
              file=sys.stderr, flush=True)
      return restored
    raise failed[0][1]

  def stored_keys(self, step: int | None = None) -> set[str] | None:
    """The top-level keys of the state stored at `step` (the latest by default), or None when
    there is no checkpoint or its metadata is unreadable: tells a TrainState ('params',
    'opt_state', 'step') from bare parameters."""
    step = self.latest_step() if step is None else step
    if step is None:
      return None
    try:
      with _without_event_loop_noise():
        return set(self._manager.item_metadata(step)["state"].keys())
    except Exception:  # no readable metadata: the restore itself reports the checkpoint
      self._failed_restore = True
      return None

  def _restore(self, abstract_state, step: int):
    path = os.path.join(self.directory, str(step))
    self._check_shapes(abstract_state, step, path)
    restore = lambda abstract: self._manager.restore(
        step, args=ocp.args.Composite(state=ocp.args.StandardRestore(abstract),
                                      meta=ocp.args.JsonRestore()))
    try:
      with _without_event_loop_noise():
        try:
          restored = restore(abstract_state if jax.process_count() == 1 else
                             _placed(abstract_state))
        except ValueError as e:  # written by another device topology: say where the arrays go
          if "opology" not in str(e):
            raise
          restored = restore(_placed(abstract_state))
    except Exception as e:  # orbax raises many types; the contract is one clear error.
      self._failed_restore = True
      raise CorruptCheckpoint(f"checkpoint {path} is unreadable (truncated or corrupt?): "
                              f"{type(e).__name__}: {str(e).splitlines()[0][:200]}") from None
    state, meta = restored["state"], dict(restored["meta"])
    expected = meta.pop(CHECKSUMS, None)
    found = checksums(state) if expected is not None else None
    if found is not None and found != expected:
      bad = next(k for k, v in found.items() if expected.get(k) != v)
      raise CorruptCheckpoint(f"checkpoint {path} is corrupt: array {bad} does not match the "
                              f"checksum saved with it")
    return state, meta

  def _check_shapes(self, abstract_state, step: int, path: str) -> None:
    """A one-line error naming the first array whose stored shape differs from the model's."""
    try:
      with _without_event_loop_noise():
        stored = self._manager.item_metadata(step)["state"]
      stored = {_names(p): tuple(m.shape) for p, m in
                jax.tree_util.tree_flatten_with_path(stored)[0] if hasattr(m, "shape")}
    except Exception:  # no readable metadata: the restore itself reports the checkpoint
      self._failed_restore = True
      return
    for p, leaf in jax.tree_util.tree_flatten_with_path(abstract_state)[0]:
      key = _names(p)
      if key in stored and stored[key] != tuple(leaf.shape):
        raise ValueError(f"checkpoint {path} holds array {'/'.join(key)} of shape {stored[key]}, "
                         f"but this model's is {tuple(leaf.shape)} (a run of another model "
                         f"config?)")

  def _set_aside(self, step: int) -> str:
    aside = os.path.join(self.directory + "-corrupt", str(step))
    os.makedirs(os.path.dirname(aside), exist_ok=True)
    if os.path.exists(aside):
      shutil.rmtree(aside)
    shutil.move(os.path.join(self.directory, str(step)), aside)
    self._manager.reload()
    return aside

  def wait(self) -> None:
    self._manager.wait_until_finished()

  def close(self) -> None:
    self._manager.wait_until_finished()
    if self._failed_restore:  # the reader threads print as the event loop closes
      with _without_event_loop_noise(linger=1.0, drop_all=True):
        self._manager.close()
    else:
      self._manager.close()


class CorruptCheckpoint(ValueError):
  """A checkpoint that is present but cannot be trusted."""

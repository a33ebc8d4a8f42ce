"""Checkpoints with orbax: save every N steps and at the end, keep K, resume from the latest.

Orbax writes each step to a temporary directory and renames it when complete, so a run killed
mid-save leaves the previous checkpoint intact. A checkpoint that is present but unreadable
(truncated or corrupted files) raises ValueError naming its directory, never a silent restart.
"""

from __future__ import annotations

import os
from typing import Any

import orbax.checkpoint as ocp


class Checkpointer:
  """Saves {"state": pytree, "meta": json dict} per step under `directory`."""

  def __init__(self, directory: str, *, save_every: int, keep: int = 2):
    if save_every <= 0 or keep <= 0:
      raise ValueError(f"checkpoint: save_every and keep must be positive, got {save_every}, {keep}")
    self.directory = os.path.abspath(directory)
    self._manager = ocp.CheckpointManager(
        self.directory,
        options=ocp.CheckpointManagerOptions(save_interval_steps=save_every, max_to_keep=keep,
                                             create=True, cleanup_tmp_directories=True),
        item_names=("state", "meta"))

  def latest_step(self) -> int | None:
    return self._manager.latest_step()

  def save(self, step: int, state, meta: dict[str, Any], *, force: bool = False) -> bool:
    """Saves if `step` is on the save interval (or `force`). Returns whether it saved."""
    return self._manager.save(
        step, args=ocp.args.Composite(state=ocp.args.StandardSave(state),
                                      meta=ocp.args.JsonSave(meta)), force=force)

  def restore(self, abstract_state, step: int | None = None):
    """(state, meta) of `step` (default: the latest). abstract_state: jax.eval_shape of a state."""
    step = self.latest_step() if step is None else step
    if step is None:
      raise ValueError(f"no checkpoint in {self.directory}")
    path = os.path.join(self.directory, str(step))
    try:
      restored = self._manager.restore(
          step, args=ocp.args.Composite(state=ocp.args.StandardRestore(abstract_state),
                                        meta=ocp.args.JsonRestore()))
    except Exception as e:  # orbax raises many types; the contract is one clear error.
      if "not compatible with the stored shape" in str(e):
        raise ValueError(
            f"checkpoint {path} holds arrays of other shapes than this model's (another model "
            "config, or a character-vocabulary model from before the task-format words became "
            f"single tokens in session 8, with fewer embedding rows): {str(e)[:200]}") from e
      raise ValueError(f"checkpoint {path} is unreadable (truncated or corrupt?): "
                       f"{type(e).__name__}: {str(e)[:300]}") from e
    return restored["state"], restored["meta"]

  def wait(self) -> None:
    self._manager.wait_until_finished()

  def close(self) -> None:
    self._manager.wait_until_finished()
    self._manager.close()

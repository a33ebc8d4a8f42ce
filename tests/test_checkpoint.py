"""Checkpoints: snapshots, checksums, fallback past corrupt checkpoints, clear shape errors."""

import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from reasoning.checkpoint import Checkpointer


def _state(scale=1.0, n=4):
  return {"w": jnp.arange(n * 8, dtype=jnp.float32).reshape(n, 8) * scale,
          "b": jnp.ones((8,), jnp.float32) * scale}


def test_saved_metadata_is_a_snapshot(tmp_path):
  """The loop may change its metadata dict as soon as save returns (orbax writes later)."""
  ckpt = Checkpointer(str(tmp_path), save_every=1, keep=30)
  meta = {"train_flops": 0.0, "pass_rates": {"1": 0.5}}
  for step in range(1, 21):
    meta["train_flops"] = float(step)
    meta["pass_rates"]["1"] = step / 100
    ckpt.save(step, _state(step), meta)
    meta["train_flops"] = -1.0  # what the next step would do at once
    meta["pass_rates"]["1"] = -1.0
  ckpt.wait()
  for step in range(1, 21):
    state, got = ckpt.restore(jax.eval_shape(_state), step)
    assert got == {"train_flops": float(step), "pass_rates": {"1": step / 100}}
    np.testing.assert_array_equal(state["b"], np.full(8, step, np.float32))
  ckpt.close()


def _flip_bytes(directory):
  """XORs 64 bytes in the middle of the largest data file of a checkpoint directory."""
  files = [os.path.join(r, f) for r, _, fs in os.walk(directory) for f in fs]
  path = max(files, key=os.path.getsize)
  data = bytearray(open(path, "rb").read())
  at = len(data) // 2
  for i in range(at, min(at + 64, len(data))):
    data[i] ^= 0xFF
  open(path, "wb").write(bytes(data))


def test_a_corrupt_latest_checkpoint_is_set_aside_and_the_previous_one_restored(tmp_path, capsys):
  ckpt = Checkpointer(str(tmp_path / "ckpt"), save_every=1, keep=3)
  ckpt.save(1, _state(1.0, n=256), {"step": 1})
  ckpt.save(2, _state(2.0, n=256), {"step": 2})
  ckpt.close()
  _flip_bytes(tmp_path / "ckpt" / "2")
  ckpt = Checkpointer(str(tmp_path / "ckpt"), save_every=1, keep=3)
  state, meta = ckpt.restore(jax.eval_shape(lambda: _state(n=256)))
  assert meta == {"step": 1} and ckpt.latest_step() == 1
  np.testing.assert_array_equal(state["b"], np.ones(8, np.float32))
  err = capsys.readouterr().err
  assert "ckpt/2 is" in err and "resuming from step 1" in err
  assert (tmp_path / "ckpt-corrupt" / "2").exists()
  ckpt.save(2, _state(2.0, n=256), {"step": 2})  # the run goes on and saves step 2 again
  ckpt.close()


def test_no_readable_checkpoint_is_a_clear_error(tmp_path):
  ckpt = Checkpointer(str(tmp_path / "ckpt"), save_every=1)
  ckpt.save(1, _state(n=256), {})
  ckpt.close()
  for root, _, files in os.walk(tmp_path / "ckpt" / "1"):
    for name in files:
      open(os.path.join(root, name), "wb").write(b"\x00garbage")
  ckpt = Checkpointer(str(tmp_path / "ckpt"), save_every=1)
  with pytest.raises(ValueError, match="checkpoint .*ckpt/1 is unreadable"):
    ckpt.restore(jax.eval_shape(lambda: _state(n=256)))
  assert (tmp_path / "ckpt" / "1").exists()  # nothing restored, so nothing is set aside


def test_a_checkpoint_of_another_shape_names_the_array_and_both_shapes(tmp_path):
  ckpt = Checkpointer(str(tmp_path), save_every=1)
  ckpt.save(1, _state(n=4), {})
  ckpt.wait()
  with pytest.raises(ValueError, match=r"holds array w of shape \(4, 8\), but this model's is "
                                       r"\(5, 8\)") as e:
    ckpt.restore(jax.eval_shape(lambda: _state(n=5)))
  assert "\n" not in str(e.value)
  ckpt.close()

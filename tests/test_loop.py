"""The outer loop's helpers: the NaN guard and the exact-once evaluation bookkeeping."""

import math

import jax.numpy as jnp
import pytest

from reasoning import loop
from reasoning.checkpoint import Checkpointer


def test_non_finite_metrics_stop_the_run_naming_the_step_metric_and_last_checkpoint(tmp_path):
  ckpt = Checkpointer(str(tmp_path), save_every=2)
  loop.check_finite({"loss": 1.0, "algo": "grpo"}, 1, ckpt)  # fine
  with pytest.raises(loop.NonFinite, match="step 3: grad_norm = nan; .*no checkpoint"):
    loop.check_finite({"loss": 1.0, "grad_norm": math.nan}, 3, ckpt)
  loop.save(ckpt, 2, {"w": jnp.ones(3)}, {}, {"loss": jnp.float32(1.0)})
  with pytest.raises(loop.NonFinite, match=r"step 4: loss = inf; .*checkpoint is step 2 in"):
    loop.save(ckpt, 4, {"w": jnp.ones(3)}, {}, {"loss": jnp.float32(math.inf)})
  assert ckpt.latest_step() == 2  # the non-finite step was never written
  ckpt.close()


def test_last_evaluation_names_a_file_without_one(tmp_path):
  path = tmp_path / "metrics.jsonl"
  with pytest.raises(ValueError, match="no held-out evaluation"):
    loop.last_evaluation([{"step": 1, "loss": 1.0}], str(path))

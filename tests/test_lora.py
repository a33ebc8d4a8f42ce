"""LoRA as a parameter transform: it starts at the base exactly, trains only its own tree, and
merges to plain parameters."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from reasoning import lora, model
from reasoning.train import pg, sft, state as state_lib


def test_merge_starts_at_the_base_and_adds_the_scaled_low_rank_update(tiny_model):
  cfg, graphdef, params = tiny_model
  lora_cfg = lora.LoraConfig(rank=2, alpha=4.0, targets=("attn",))
  trainable = lora.init(params, lora_cfg, jax.random.key(0))
  assert sorted(trainable["adapters"]) == [f"block_{i}/attn/{k}" for i in range(2)
                                           for k in ("kv", "o", "q")]
  merged = lora.merge(params, trainable, lora_cfg)
  for a, b in zip(jax.tree.leaves(merged), jax.tree.leaves(params)):
    np.testing.assert_array_equal(a, b)  # b = 0: the base exactly
  ab = trainable["adapters"]["block_1/attn/o"]
  ab["b"] = jnp.ones_like(ab["b"])
  merged = lora.merge(params, trainable, lora_cfg)
  want = params["block_1"]["attn"]["o"]["kernel"] + 2.0 * ab["a"] @ ab["b"]
  np.testing.assert_allclose(merged["block_1"]["attn"]["o"]["kernel"], want, rtol=1e-6)
  np.testing.assert_array_equal(merged["block_1"]["attn"]["q"]["kernel"],
                                params["block_1"]["attn"]["q"]["kernel"])
  assert merged["block_1"]["mlp"] is params["block_1"]["mlp"]  # untouched parts are shared
  assert lora.count(trainable) == 6 * (32 * 2 + 2 * 32) + 2 * (32 + 1)
  with pytest.raises(ValueError, match="lora.targets"):
    lora.LoraConfig(rank=2, targets=("embed",))


@pytest.mark.parametrize("kind", ["sft", "rl"])
def test_a_lora_step_trains_the_adapters_and_leaves_the_base_alone(tiny_model, kind):
  cfg, graphdef, params = tiny_model
  lora_cfg = lora.LoraConfig(rank=4, alpha=8.0)
  tx = state_lib.make_optimizer(state_lib.OptimConfig(lr=1e-2, warmup_steps=0, total_steps=10))
  base = jax.tree.map(jnp.copy, params)
  state = state_lib.create(lora.init(params, lora_cfg, jax.random.key(1)), tx)
  tokens = jnp.asarray(np.random.default_rng(0).integers(3, cfg.vocab_size, (4, 16)), jnp.int32)
  if kind == "sft":
    step = sft.make_train_step(graphdef, tx, lora_cfg)
    batch = {"tokens": tokens, "loss_mask": jnp.ones((4, 16))}
  else:
    step = pg.make_train_step(graphdef, tx, pg.PGConfig(algo="ppo"), lora_cfg)
    logp = pg.sequence_logprobs(graphdef, params, tokens)[0]
    ones = jnp.ones((4, 15))
    batch = pg.PGBatch(tokens, ones, ref_logp=logp,
                       advantages=jnp.array([1.0, -1.0, 1.0, -1.0])[:, None] * ones,
                       returns=ones, old_logp=logp, old_values=0 * ones)
  losses = []
  for _ in range(4):
    state, metrics = step(state, batch, base)
    losses.append(float(metrics["loss"]))
  assert losses[-1] < losses[0]
  for a, b in zip(jax.tree.leaves(base), jax.tree.leaves(params)):
    np.testing.assert_array_equal(a, b)
  merged = lora.merge(base, state.params, lora_cfg)
  moved = lambda x, y: float(jnp.abs(x - y).max()) > 0
  assert moved(merged["block_0"]["mlp"]["up"]["kernel"], params["block_0"]["mlp"]["up"]["kernel"])
  assert not moved(merged["embed"]["embedding"], params["embed"]["embedding"])
  if kind == "rl":  # PPO's critic trains: the value head is in the LoRA tree
    assert moved(merged["value_head"]["kernel"], params["value_head"]["kernel"])
  assert model.count_params(state.params) == lora.count(state.params)


def test_lora_on_a_model_trained_from_scratch_is_a_clear_error(tmp_path):
  import runpy

  from experiments import sft as sft_exp
  config = runpy.run_path("configs/countdown_sft.py")["get_config"]("tiny")
  config.lora.rank = 2
  with pytest.raises(ValueError, match="lora.rank > 0 adapts a pretrained model"):
    sft_exp.run(config, str(tmp_path / "sft"))

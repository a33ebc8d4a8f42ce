"""Transformer: shapes, masking, KV-cache decoding equals the full forward pass."""

import dataclasses

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from reasoning import model
from reasoning.text import PAD, VOCAB, pad_prompts


def _random_left_padded(key, batch, length, vocab):
  lengths = jax.random.randint(key, (batch,), 2, length + 1)
  toks = jax.random.randint(jax.random.fold_in(key, 1), (batch, length), 3, vocab)
  keep = jnp.arange(length)[None, :] >= (length - lengths)[:, None]
  return jnp.where(keep, toks, PAD)


def test_shapes_and_dtypes(tiny_model):
  cfg, graphdef, params = tiny_model
  tokens = jnp.ones((3, 7), jnp.int32)
  out = model.apply(graphdef, params, tokens)
  chex.assert_shape(out.logits, (3, 7, cfg.vocab_size))
  chex.assert_shape([out.value, out.reward], (3, 7))
  assert out.logits.dtype == jnp.float32 and out.cache is None


def test_kv_cache_decoding_matches_full_forward(tiny_model):
  """Prefill a random split, then decode token by token: logits equal the full pass to 1e-5."""
  cfg, graphdef, params = tiny_model
  tokens = _random_left_padded(jax.random.key(1), 5, 20, cfg.vocab_size)
  full = model.apply(graphdef, params, tokens)
  step = jax.jit(lambda p, t, c: model.apply(graphdef, p, t, cache=c))
  for split in (1, 7, 19):
    out = step(params, tokens[:, :split], model.init_cache(cfg, 5, 24))
    logits, cache = [out.logits], out.cache
    for t in range(split, 20):
      out = step(params, tokens[:, t:t + 1], cache)
      logits.append(out.logits)
      cache = out.cache
    inc = jnp.concatenate(logits, axis=1)
    real = (tokens != PAD)[..., None]
    np.testing.assert_allclose(jnp.where(real, inc, 0), jnp.where(real, full.logits, 0), atol=1e-5)
    assert int(cache.end) == 20
    np.testing.assert_array_equal(cache.pos, (tokens != PAD).sum(1))


def test_padding_does_not_change_real_tokens(tiny_model):
  """Left or right padding a sequence leaves its real tokens' outputs unchanged."""
  _, graphdef, params = tiny_model
  seq = jnp.asarray(pad_prompts(VOCAB, ["count r in rr\n"]))
  n = seq.shape[1]
  left = jnp.concatenate([jnp.zeros((1, 4), jnp.int32), seq], 1)
  right = jnp.concatenate([seq, jnp.zeros((1, 4), jnp.int32)], 1)
  base = model.apply(graphdef, params, seq)
  np.testing.assert_allclose(model.apply(graphdef, params, left).logits[:, 4:], base.logits, atol=1e-5)
  np.testing.assert_allclose(model.apply(graphdef, params, right).logits[:, :n], base.logits, atol=1e-5)
  np.testing.assert_allclose(model.apply(graphdef, params, left).value[:, 4:], base.value, atol=1e-5)


def test_causal_mask_future_tokens_do_not_leak(tiny_model):
  _, graphdef, params = tiny_model
  a = jnp.array([[1, 5, 6, 7, 8]])
  b = a.at[0, 4].set(9)
  la, lb = (model.apply(graphdef, params, x).logits for x in (a, b))
  np.testing.assert_allclose(la[:, :4], lb[:, :4], atol=1e-6)
  assert not np.allclose(la[:, 4], lb[:, 4])


def test_variants_build_and_run():
  for changes in ({"mlp": "gelu"}, {"tie_embeddings": False}, {"dtype": "bfloat16"},
                  {"n_kv_heads": 1}):
    from support import TINY
    cfg = dataclasses.replace(TINY, **changes)
    graphdef, params = model.init(cfg, jax.random.key(0))
    out = model.apply(graphdef, params, jnp.ones((2, 5), jnp.int32))
    assert jnp.isfinite(out.logits).all(), changes
    assert ("lm_head" in params) == (not cfg.tie_embeddings)


def test_bad_model_config_is_a_clear_error():
  with pytest.raises(ValueError, match="n_kv_heads"):
    model.ModelConfig(vocab_size=10, d_model=32, n_heads=4, n_kv_heads=3)
  with pytest.raises(ValueError, match="model.mlp"):
    model.ModelConfig(vocab_size=10, mlp="relu")
  with pytest.raises(ValueError, match="max_len"):
    model.init_cache(model.ModelConfig(vocab_size=10, max_len=8), 1, 9)


def test_packed_rows_compute_what_each_sequence_would_alone(tiny_model):
  from reasoning.text import pack_examples, pad_examples
  _, graphdef, params = tiny_model
  prompts = ["countdown 3 8 5 to 29\n", "count r in strawberry\n", "compute 12+9\n"]
  completions = ["8*3=24\n24+5=29\nANSWER: 29\n", "ANSWER: 3\n", "ANSWER: 21\n"]
  tokens, mask = pad_examples(VOCAB, prompts, completions, 64)
  packed, packed_mask, segments = pack_examples(tokens, mask, 32)
  lengths = (tokens != PAD).sum(1)
  assert lengths.tolist() == [31, 19, 12]
  assert packed.shape[0] == 2  # 31 tokens, then 19 + 12 share the second row
  assert segments[1].max() == 2 and (packed != PAD).sum() == lengths.sum()
  assert packed_mask.sum() == mask.sum()
  alone = model.apply(graphdef, params, jnp.asarray(tokens))
  together = model.apply(graphdef, params, jnp.asarray(packed), segments=jnp.asarray(segments))
  rows = [(0, 0, 0), (1, 1, 0), (2, 1, lengths[1])]  # (example, packed row, offset)
  for i, r, at in rows:
    n = lengths[i]
    np.testing.assert_allclose(together.logits[r, at:at + n], alone.logits[i, :n], atol=1e-5)
    np.testing.assert_allclose(together.reward[r, at:at + n], alone.reward[i, :n], atol=1e-5)
  with pytest.raises(ValueError, match="does not fit"):
    pack_examples(tokens, mask, 30)


def test_swiglu_hand_written_backward_matches_autodiff():
  kx, ku, kd, ky = jax.random.split(jax.random.key(3), 4)
  x = jax.random.normal(kx, (10, 8))
  w_up = jax.random.normal(ku, (8, 12)) * 0.5
  w_down = jax.random.normal(kd, (6, 8)) * 0.5
  dy = jax.random.normal(ky, (10, 8))

  def reference(x, w_up, w_down):
    return (jax.nn.silu(x @ w_up[:, :6]) * (x @ w_up[:, 6:])) @ w_down

  np.testing.assert_allclose(model.swiglu(x, w_up, w_down), reference(x, w_up, w_down),
                             rtol=1e-5, atol=1e-5)
  ours = jax.vjp(model.swiglu, x, w_up, w_down)[1](dy)
  theirs = jax.vjp(reference, x, w_up, w_down)[1](dy)
  for a, b in zip(ours, theirs):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_attention_implementations_agree(tiny_model):
  """jax.nn.dot_product_attention ('xla'; 'cudnn' where a GPU is present) computes what the
  einsum path does, for a full pass and for cached decoding with per-row cache ends."""
  cfg, _, params = tiny_model
  tokens = jax.random.randint(jax.random.key(1), (3, 12), 2, cfg.vocab_size)
  tokens = tokens.at[0, :4].set(cfg.pad_id)  # a left-padded row
  impls = ["xla"] + (["cudnn"] if jax.default_backend() == "gpu" else [])
  ref_graph, _ = model.abstract_init(cfg)
  ref = model.apply(ref_graph, params, tokens).logits
  for impl in impls:
    graph, _ = model.abstract_init(dataclasses.replace(cfg, attention=impl))
    np.testing.assert_allclose(model.apply(graph, params, tokens).logits, ref, atol=2e-5)
    cache = model.init_cache(cfg, 3, 16)
    cache = cache.replace(end=jnp.zeros((3,), jnp.int32))  # per-row ends
    out = model.apply(graph, params, tokens[:, :10], cache=cache)
    step = model.apply(graph, params, tokens[:, 10:11], cache=out.cache)
    np.testing.assert_allclose(step.logits[:, 0], ref[:, 10], atol=2e-5)


def test_chunked_logits_and_remat_give_the_same_statistics_and_gradients(tiny_model):
  """model.logits_chunk and model.remat change what is kept in memory, not what is computed:
  the same log-probs, entropies and argmaxes, and the same gradients of an SFT loss and of the
  policy-gradient loss that reads them (chunks that do not divide T-1 included)."""
  from reasoning.train import pg, sft
  cfg, graphdef, params = tiny_model
  tokens = _random_left_padded(jax.random.key(3), 4, 23, cfg.vocab_size)
  mask = (jnp.arange(22) >= 9).astype(jnp.float32) * jnp.ones((4, 1))

  def loss(graphdef, params):
    logp, values, entropy = pg.sequence_logprobs(graphdef, params, tokens)
    loss_mask = jnp.pad(mask, ((0, 0), (1, 0)))  # [B, T]: the tokens the SFT loss trains
    return (((logp - 0.1 * entropy + values) * mask).sum() +
            sft.sft_loss(graphdef, params, tokens, loss_mask)[0])

  # Jitted, as the trainers run them: one compilation per variant instead of op by op.
  stats_and_grad = jax.jit(lambda g, p: (model.next_token_stats(g, p, tokens, exclude=(0, 1)),
                                         jax.grad(lambda q: loss(g, q))(p)), static_argnums=0)
  want_stats, want_grad = stats_and_grad(graphdef, params)
  for chunk, remat in ((5, "none"), (8, "full"), (0, "dots"), (22, "none")):
    variant = dataclasses.replace(cfg, logits_chunk=chunk, remat=remat)
    g, _ = model.init(variant, jax.random.key(0))  # the graphdef carries the config
    got, grad = stats_and_grad(g, params)
    for a, b in zip(got, want_stats):
      np.testing.assert_allclose(a, b, atol=1e-5)
    for a, b in zip(jax.tree.leaves(grad), jax.tree.leaves(want_grad)):
      np.testing.assert_allclose(a, b, atol=2e-5, rtol=1e-4)
  with pytest.raises(ValueError, match="model.remat"):
    dataclasses.replace(cfg, remat="some")
  # From `start` on only (the generated columns of an RL batch): the same statistics, chunked
  # or not, under jit (where the head never runs on the positions before).
  for chunk in (0, 5):
    g, _ = model.init(dataclasses.replace(cfg, logits_chunk=chunk), jax.random.key(0))
    got = jax.jit(lambda p: model.next_token_stats(g, p, tokens, exclude=(0, 1), start=9))(params)
    for a, b in zip(got, want_stats):
      assert a.shape == (4, 13)
      np.testing.assert_allclose(a, b[:, 9:], atol=1e-5)


def test_bf16_parameters_halve_the_state_and_still_train(tiny_model):
  from reasoning.train import sft, state as state_lib
  cfg = dataclasses.replace(tiny_model[0], param_dtype="bfloat16")
  graphdef, params = model.init(cfg, jax.random.key(0))
  assert {x.dtype for x in jax.tree.leaves(params)} == {jnp.dtype("bfloat16")}
  assert {x.dtype for x in jax.tree.leaves(model.abstract_init(cfg)[1])} == {jnp.dtype("bfloat16")}
  tx = state_lib.make_optimizer(state_lib.OptimConfig(lr=1e-2, warmup_steps=0, total_steps=10))
  state = state_lib.create(params, tx)
  assert {x.dtype for x in jax.tree.leaves(state.opt_state) if x.ndim} == {jnp.dtype("bfloat16")}
  step = sft.make_train_step(graphdef, tx)
  tokens = jnp.asarray(np.random.default_rng(0).integers(3, cfg.vocab_size, (4, 16)), jnp.int32)
  losses = []
  for _ in range(5):
    state, metrics = step(state, {"tokens": tokens, "loss_mask": jnp.ones((4, 16))})
    losses.append(float(metrics["loss"]))
  assert losses[-1] < losses[0] and np.isfinite(losses).all()
  assert {x.dtype for x in jax.tree.leaves(state.params)} == {jnp.dtype("bfloat16")}
  with pytest.raises(ValueError, match="model.param_dtype"):
    dataclasses.replace(cfg, param_dtype="float16")

"""Sampler: stopping rules, greedy equals argmax of the full pass, top-k/top-p, log-probs."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from reasoning import model, sampling
from reasoning.model import favoring
from reasoning.text import EOS, PAD, VOCAB, pad_prompts

PROMPTS = ["countdown 1 2 3 to 6\n", "count r in rr\n", "compute 12+3\n"]


def _forcing(params, token):
  """Params that emit `token` after any input: its logit d_model above every other's."""
  return favoring(params, token, params["embed"]["embedding"].shape[1])


def test_greedy_matches_full_forward_and_logprobs(tiny_model):
  _, graphdef, params = tiny_model
  prompts = jnp.asarray(pad_prompts(VOCAB, PROMPTS))
  out = sampling.generate(graphdef, params, prompts, jax.random.key(0), max_new=12,
                          temperature=0.0)
  chex.assert_shape([out.tokens, out.logprobs], (3, 12))
  seq = jnp.concatenate([prompts, out.tokens], axis=1)
  logits = model.apply(graphdef, params, seq).logits[:, prompts.shape[1] - 1:-1]
  logits = logits.at[..., :2].set(-1e30)  # PAD and BOS are outside the sampler's support
  real = out.tokens != PAD
  np.testing.assert_array_equal(jnp.where(real, logits.argmax(-1), PAD), out.tokens)
  logp = jnp.take_along_axis(jax.nn.log_softmax(logits), out.tokens[..., None], -1)[..., 0]
  np.testing.assert_allclose(jnp.where(real, logp, 0), out.logprobs, atol=1e-5)


def test_stop_rules(tiny_model):
  _, graphdef, params = tiny_model
  prompts = jnp.asarray(pad_prompts(VOCAB, PROMPTS))
  for stop, stop_tokens in (("step", (VOCAB.newline, EOS)), ("answer", (EOS,))):
    out = sampling.generate(graphdef, params, prompts, jax.random.key(1), max_new=40, stop=stop)
    tokens, lengths, done = jax.device_get((out.tokens, out.lengths, out.done))
    for row, n, d in zip(tokens, lengths, done):
      assert (row[n:] == PAD).all() and (row[:n] != PAD).all()
      hits = [i for i, t in enumerate(row[:n]) if t in stop_tokens]
      if d:
        assert hits == [n - 1]  # stopped right after its first stop token
      else:
        assert hits == [] and n == 40
  # Making newline overwhelmingly likely: every row stops after exactly one token in step mode.
  forced = _forcing(params, VOCAB.newline)
  out = sampling.generate(graphdef, forced, prompts, jax.random.key(2), max_new=10, stop="step")
  assert out.lengths.tolist() == [1, 1, 1] and out.done.all()
  assert (out.tokens[:, 0] == VOCAB.newline).all()
  out = sampling.generate(graphdef, _forcing(params, EOS), prompts, jax.random.key(2), max_new=10)
  assert out.lengths.tolist() == [1, 1, 1] and (out.tokens[:, 0] == EOS).all()
  out = sampling.generate(graphdef, forced, prompts, jax.random.key(2), max_new=10, stop="answer")
  assert out.lengths.tolist() == [10, 10, 10] and not out.done.any()


def test_top_k_and_top_p_filters():
  logits = jnp.log(jnp.array([[0.5, 0.3, 0.15, 0.05]]))
  keep = lambda **kw: jnp.isfinite(sampling.filter_logits(logits, temperature=1.0, **kw))[0].tolist()
  assert keep(top_k=2, top_p=1.0) == [True, True, False, False]
  assert keep(top_k=0, top_p=0.5) == [True, False, False, False]
  assert keep(top_k=0, top_p=0.6) == [True, True, False, False]
  assert keep(top_k=0, top_p=0.96) == [True, True, True, True]
  assert keep(top_k=3, top_p=0.7) == [True, True, False, False]
  # Sampling only ever returns kept tokens, in proportion to their renormalized mass.
  keys = jax.random.split(jax.random.key(0), 4000)
  draws = jax.vmap(lambda k: sampling.next_tokens(logits, k, temperature=1.0, top_k=0,
                                                  top_p=0.6))(keys)[:, 0]
  counts = np.bincount(np.asarray(draws), minlength=4)
  assert counts[2:].sum() == 0
  assert abs(counts[0] / counts[:2].sum() - 0.5 / 0.8) < 0.03


def test_bad_sampling_settings(tiny_model):
  _, graphdef, params = tiny_model
  prompts = jnp.asarray(pad_prompts(VOCAB, PROMPTS))
  with pytest.raises(ValueError, match="stop must be"):
    sampling.generate(graphdef, params, prompts, jax.random.key(0), max_new=4, stop="line")
  with pytest.raises(ValueError, match="top_p"):
    sampling.generate(graphdef, params, prompts, jax.random.key(0), max_new=4, top_p=0.0)


def test_rows_of_a_split_batch_sample_what_the_whole_batch_does():
  """A device decoding rows [first, first + n) of a batch draws those rows of the whole batch's
  noise (sampling._generate_per_device): the tokens equal the unsplit batch's, top-k included."""
  logits = jax.random.normal(jax.random.key(0), (8, VOCAB.size)) * 0.5  # flat: noise decides
  for top_k in (0, 5):
    kw = dict(temperature=1.0, top_k=top_k, top_p=1.0)
    whole = sampling.next_tokens(logits, jax.random.key(1), **kw)
    parts = [sampling.next_tokens(logits[i:i + 2], jax.random.key(1), rows=(i, 8), **kw)
             for i in range(0, 8, 2)]
    np.testing.assert_array_equal(whole, jnp.concatenate(parts))
    # Each part drawing the batch's first rows instead would not be the same sample.
    assert not (whole == jnp.concatenate(
        [sampling.next_tokens(logits[i:i + 2], jax.random.key(1), rows=(0, 8), **kw)
         for i in range(0, 8, 2)])).all()


def _eos_prone(params, scale):
  """The tiny model with its EOS embedding row scaled: rows end at varied lengths."""
  params = jax.tree.map(lambda x: x, params)
  params["embed"]["embedding"] = params["embed"]["embedding"].at[EOS].multiply(scale)
  return params


@pytest.mark.parametrize("temperature,scale,stop", [(0.0, 3.0, "answer"), (1.0, 2.0, "answer"),
                                                    (1.0, 1.5, "step")])
def test_slot_engine_returns_what_the_static_sampler_does(tiny_model, temperature, scale, stop):
  """Refilling finished slots (and sharing a group's prefill) changes which rows decode together,
  never what a row samples: tokens, lengths and stops equal the static batch's with row keys."""
  _, graphdef, params = tiny_model
  params = _eos_prone(params, scale)
  rng = np.random.default_rng(0)
  prompts = [f"compute {a}+{b}\n" for a, b in rng.integers(0, 999, (12, 2))]
  prompts = jnp.asarray(np.repeat(pad_prompts(VOCAB, prompts), 2, axis=0))  # groups of 2
  kw = dict(max_new=24, temperature=temperature, stop=stop)
  static = sampling.generate(graphdef, params, prompts, jax.random.key(3), row_keys=True, **kw)
  lengths = np.asarray(static.lengths)
  assert len(set(lengths.tolist())) > 4 and static.done.any()  # long-tailed, some stopped
  # 24 slots cover the batch: it decodes as one static batch, with the same row keys.
  for slots, chunk, group in ((8, 1, 1), (8, 4, 2), (6, 6, 2), (23, 3, 1), (24, 0, 2)):
    out = sampling.generate(graphdef, params, prompts, jax.random.key(3), slots=slots,
                            chunk=chunk, group=group, **kw)
    np.testing.assert_array_equal(out.tokens, static.tokens)
    np.testing.assert_array_equal(out.lengths, lengths)
    np.testing.assert_array_equal(out.done, static.done)
    np.testing.assert_allclose(out.logprobs, static.logprobs, atol=1e-5)
  # The shared prefill alone (static batch, the batch's own key per step) is the same sample.
  np.testing.assert_array_equal(
      sampling.generate(graphdef, params, prompts, jax.random.key(3), group=2, **kw).tokens,
      sampling.generate(graphdef, params, prompts, jax.random.key(3), **kw).tokens)
  with pytest.raises(ValueError, match="group=5"):
    sampling.generate(graphdef, params, prompts, jax.random.key(3), group=5, **kw)
  with pytest.raises(ValueError, match="chunk=3"):
    sampling.generate(graphdef, params, prompts, jax.random.key(3), slots=8, chunk=3, group=2,
                      **kw)


def test_bf16_cache_stays_close_to_f32(tiny_model):
  """A bfloat16 KV cache (half the bytes a decode step reads) moves the sampled log-probs by a
  few thousandths; greedy tokens of the tiny model are unchanged."""
  _, graphdef, params = tiny_model
  prompts = jnp.asarray(pad_prompts(VOCAB, PROMPTS))
  f32 = sampling.generate(graphdef, params, prompts, jax.random.key(0), max_new=16,
                          temperature=0.0)
  bf16 = sampling.generate(graphdef, params, prompts, jax.random.key(0), max_new=16,
                           temperature=0.0, cache_dtype="bfloat16")
  np.testing.assert_array_equal(bf16.tokens, f32.tokens)
  assert float(jnp.abs(bf16.logprobs - f32.logprobs).max()) < 2e-2

"""Quiet-STaR's parallel thoughts against the plain model, one position at a time
(reasoning/train/quiet_star.py)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from reasoning import model as model_lib
from reasoning.text import VOCAB, pad_examples
from reasoning.train import quiet_star as qs

START, END = VOCAB.size, VOCAB.size + 1
CFG = model_lib.ModelConfig(vocab_size=VOCAB.size + 2, d_model=32, n_layers=2, n_heads=2,
                            n_kv_heads=2, d_ff=64, max_len=128)


@pytest.fixture(scope="module")
def model():
  return model_lib.init(CFG, jax.random.key(0))


def _batch():
  tokens, loss_mask = pad_examples(VOCAB, ["compute 12+34\n", "compute 5+7\n"],
                                   ["ANSWER: 46\n", "ANSWER: 12\n"], 24)
  return tokens, loss_mask, qs.thought_positions(loss_mask, 4)


def _cfg(**kw):
  return qs.QuietConfig(start_id=START, end_id=END, thought_len=3, n_true=2, thoughts=1,
                        never=(VOCAB.pad, VOCAB.bos, VOCAB.eos, START, END), **kw)


def test_layout_mask_by_hand():
  tokens = jnp.array([[1, 5, 6]])                     # BOS and two tokens
  at = jnp.array([[1]])                               # one thought, after token 1
  blocks = jnp.array([[[START], [9]]])                # START, one thought token
  ext, positions, mask = qs.layout(tokens, at, blocks, pad_id=0)
  assert ext.tolist() == [[1, 5, 6, START, 9]]
  assert positions.tolist() == [[0, 1, 2, 2, 3]]      # the thought continues after x_1
  assert mask[0].astype(int).tolist() == [[1, 0, 0, 0, 0],
                                          [1, 1, 0, 0, 0],
                                          [1, 1, 1, 0, 0],
                                          [1, 1, 0, 1, 0],   # START sees x_0, x_1 and itself
                                          [1, 1, 0, 1, 1]]


def test_thought_positions_cover_the_answer():
  tokens, loss_mask, at = _batch()
  first = int(np.argmax(loss_mask[0] > 0))
  assert at[0].tolist() == list(range(first - 1, first + 3))


@pytest.mark.parametrize("temperature", [0.0, 1.0])
def test_parallel_thoughts_equal_each_position_sampled_alone(model, temperature):
  graphdef, params = model
  tokens, _, at = _batch()
  cfg = _cfg(temperature=temperature)
  key = jax.random.key(3)
  thoughts = np.asarray(qs.sample_thoughts(graphdef, params, jnp.asarray(tokens),
                                           jnp.asarray(at), key, cfg))
  assert thoughts.shape == (2, 4, 3)
  for row in range(2):
    for k in range(4):
      alone = qs.sample_thought_alone(graphdef, params, tokens, row, int(at[row, k]), k, key, cfg)
      assert thoughts[row, k].tolist() == alone, (row, k)
  assert not np.isin(thoughts, cfg.never).any()
  if temperature:  # different positions think differently
    assert len({tuple(t) for t in thoughts.reshape(-1, 3).tolist()}) > 1


def test_talk_equals_the_plain_model_with_the_thought_written_out(model):
  graphdef, params = model
  tokens, loss_mask, at = _batch()
  cfg = _cfg()
  thoughts = qs.sample_thoughts(graphdef, params, jnp.asarray(tokens), jnp.asarray(at),
                                jax.random.key(1), cfg)
  mixer = qs.init_mixer(jax.random.key(2), CFG.d_model)
  out = qs.talk(graphdef, {"model": params, "mixer": mixer}, jnp.asarray(tokens),
                jnp.asarray(loss_mask), jnp.asarray(at), thoughts, cfg)
  plain = jax.nn.log_softmax(model_lib.apply(graphdef, params, jnp.asarray(tokens)).logits, -1)
  row, k = 0, 1
  i = int(at[row, k])
  for j in (1, 2):  # j = 1: after END; j = 2: after END and the forced x_{i+1}
    target = int(tokens[row, i + j])
    np.testing.assert_allclose(out["plain"][row, j - 1, k], plain[row, i + j - 1, target],
                               atol=1e-5)
    seq = (list(tokens[row, :i + 1]) + [START] + list(np.asarray(thoughts[row, k])) + [END]
           + list(tokens[row, i + 1:i + j]))
    post = jax.nn.log_softmax(model_lib.apply(graphdef, params, jnp.asarray([seq])).logits[0, -1])
    base = plain[row, i + j - 1]
    w = out["w"][row, j - 1, k]
    # mixed = log_softmax(w * post_logits + (1 - w) * base_logits); log-softmax shifts cancel
    mixed = jax.nn.log_softmax(w * post + (1 - w) * base)[target]
    np.testing.assert_allclose(out["mixed"][row, j - 1, k], mixed, atol=1e-4)
  assert out["valid"][row, 0, k] == 1.0


def test_equal_thoughts_get_no_policy_gradient(model):
  graphdef, params = model
  tokens, loss_mask, at = _batch()
  cfg = _cfg()
  cfg = qs.QuietConfig(**{**cfg.__dict__, "thoughts": 2})
  thoughts = qs.sample_thoughts(graphdef, params, jnp.asarray(tokens), jnp.asarray(at),
                                jax.random.key(1), cfg)
  twice = lambda x: jnp.repeat(jnp.asarray(x), 2, axis=0)  # each row twice, same thought
  batch = {"tokens": twice(tokens), "loss_mask": twice(loss_mask), "at": twice(at),
           "thoughts": twice(thoughts)}
  mixer = qs.init_mixer(jax.random.key(2), CFG.d_model)
  total, metrics = qs.loss(graphdef, {"model": params, "mixer": mixer}, batch, cfg)
  assert float(metrics["policy_loss"]) == 0.0 and float(metrics["advantage_abs"]) == 0.0
  assert float(total) == pytest.approx(float(metrics["nll"]))
  assert 0.05 < float(metrics["mix_weight"]) < 0.3   # a new mixer trusts the plain prediction


@pytest.mark.parametrize("tie", [True, False])
def test_meta_tokens_leave_the_model_unchanged_on_its_own_ids(tie):
  cfg = model_lib.ModelConfig(vocab_size=40, d_model=16, n_layers=1, n_heads=2, n_kv_heads=1,
                              d_ff=32, max_len=32, tie_embeddings=tie)
  graphdef, params = model_lib.init(cfg, jax.random.key(1))
  new_cfg, new_graphdef, new_params = qs.with_meta_tokens(cfg, params, init_ids=[3, 7])
  assert new_cfg.vocab_size == 42
  rows = new_params["embed"]["embedding"]
  np.testing.assert_allclose(rows[40], (rows[3] + rows[7]) / 2, rtol=1e-6)
  np.testing.assert_array_equal(rows[41], rows[40])
  tokens = jnp.array([[1, 5, 9, 2, 30]])
  old = model_lib.apply(graphdef, params, tokens).logits
  new = model_lib.apply(new_graphdef, new_params, tokens).logits
  np.testing.assert_allclose(new[..., :40], old, rtol=1e-5, atol=1e-5)
  if not tie:
    np.testing.assert_array_equal(new[..., 40:], 0.0)

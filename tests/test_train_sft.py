"""SFT loss and step: completion-only masking, loss falls on a fixed batch."""

import jax
import jax.numpy as jnp
import numpy as np

from reasoning import model
from reasoning.text import VOCAB, pad_examples
from reasoning.train import sft, state as state_lib


def _batch():
  tokens, mask = pad_examples(VOCAB, ["count r in rr\n", "compute 1+2\n"],
                              ["r 1\nr 2\nANSWER: 2\n", "1+2+0=3\nANSWER: 3\n"], 40)
  return {"tokens": jnp.asarray(tokens), "loss_mask": jnp.asarray(mask)}


def test_loss_is_mean_over_completion_tokens_only(tiny_model):
  _, graphdef, params = tiny_model
  batch = _batch()
  loss, metrics = sft.sft_loss(graphdef, params, batch["tokens"], batch["loss_mask"])
  logits = model.apply(graphdef, params, batch["tokens"]).logits
  logp = jax.nn.log_softmax(logits)
  terms = []
  for b in range(2):
    for t in range(1, 40):
      if batch["loss_mask"][b, t]:
        terms.append(-logp[b, t - 1, batch["tokens"][b, t]])
  np.testing.assert_allclose(loss, np.mean(terms), rtol=1e-5)
  assert int(metrics["tokens"]) == len(terms)
  # Changing a prompt token's *target* role cannot matter: only completion positions are scored.
  other = batch["tokens"].at[0, 3].set(VOCAB.encode("z")[0])
  loss2, _ = sft.sft_loss(graphdef, params, other, batch["loss_mask"])
  assert not np.isclose(loss, loss2)  # it changes the context...
  masked_terms = batch["loss_mask"].at[:, :].set(0.0).at[0, 20].set(1.0)
  single, _ = sft.sft_loss(graphdef, params, batch["tokens"], masked_terms)
  np.testing.assert_allclose(single, -logp[0, 19, batch["tokens"][0, 20]], rtol=1e-5)


def test_train_step_reduces_loss(tiny_model):
  _, graphdef, params = tiny_model
  tx = state_lib.make_optimizer(state_lib.OptimConfig(lr=3e-3, warmup_steps=2, total_steps=40))
  state = state_lib.create(jax.tree.map(jnp.copy, params), tx)  # the step donates its state
  step = sft.make_train_step(graphdef, tx)
  losses = []
  for _ in range(40):
    state, metrics = step(state, _batch())
    losses.append(float(metrics["loss"]))
  assert int(state.step) == 40
  assert losses[-1] < 0.3 * losses[0]

"""Supervised fine-tuning: masked next-token cross-entropy on completion tokens only."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from reasoning import model as model_lib
from reasoning.train.state import make_step


def token_logprobs(logits: jax.Array, tokens: jax.Array) -> jax.Array:
  """log p(tokens[:, t+1] | tokens[:, :t+1]): logits [B, T, V], tokens [B, T] -> [B, T-1]."""
  logp = jax.nn.log_softmax(logits[:, :-1])
  return jnp.take_along_axis(logp, tokens[:, 1:, None], axis=-1)[..., 0]


def sft_loss(graphdef, params, tokens: jax.Array, loss_mask: jax.Array,
             segments: jax.Array | None = None):
  """Mean cross-entropy over masked tokens (token-level average: long and short completions
  weigh each of their tokens equally). tokens, loss_mask, segments (packed rows): [B, T]."""
  logits = model_lib.apply(graphdef, params, tokens, segments=segments).logits
  mask = loss_mask[:, 1:]
  logp = token_logprobs(logits, tokens)
  n = jnp.maximum(mask.sum(), 1.0)
  loss = -(logp * mask).sum() / n
  correct = (jnp.argmax(logits[:, :-1], -1) == tokens[:, 1:]) * mask
  return loss, {"loss": loss, "token_accuracy": correct.sum() / n, "tokens": mask.sum()}


def make_train_step(graphdef, tx: optax.GradientTransformation):
  """A jitted `train_step(state, batch) -> (state, metrics)`; the state is donated.

  batch: {"tokens": [B, T] int32, "loss_mask": [B, T] float32} and, for packed rows,
  "segments": [B, T] int32 (text.pack_examples).
  """
  return make_step(lambda params, batch: sft_loss(graphdef, params, batch["tokens"],
                                                  batch["loss_mask"], batch.get("segments")), tx)

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
  weigh each of their tokens equally). tokens, loss_mask, segments (packed rows): [B, T].
  With `model.logits_chunk` the [B, T, V] logits are never materialized."""
  stats = model_lib.next_token_stats(graphdef, params, tokens, segments=segments)
  mask = loss_mask[:, 1:]
  n = jnp.maximum(mask.sum(), 1.0)
  loss = -(stats.logp * mask).sum() / n
  correct = (stats.argmax == tokens[:, 1:]) * mask
  return loss, {"loss": loss, "token_accuracy": correct.sum() / n, "tokens": mask.sum()}


def make_train_step(graphdef, tx: optax.GradientTransformation, lora=None):
  """A jitted `train_step(state, batch) -> (state, metrics)`; the state is donated.

  batch: {"tokens": [B, T] int32, "loss_mask": [B, T] float32} and, for packed rows,
  "segments": [B, T] int32 (text.pack_examples). With `lora` (state.make_step) the state holds
  the LoRA tree and the step takes the base parameters third.
  """
  return make_step(lambda params, batch: sft_loss(graphdef, params, batch["tokens"],
                                                  batch["loss_mask"], batch.get("segments")), tx,
                   lora)


def finetune(graphdef, params, examples, vocab, model_cfg, mesh, *, optim: dict, steps: int,
             batch_size: int, seq_len: int, seed: int):
  """Fine-tunes a fresh copy of `params` on (prompt, completion) pairs for `steps` steps (the
  optimizer's warmup clipped to them): the inner loop of STaR and of expert iteration's 'sft'
  targets. Returns (params, train FLOPs, metrics of the last step)."""
  import numpy as np

  from reasoning import compute, loop, mesh as mesh_lib
  from reasoning.text import pad_examples
  from reasoning.train import sft_data, state as state_lib
  tx = state_lib.optimizer_for(optim, steps)
  state = state_lib.create(jax.tree.map(jnp.copy, params), tx)
  state = jax.device_put(state, mesh_lib.state_shardings(mesh, state))
  pools = [pad_examples(vocab, [p for p, _ in examples], [c for _, c in examples], seq_len)]

  def batch_at(step, _):
    batch = sft_data.batch_at(step, seed, pools, batch_size, pad=vocab.pad)
    lengths = sft_data.example_lengths(batch, vocab.pad)
    return batch, compute.train_flops(model_cfg, lengths), float(np.sum(lengths))

  state, flops, metrics = loop.fine_tune(make_train_step(graphdef, tx), state, steps, batch_at,
                                         mesh=mesh)
  return state.params, flops, metrics

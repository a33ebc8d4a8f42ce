"""TrainState and the optimizer built from an explicit OptimConfig."""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import optax
from flax import struct


@struct.dataclass
class TrainState:
  step: jax.Array  # [] int32
  params: dict
  opt_state: optax.OptState


@dataclasses.dataclass(frozen=True)
class OptimConfig:
  """AdamW with linear warmup then cosine decay to `min_lr_ratio * lr`, and global-norm clipping."""
  lr: float = 1e-3
  warmup_steps: int = 100
  total_steps: int = 1000
  min_lr_ratio: float = 0.1
  weight_decay: float = 0.01
  b1: float = 0.9
  b2: float = 0.98
  grad_clip: float = 1.0

  def __post_init__(self):
    if self.lr <= 0 or self.total_steps <= 0 or not 0 <= self.warmup_steps <= self.total_steps:
      raise ValueError(f"optim: need lr > 0 and 0 <= warmup_steps <= total_steps, got {self}")


def make_optimizer(cfg: OptimConfig) -> optax.GradientTransformation:
  schedule = optax.warmup_cosine_decay_schedule(
      init_value=0.0, peak_value=cfg.lr, warmup_steps=cfg.warmup_steps,
      decay_steps=max(cfg.total_steps, cfg.warmup_steps + 1), end_value=cfg.lr * cfg.min_lr_ratio)
  # Decay matrices only: norms, biases and scalar heads are not weight-decayed.
  decay_mask = lambda params: jax.tree.map(lambda x: x.ndim >= 2, params)
  return optax.chain(
      optax.clip_by_global_norm(cfg.grad_clip),
      optax.adamw(schedule, b1=cfg.b1, b2=cfg.b2, weight_decay=cfg.weight_decay, mask=decay_mask))


def optimizer_for(optim: dict, steps: int) -> optax.GradientTransformation:
  """make_optimizer for a run of `steps` steps from config fields (`optim`, OptimConfig's fields
  without total_steps), the warmup clipped to the run: short fine-tunes (STaR, expert iteration)
  size their step count from their data."""
  optim = dict(optim, warmup_steps=min(optim["warmup_steps"], steps))
  return make_optimizer(OptimConfig(total_steps=steps, **optim))


def create(params, tx: optax.GradientTransformation) -> TrainState:
  return TrainState(step=jnp.zeros((), jnp.int32), params=params, opt_state=tx.init(params))


def make_step(loss_fn, tx: optax.GradientTransformation, lora=None):
  """A jitted `train_step(state, batch) -> (state, metrics)` for `loss_fn(params, batch) ->
  (loss, metrics)`; the state is donated. Every trainer (SFT, RL, reward models) uses this.

  With `lora` (a reasoning.lora.LoraConfig that is on) the state holds the trainable LoRA tree
  (lora.init) and the step is `train_step(state, batch, base)`: the loss is taken at
  lora.merge(base, state.params), and the frozen base parameters are an argument, not donated."""
  if lora is not None and lora.on:
    from reasoning import lora as lora_lib
    plain = loss_fn
    loss_fn = lambda trainable, batch, base: plain(lora_lib.merge(base, trainable, lora), batch)

  @functools.partial(jax.jit, donate_argnums=(0,))
  def train_step(state: TrainState, batch, *frozen):
    grads, metrics = jax.grad(loss_fn, has_aux=True)(state.params, batch, *frozen)
    updates, opt_state = tx.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    metrics["grad_norm"] = optax.tree.norm(grads)
    return dataclasses.replace(state, step=state.step + 1, params=params,
                               opt_state=opt_state), metrics

  return train_step

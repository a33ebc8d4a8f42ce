"""Distillation from a teacher policy: per-token divergences and a jitted step.

On-policy distillation (Agarwal et al. 2024, GKD; Qwen3's strong-to-weak distillation): the
student samples completions, the teacher gives its next-token distribution at every position of
them, and the student minimizes a divergence to it there. Supervision is dense (every token, not
one outcome per sequence, as in RL) and the states are the student's own (not the teacher's, as in
SFT on teacher samples), so the student learns to recover from its own mistakes.

Per-position divergences between the full next-token distributions (student q, teacher p), each
[B, T] aligned with predicted tokens like reasoning/train/pg.py (entry t predicts token t+1):
  reverse_kl  KL(q || p) = sum_v q (log q - log p): mode-seeking, GKD's on-policy default.
  forward_kl  KL(p || q) = sum_v p (log p - log q): mass-covering (Hinton et al. 2015 on samples).
  jsd         GKD's generalized Jensen-Shannon divergence with mixture m = beta p + (1 - beta) q:
              beta KL(p || m) + (1 - beta) KL(q || m); beta -> 0 nears forward KL scaled by beta,
              beta -> 1 reverse KL scaled by 1 - beta.
  nll         -log q(sampled token): SFT on the samples; with the teacher as the sampler this is
              off-policy, sequence-level distillation (Kim and Rush 2016), the baseline.
The gradient flows through the student's distribution at each sampled prefix, not through the
sampling (as GKD); the tokens no policy generates (pad, BOS) are removed from both distributions.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax
import jax.numpy as jnp
from flax import nnx

from reasoning import model as model_lib
from reasoning.train.pg import aggregate
from reasoning.train.state import make_step

DIVERGENCES = ("reverse_kl", "forward_kl", "jsd", "nll")
SAMPLERS = ("student", "teacher")


@dataclasses.dataclass(frozen=True)
class DistillConfig:
  divergence: str = "reverse_kl"
  beta: float = 0.5             # jsd's mixture weight on the teacher
  sampler: str = "student"      # 'student': on-policy; 'teacher': off-policy (teacher samples)

  def __post_init__(self):
    if self.divergence not in DIVERGENCES:
      raise ValueError(f"distill.divergence must be one of {DIVERGENCES}, got "
                       f"{self.divergence!r}")
    if self.sampler not in SAMPLERS:
      raise ValueError(f"distill.sampler must be one of {SAMPLERS}, got {self.sampler!r}")
    if self.divergence == "jsd" and not 0.0 < self.beta < 1.0:
      raise ValueError(f"distill.beta must be in (0, 1) for the jsd divergence, got {self.beta}")

  @property
  def needs_teacher_scores(self) -> bool:
    """Whether the loss reads the teacher's distributions (every divergence but nll)."""
    return self.divergence != "nll"


def next_token_logprobs(graphdef, params, tokens):
  """log q(v | tokens[:, :t+1]) for every position t < T-1 and vocabulary entry v: [B, T-1, V],
  the model's never-generated ids at -1e30 (probability 0)."""
  model = nnx.merge(graphdef, params)
  logits = model_lib.apply(graphdef, params, tokens).logits[:, :-1].astype(jnp.float32)
  never = model.cfg.never_generated
  if never:
    logits = logits.at[..., jnp.array(never, jnp.int32)].set(-1e30)
  return jax.nn.log_softmax(logits)


def _kl(logp, logq):
  """sum_v p (log p - log q) over the last axis; entries with p = 0 contribute 0."""
  return jnp.sum(jnp.exp(logp) * (logp - logq), axis=-1)


def token_divergence(student_logp, teacher_logp, targets, kind: str = "reverse_kl",
                     beta: float = 0.5):
  """Per-position divergence [B, T] between the student's and the teacher's next-token
  log-distributions (each [B, T, V]); `targets` [B, T] are the sampled next tokens (nll only).
  See the module docstring for the kinds."""
  if kind == "reverse_kl":
    return _kl(student_logp, teacher_logp)
  if kind == "forward_kl":
    return _kl(teacher_logp, student_logp)
  if kind == "jsd":
    mixture = jnp.logaddexp(jnp.log(beta) + teacher_logp, jnp.log1p(-beta) + student_logp)
    return beta * _kl(teacher_logp, mixture) + (1 - beta) * _kl(student_logp, mixture)
  if kind == "nll":
    return -jnp.take_along_axis(student_logp, targets[..., None], axis=-1)[..., 0]
  raise ValueError(f"unknown divergence {kind!r}; one of {DIVERGENCES}")


class DistillBatch(NamedTuple):
  """One distillation update's inputs (a pytree; an absent field is None)."""
  tokens: jax.Array  # [B, T]
  mask: jax.Array    # [B, T-1] 1 on the generated tokens, aligned with tokens[:, 1:]
  teacher_logp: jax.Array | None = None  # [B, T-1, V] next_token_logprobs under the teacher;
                                         # None for the nll divergence (SFT on the samples)


def make_train_step(graphdef, tx, cfg: DistillConfig, lora=None):
  """A jitted `train_step(state, batch: DistillBatch) -> (state, metrics)`; the state is
  donated. Metrics: loss, reverse_kl (the per-token KL(student || teacher) whatever is
  optimized, when the teacher's scores are there) and the student's entropy. With `lora` the
  state trains the adapters and the step takes the base parameters third (state.make_step)."""

  def loss_fn(params, batch: DistillBatch):
    tokens, mask = batch.tokens, batch.mask
    student = next_token_logprobs(graphdef, params, tokens)
    targets = jnp.where(mask > 0, tokens[:, 1:], 0)
    teacher = batch.teacher_logp
    per_token = token_divergence(student, teacher, targets, cfg.divergence, cfg.beta)
    loss = aggregate(per_token, mask)
    metrics = {"loss": loss,
               "entropy": aggregate(-jnp.sum(jnp.exp(student) * student, -1), mask)}
    if teacher is not None:
      metrics["reverse_kl"] = aggregate(jax.lax.stop_gradient(_kl(student, teacher)), mask)
    return loss, metrics

  return make_step(loss_fn, tx, lora)

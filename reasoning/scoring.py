"""Inference with a trained verifier: an ORM's or PRM's scores of solutions, read where training
put its labels (an ORM's at the EOS after a solution, a PRM's at the token that closes each
step). What the reward-model trainer (train/verifier.py), RL's learned rewards and the searchers
share; it imports neither.
"""

from __future__ import annotations

from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from reasoning import model as model_lib
from reasoning.text import Vocab, pad_examples, prompt_length, round_up

AGGREGATIONS = ("min", "prod", "last", "mean")


def reward_targets(vocab: Vocab, prompts: Sequence[str], completions: Sequence[str],
                   step_labels: Sequence[Sequence[float]], outcomes: Sequence[float], seq_len: int):
  """Tokens [B, T] and, per position, PRM and ORM masks and labels [B, T] float32.

  step_labels[b][i] belongs to the token that closes line i of completion b with its newline
  (the answer line included; a step end of `vocab.specials`); outcomes[b] to the EOS after the
  completion. Completions must end with a newline.
  """
  tokens, loss_mask = pad_examples(vocab, prompts, completions, seq_len)
  prm_mask = np.zeros_like(loss_mask)
  prm_labels = np.zeros_like(loss_mask)
  orm_mask = np.zeros_like(loss_mask)
  orm_labels = np.zeros_like(loss_mask)
  for b in range(len(prompts)):
    positions = np.flatnonzero(loss_mask[b])
    newlines = positions[np.isin(tokens[b, positions], vocab.specials.step_ends)]
    labels = list(step_labels[b])
    if len(labels) != len(newlines):
      raise ValueError(f"example {b}: {len(labels)} step labels for {len(newlines)} lines")
    prm_mask[b, newlines] = 1.0
    prm_labels[b, newlines] = labels
    orm_mask[b, positions[-1]] = 1.0  # the EOS
    orm_labels[b, positions[-1]] = outcomes[b]
  return {"tokens": tokens, "prm_mask": prm_mask, "prm_labels": prm_labels,
          "orm_mask": orm_mask, "orm_labels": orm_labels}


def seq_len_for(vocab, prompts: Sequence[str], completions: Sequence[str], *,
                minimum: int = 0, multiple: int = 16) -> int:
  """The smallest multiple of `multiple` (at least `minimum`) that holds every (BOS) prompt +
  completion + EOS. Decoded samples need not re-encode to as many tokens as were generated
  (byte-level BPE turns a split UTF-8 character into a replacement character), so lengths
  are measured, not assumed."""
  longest = max(prompt_length(vocab, p) + len(vocab.encode(c)) + 1
                for p, c in zip(prompts, completions))
  return max(minimum, round_up(longest, multiple))


def score_positions(graphdef, params, tokens, mask):
  """sigmoid(reward logits) [B, T] where mask is set, 0 elsewhere (jit-friendly)."""
  return jax.nn.sigmoid(model_lib.apply(graphdef, params, tokens).reward) * mask


def aggregate_steps(scores: Sequence[float], how: str) -> float:
  """A solution's score from its step scores: min (Lightman), prod, last, or mean."""
  if how not in AGGREGATIONS:
    raise ValueError(f"aggregation must be one of {AGGREGATIONS}, got {how!r}")
  s = np.asarray(scores, np.float64)
  if s.size == 0:
    return 0.0
  return float(s[-1] if how == "last" else getattr(np, how)(s))


def closed_lines(completion: str) -> list[str]:
  """The lines of a completion that end with a newline (a truncated last line is dropped)."""
  return completion.split("\n")[:-1]


_score = jax.jit(score_positions, static_argnums=0)


def score_completions(graphdef, params, vocab: Vocab, prompts: Sequence[str],
                      completions: Sequence[str], *, seq_len: int, kind: str,
                      aggregation: str = "min", chunk: int = 256):
  """Verifier scores of completions: per completion, the ORM's P(correct) at EOS, or the PRM's
  step scores aggregated by `aggregation`. Also returns the PRM step scores (lists) for AUCs.
  Runs in fixed-size chunks so one compilation serves every call."""
  scores, step_scores = [], []
  for start in range(0, len(prompts), chunk):
    p = list(prompts[start:start + chunk])
    c = list(completions[start:start + chunk])
    n = len(p)
    p, c = p + [p[-1]] * (chunk - n), c + [c[-1]] * (chunk - n)
    lines = [closed_lines(x) for x in c]
    t = reward_targets(vocab, p, c, [[0.0] * len(x) for x in lines], [0.0] * chunk, seq_len)
    mask = t[f"{kind}_mask"]
    s = np.asarray(_score(graphdef, params, jnp.asarray(t["tokens"]), jnp.asarray(mask)))
    for b in range(n):
      values = s[b][mask[b] > 0].tolist()
      step_scores.append(values)
      scores.append(values[-1] if kind == "orm" else aggregate_steps(values, aggregation))
  return np.array(scores), step_scores

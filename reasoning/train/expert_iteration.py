"""Expert iteration with MCTS (AlphaZero-style self-play on reasoning steps).

The expert is `search.mcts` (mctx); the apprentice is the raw policy. Each move of a search
leaves, at its root, K candidate next steps and mctx's `action_weights` over them: the search's
improved policy pi. Two ways to learn from it (experiments/expert_iteration.py picks by config):

  'policy': cross-entropy from pi to the policy, -sum_k pi_k log p(candidate_k | prefix) per
            token (pi is zero off the candidates), and the value head at the prefix regressed
            onto the outcome z (the verifier's verdict on the search's final answer):
            AlphaZero's (pi, z) targets. `policy_kl` reports KL(pi || the policy restricted to
            the candidates) as a diagnostic;
  'sft':    next-token cross-entropy on the verified final trajectories (rejection-sampling
            fine-tuning with search as the sampler).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from reasoning import model as model_lib
from reasoning.tasks import split_completion
from reasoning.text import PAD, VOCAB, round_up, strip_left_pad


def make_judge(task, problems, vocab=VOCAB):
  """judge(tokens [B, S]) -> [B] for `mcts.outcome_evaluator`: the verifier's verdict where a
  row (left-padded `[PAD..., BOS, prompt, steps]` in `vocab`) holds a finished solution to one
  of `problems`, NaN where it is unfinished or not one of them."""
  by_prompt = {p.prompt: p for p in problems}

  def judge(tokens):
    out = np.full(len(tokens), np.nan, np.float32)
    for i, row in enumerate(np.asarray(tokens)):
      text = vocab.decode(strip_left_pad(row, vocab.pad))
      at = text.find("\n")
      while at >= 0:  # the prompt is the row's first lines (one line for the synthetic tasks)
        problem = by_prompt.get(text[:at + 1])
        if problem is not None:
          rest = text[at + 1:]
          if split_completion(rest) is not None:
            out[i] = task.verify(problem, rest)
          break
        at = text.find("\n", at + 1)
    return out
  return judge


def policy_examples(trace: dict, outcomes: np.ndarray) -> dict[str, np.ndarray]:
  """Training rows from a `mcts.traced_mcts` trace: one per (move, problem) where the problem
  was still active and had at least two distinct candidates (one candidate teaches nothing).

  outcomes [P]: 1.0 if the search's final answer verified. Returns prefix [R, S] (left-padded),
  cands [R, K, T], cand_len [R, K], valid [R, K] (not a duplicate), weights [R, K] (zero where
  not valid, summing to one) and value_target [R].
  """
  active = np.asarray(trace["active"], bool)                  # [M, P]
  valid = ~np.asarray(trace["invalid"], bool)                 # [M, P, K]
  keep = active & (valid.sum(-1) >= 2)
  moves, rows = np.nonzero(keep)
  weights = np.where(valid, trace["weights"], 0.0)[moves, rows].astype(np.float32)
  weights /= np.maximum(weights.sum(-1, keepdims=True), 1e-9)
  return {"prefix": np.asarray(trace["root_tokens"])[moves, rows],
          "valid": valid[moves, rows],
          "cands": np.asarray(trace["cand_tokens"])[moves, rows],
          "cand_len": np.asarray(trace["cand_len"])[moves, rows],
          "weights": weights,
          "value_target": np.asarray(outcomes, np.float32)[rows]}


def trim_prefix(batch: dict[str, np.ndarray], multiple: int = 16,
                pad: int = PAD) -> dict[str, np.ndarray]:
  """Drops the leading all-`pad` columns of the left-padded prefixes (kept to a multiple of
  `multiple`, so few shapes compile)."""
  prefix = batch["prefix"]
  longest = int((prefix != pad).sum(1).max())
  width = min(prefix.shape[1], round_up(longest, multiple))
  return dict(batch, prefix=prefix[:, prefix.shape[1] - width:])


def candidate_logprobs(graphdef, params, prefix, cands, cand_len, pad: int = PAD):
  """log p(candidate_k | prefix) [R, K] for left-padded prefix [R, S] and candidate steps
  [R, K, T] (the first cand_len [R, K] tokens count), all R*K sequences in one forward pass;
  also the value head at each prefix's last token [R]."""
  r, k, t = cands.shape
  s = prefix.shape[1]
  inside = jnp.arange(t)[None, None] < cand_len[..., None]               # [R, K, T]
  cands = jnp.where(inside, cands, pad)
  tokens = jnp.concatenate([jnp.repeat(prefix, k, axis=0), cands.reshape(r * k, t)], axis=1)
  stats = model_lib.next_token_stats(graphdef, params, tokens)
  logp = stats.logp[:, s - 1:]                                           # predicts cands
  seq = (logp * inside.reshape(r * k, t)).sum(-1).reshape(r, k)
  return seq, stats.value.reshape(r, k, -1)[:, 0, s - 1]


def search_policy_loss(graphdef, params, batch, value_coef: float = 0.5, pad: int = PAD):
  """(loss, metrics) of the (pi, z) targets on a batch of `policy_examples` rows."""
  seq, value = candidate_logprobs(graphdef, params, batch["prefix"], batch["cands"],
                                  batch["cand_len"], pad)
  weights, valid = batch["weights"], batch["valid"]
  # Cross-entropy H(pi, p_theta) over sequences, pi being zero off the candidates: a pi-weighted
  # likelihood of the candidates, per token. Only pushes candidates up; the set-normalized
  # version, log softmax over the K candidates, also pushes the policy's own valid but unchosen
  # steps down, which moves their mass onto unseen (mostly invalid) text and wrecked the raw
  # policy in our runs.
  tokens = (weights * batch["cand_len"]).sum(-1)
  policy_loss = jnp.mean(-(weights * jnp.where(valid, seq, 0.0)).sum(-1) / jnp.maximum(tokens, 1))
  q = jax.nn.log_softmax(jnp.where(valid, seq, -1e9), axis=-1)
  set_ce = -(weights * jnp.where(valid, q, 0.0)).sum(-1).mean()
  value_loss = jnp.mean((value - batch["value_target"]) ** 2)
  entropy = -(weights * jnp.log(jnp.maximum(weights, 1e-9))).sum(-1).mean()
  agree = jnp.mean(jnp.argmax(jnp.where(valid, seq, -jnp.inf), -1) == jnp.argmax(weights, -1))
  loss = policy_loss + value_coef * value_loss
  return loss, {"loss": loss, "policy_loss": policy_loss, "value_loss": value_loss,
                "target_entropy": entropy, "policy_kl": set_ce - entropy,
                "policy_agrees": agree}


def train_on_search(graphdef, params, rows: dict[str, np.ndarray], model_cfg, mesh, *,
                    optim: dict, epochs: float, batch_size: int, value_coef: float, seed: int):
  """`epochs` passes of the (pi, z) loss over `policy_examples` rows, from a fresh optimizer.
  Returns (params, train FLOPs, steps, metrics of the last step)."""
  import math

  from reasoning import compute, loop, mesh as mesh_lib
  from reasoning.train import state as state_lib
  n = len(rows["weights"])
  steps = max(1, math.ceil(epochs * n / batch_size))
  tx = state_lib.optimizer_for(optim, steps)
  state = state_lib.create(jax.tree.map(jnp.copy, params), tx)
  state = jax.device_put(state, mesh_lib.state_shardings(mesh, state))
  pad = model_cfg.pad_id
  step_fn = state_lib.make_step(
      lambda params, batch: search_policy_loss(graphdef, params, batch, value_coef, pad), tx)

  def batch_at(step, _):
    epoch, at = divmod(step * batch_size, n)
    order = np.random.default_rng([seed, epoch]).permutation(n)
    idx = order[np.arange(at, at + batch_size) % n]
    batch = trim_prefix({key: value[idx] for key, value in rows.items()}, pad=pad)
    lengths = ((batch["prefix"] != pad).sum(1)[:, None] + batch["cand_len"]).reshape(-1)
    return batch, compute.train_flops(model_cfg, lengths), float(lengths.sum())

  state, flops, metrics = loop.fine_tune(step_fn, state, steps, batch_at, mesh=mesh)
  return state.params, flops, steps, metrics

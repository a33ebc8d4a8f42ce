"""MCTS over reasoning steps with mctx, a whole batch of problems inside one jitted call.

  search = make_search(policy_proposer(policy.graphdef, K, step_tokens),
                       prm_evaluator(prm.graphdef), num_simulations=32, max_moves=6)
  tokens, score, stats = search((policy.params, prm.params), root_tokens, key)
  result = mcts(policy, prm, prompts, key, ...)   # the same, from prompts to a metered Result

A node is a token prefix (left-padded [S], so appending a step is a per-row shift); its K actions
are K candidate next steps sampled from the policy when the node is created, with their sequence
log-probs as prior logits (or uniform). Identical candidates are masked as invalid. The node
embedding carries the prefix and its candidates, so `recurrent_fn` is pure: it appends the chosen
candidate, samples the child's K candidates and scores the child with the evaluator (the PRM's
P(success) at the step's newline, or the policy's value head). Choosing an answer line (or running
out of room) ends the episode: the transition's reward is the evaluator's score of the answer and
its discount is 0; otherwise reward 0, discount 1 and the child's value is its score. Rewards are
never the task's verdict: search does not read the ground truth.

`mctx.gumbel_muzero_policy` (default) or `mctx.muzero_policy` runs `num_simulations` per move.
commit='step' plays AlphaZero-style: after each search the chosen action's child becomes the next
root (its candidates and subtree statistics are recomputed); `max_moves` searches run inside one
`lax.scan`. commit='best_leaf' runs one search and returns the answer node with the highest reward;
'all_leaves' returns every node with its reward where it finished a solution (-inf elsewhere),
for pickers such as rStar's mutual consistency (reasoning/search/rstar.py).
Compute is reported per problem from the trees: each created node costs K candidate generations
from its prefix and one evaluation of the prefix (rows already finished are not counted).
"""

from __future__ import annotations

import functools
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import mctx
import numpy as np
from flax import struct

from reasoning import model as model_lib, sampling
from reasoning.search.base import Meter, Model, Result, check_one_vocab
from reasoning.tasks.base import ANSWER_PREFIX
from reasoning.text import (VOCAB, answer_ids, completion_of, line_end, pad_prompts,
                            prompt_length, round_up)

POLICIES = ("gumbel", "muzero")
COMMITS = ("step", "best_leaf", "all_leaves")
PRIORS = ("logprob", "uniform")


class Candidates(NamedTuple):
  tokens: jax.Array   # [B, K, T] each a step ending with a step end (an answer line's EOS
                      # becomes a newline), PAD after its length
  logprob: jax.Array  # [B, K] sequence log-prob under the policy
  length: jax.Array   # [B, K] tokens in the step
  final: jax.Array    # [B, K] the step ends the solution (answer line, or cut off at T)


@struct.dataclass
class Node:
  tokens: jax.Array      # [B, S] left-padded prefix: PAD..., BOS, prompt, steps
  prefix_len: jax.Array  # [B] real tokens in `tokens`
  terminal: jax.Array    # [B] no more steps from here
  value: jax.Array       # [B] evaluator's score of the prefix (of its last step)
  cands: Candidates      # the node's actions
  prior: jax.Array       # [B, K] prior logits (duplicates masked)
  invalid: jax.Array     # [B, K] candidate duplicates an earlier one


def append(tokens: jax.Array, step: jax.Array, length: jax.Array) -> jax.Array:
  """tokens [B, S] left-padded, step [B, T] (PAD after `length` [B]) -> the first `length` step
  tokens appended on the right, dropping as many leading PADs (the caller checks there is room)."""
  s = tokens.shape[1]
  both = jnp.concatenate([tokens, step], axis=1)
  return jax.vmap(lambda row, n: jax.lax.dynamic_slice(row, (n,), (s,)))(both, length)


def policy_proposer(graphdef, num_candidates: int, step_tokens: int, *, temperature: float = 1.0,
                    vocab=VOCAB):
  """propose(params, key, tokens [B, S]) -> Candidates: K sampled next steps per row, params =
  the policy's. `vocab` (the character vocabulary or a real tokenizer) gives the special ids and
  the tokens of an answer line."""
  specials, answer, newline = vocab.specials, answer_ids(vocab), line_end(vocab)
  if step_tokens <= len(answer):
    raise ValueError(f"mcts: step_tokens={step_tokens} cannot hold an answer line "
                     f"({ANSWER_PREFIX!r} alone is {len(answer)} tokens, then the answer)")

  def propose(params, key, tokens):
    b = tokens.shape[0]
    rows = jnp.repeat(tokens, num_candidates, axis=0)
    out = sampling.generate(graphdef, params, rows, key, max_new=step_tokens, stop="step",
                            temperature=temperature, specials=specials)
    steps = out.tokens.reshape(b, num_candidates, step_tokens)
    length = out.lengths.reshape(b, num_candidates)
    # EOS inside the step's length (after it the row holds padding).
    eos = (steps == specials.eos) & (jnp.arange(step_tokens) < length[..., None])
    head = steps[..., :len(answer)] == jnp.array(answer, jnp.int32)
    final = jnp.all(head, axis=-1) | eos.any(-1) | ~out.done.reshape(b, num_candidates)
    steps = jnp.where(eos, newline, steps)  # an answer line is scored at its newline
    return Candidates(steps, out.logprobs.sum(-1).reshape(b, num_candidates), length, final)
  return propose


def prm_evaluator(graphdef):
  """evaluate(params, tokens [B, S]) -> [B]: the PRM's P(success) at the last (newline) token."""
  def evaluate(params, tokens):
    return jax.nn.sigmoid(model_lib.apply(graphdef, params, tokens).reward[:, -1])
  return evaluate


def value_evaluator(graphdef):
  """evaluate(params, tokens) -> [B]: the policy's value head at the last token, clipped to [0, 1]."""
  def evaluate(params, tokens):
    return jnp.clip(model_lib.apply(graphdef, params, tokens).value[:, -1], 0.0, 1.0)
  return evaluate


def outcome_evaluator(graphdef, judge: Callable[[np.ndarray], np.ndarray]):
  """evaluate(params, tokens) -> [B] for self-play on TRAINING problems, where the environment
  knows the rules: judge(tokens [B, S] numpy) -> [B] float32, the verifier's verdict for a
  finished solution and NaN elsewhere; unfinished prefixes get the value head, as in
  AlphaZero (exact outcome at the end of a game, learned value inside). The judge runs on the
  host (`jax.pure_callback`), once per expansion of the whole batch."""
  value = value_evaluator(graphdef)

  def evaluate(params, tokens):
    v = value(params, tokens)
    verdict = jax.pure_callback(judge, jax.ShapeDtypeStruct(v.shape, jnp.float32), tokens)
    return jnp.where(jnp.isnan(verdict), v, verdict)
  return evaluate


def _duplicates(steps: jax.Array) -> jax.Array:
  """[B, K, T] -> [B, K] True where a candidate equals an earlier one."""
  same = jnp.all(steps[:, :, None] == steps[:, None, :], axis=-1)  # [B, K, K]
  earlier = jnp.tril(jnp.ones(same.shape[1:], bool), k=-1)       # [j, i]: i < j
  return jnp.any(same & earlier, axis=-1)


def make_search(propose: Callable, evaluate: Callable, *, num_simulations: int, max_moves: int,
                policy: str = "gumbel", commit: str = "step", prior: str = "logprob",
                max_depth: int | None = None, gumbel_scale: float = 1.0,
                max_considered: int = 16, pad: int = VOCAB.pad):
  """A jitted search(params, root_tokens [B, S], key) -> (tokens [B, S], score [B], stats).
  `pad` is the id left-padding the prefixes (the model's pad_id).

  params = (policy params, evaluator params), passed to propose and evaluate as params[0] and
  params[1]. stats (for compute): per move and tree node, whether it was created, its prefix
  length, its candidates' lengths and whether it was terminal, and which rows were still active.
  """
  if policy not in POLICIES or commit not in COMMITS or prior not in PRIORS:
    raise ValueError(f"mcts: policy must be in {POLICIES}, commit in {COMMITS}, prior in "
                     f"{PRIORS}; got {policy!r}, {commit!r}, {prior!r}")
  if num_simulations < 1 or max_moves < 1:
    raise ValueError(f"mcts: num_simulations and max_moves must be >= 1, got "
                     f"{num_simulations}, {max_moves}")

  def make_node(params, key, tokens, terminal):
    cands = propose(params[0], key, tokens)
    invalid = _duplicates(cands.tokens)
    logits = cands.logprob if prior == "logprob" else jnp.zeros_like(cands.logprob)
    return Node(tokens=tokens, prefix_len=(tokens != pad).sum(1).astype(jnp.int32),
                terminal=terminal, value=evaluate(params[1], tokens), cands=cands,
                prior=jnp.where(invalid, -1e9, logits), invalid=invalid)

  def recurrent_fn(params, key, action, node: Node):
    rows = jnp.arange(action.shape[0])
    step = node.cands.tokens[rows, action]
    length = node.cands.length[rows, action]
    room = node.tokens.shape[1] - node.prefix_len >= length
    grow = ~node.terminal & room
    tokens = jnp.where(grow[:, None], append(node.tokens, step, length), node.tokens)
    terminal = node.terminal | node.cands.final[rows, action] | ~room
    child = make_node(params, key, tokens, terminal)
    ends_here = terminal & ~node.terminal
    out = mctx.RecurrentFnOutput(
        reward=jnp.where(ends_here, child.value, 0.0),
        discount=jnp.where(terminal, 0.0, 1.0),
        prior_logits=child.prior,
        value=jnp.where(terminal, 0.0, child.value))
    return out, child

  def run_policy(params, key, node: Node):
    root = mctx.RootFnOutput(prior_logits=node.prior, value=node.value, embedding=node)
    if policy == "gumbel":
      out = mctx.gumbel_muzero_policy(params, key, root, recurrent_fn, num_simulations,
                                      invalid_actions=node.invalid, max_depth=max_depth,
                                      gumbel_scale=gumbel_scale,
                                      max_num_considered_actions=max_considered)
      action = out.action
    else:
      out = mctx.muzero_policy(params, key, root, recurrent_fn, num_simulations,
                               invalid_actions=node.invalid, max_depth=max_depth)
      action = jnp.argmax(out.search_tree.summary().visit_counts, axis=-1)
    return action, out.search_tree, out.action_weights

  def tree_stats(tree, active):
    emb = tree.embeddings
    return {"created": tree.node_visits > 0, "prefix_len": emb.prefix_len,
            "cand_len": emb.cands.length, "terminal": emb.terminal, "active": active}

  @jax.jit
  def search(params, root_tokens, key):
    b = root_tokens.shape[0]
    rows = jnp.arange(b)
    root_key, key = jax.random.split(key)
    root = make_node(params, root_key, root_tokens, jnp.zeros((b,), bool))
    if commit in ("best_leaf", "all_leaves"):
      _, tree, _ = run_policy(params, key, root)
      created = tree.node_visits > 0
      parent = jnp.maximum(tree.parents, 0)
      reward_in = tree.children_rewards[rows[:, None], parent, jnp.maximum(tree.action_from_parent, 0)]
      answered = created & tree.embeddings.terminal & (tree.parents >= 0)
      if commit == "all_leaves":  # every finished trajectory: tokens [B, N, S], score [B, N]
        emb = tree.embeddings  # and, for rStar, each node's prefix and last candidate
        stats = {**tree_stats(tree, jnp.ones((b,), bool)), "prefix_tokens": emb.tokens,
                 "finish_tokens": emb.cands.tokens[:, :, -1], "finish_len": emb.cands.length[:, :, -1]}
        stats = jax.tree.map(lambda x: x[None], stats)
        return tree.embeddings.tokens, jnp.where(answered, reward_in, -jnp.inf), stats
      # The best answer node; with none, the most-valued created node (an unfinished prefix).
      score = jnp.where(answered, reward_in, jnp.where(created, tree.embeddings.value - 2.0, -3.0))
      best = jnp.argmax(score, axis=1)
      tokens = tree.embeddings.tokens[rows, best]
      final_score = jnp.where(answered[rows, best], reward_in[rows, best],
                              tree.embeddings.value[rows, best])
      stats = jax.tree.map(lambda x: x[None], tree_stats(tree, jnp.ones((b,), bool)))
      return tokens, final_score, stats

    def move(node, key):
      active = ~node.terminal
      action, tree, weights = run_policy(params, key, node)
      child = tree.children_index[rows, 0, action]
      nxt = jax.tree.map(lambda x: x[rows, child], tree.embeddings)
      nxt = jax.tree.map(lambda new, old: jnp.where(
          active.reshape((-1,) + (1,) * (new.ndim - 1)), new, old), nxt, node)
      # The search's improved policy over the root's candidates: expert iteration's target.
      trace = {"root_tokens": node.tokens, "cand_tokens": node.cands.tokens,
               "cand_len": node.cands.length, "invalid": node.invalid, "weights": weights}
      return nxt, {**tree_stats(tree, active), "policy": trace}

    final, stats = jax.lax.scan(move, root, jax.random.split(key, max_moves))
    return final.tokens, final.value, stats

  return search


def stats_compute(meter: Meter, stats, policy_cfg, evaluator_cfg):
  """Adds the generation and evaluation compute recorded in `stats` to `meter` (host side).

  A node created in a tree of an active row costs the evaluation of its prefix and, unless it is
  terminal, K generations from it. Each later move's root is the previous move's chosen child,
  already paid for, so only move 0 pays for its root.
  """
  stats = jax.device_get(stats)
  moves, b, n = stats["created"].shape
  k = stats["cand_len"].shape[-1]
  for m in range(moves):
    pay = stats["created"][m] & stats["active"][m][:, None]
    if m > 0:
      pay[:, 0] = False  # this root is the previous move's chosen child, already paid for
    owners, nodes = np.nonzero(pay)
    prefix = stats["prefix_len"][m][owners, nodes]
    meter.add_scoring(evaluator_cfg, owners, prefix)
    grow = ~stats["terminal"][m][owners, nodes]
    g_owners, g_nodes = owners[grow], nodes[grow]
    meter.add_generation(policy_cfg, np.repeat(g_owners, k), np.repeat(prefix[grow], k),
                         stats["cand_len"][m][g_owners, g_nodes].reshape(-1))


def mcts(policy: Model, evaluator: Model, prompts, key: jax.Array, /, **kwargs) -> Result:
  """MCTS for each prompt (see make_search for options, `policy='muzero'` among them: the
  leading arguments are positional-only); returns a metered Result."""
  return traced_mcts(policy, evaluator, prompts, key, **kwargs)[0]


def traced_mcts(policy: Model, evaluator: Model, prompts, key: jax.Array, /, *,
                num_candidates: int = 4, num_simulations: int = 32, max_moves: int = 6,
                step_tokens: int = 24, temperature: float = 1.0, value="prm",
                **options) -> tuple[Result, dict | None]:
  """(mcts's Result, the per-move trace) where the trace (commit='step' only, else None) holds
  numpy arrays [moves, P, ...]: `root_tokens` [S] (the prefix searched from), `cand_tokens`
  [K, T], `cand_len` [K], `invalid` [K], `weights` [K] (mctx's action_weights, the search's
  improved policy) and `active` (the row had not finished before the move).

  value: 'prm' (evaluator = a reward model), 'value' (its value head) or a judge function for
  `outcome_evaluator` (training-time self-play with the verifier at finished solutions)."""
  if value not in ("prm", "value") and not callable(value):
    raise ValueError(f"mcts value must be 'prm', 'value' or a judge (outcome_evaluator), got "
                     f"{value!r}")
  vocab = policy.vocab
  check_one_vocab("mcts", policy, evaluator)
  longest = max(prompt_length(vocab, p) for p in prompts)
  seq = round_up(longest + max_moves * step_tokens, 16)
  seq = min(seq, policy.cfg.max_len - step_tokens)
  if longest >= seq:
    raise ValueError(f"mcts: prompts of up to {longest} tokens leave no room for steps in "
                     f"model.max_len={policy.cfg.max_len} with step_tokens={step_tokens}")
  search = _cached_search(policy.graphdef, evaluate_kind=value, evaluator_graphdef=evaluator.graphdef,
                          num_candidates=num_candidates, step_tokens=step_tokens,
                          temperature=temperature, num_simulations=num_simulations,
                          max_moves=max_moves, vocab=vocab, options=tuple(sorted(options.items())))
  tokens, score, stats = search((policy.params, evaluator.params),
                                jnp.asarray(pad_prompts(vocab, prompts, seq)), key)
  meter = Meter(len(prompts))
  stats = jax.device_get(stats)
  trace = stats.pop("policy", None)
  if trace is not None:
    trace["active"] = stats["active"]
  stats_compute(meter, stats, policy.cfg, evaluator.cfg)
  tokens = np.asarray(tokens)
  completions = []
  for row, prompt in zip(tokens, prompts):
    completions.append(completion_of(vocab, row, prompt))
  return meter.result(completions, np.asarray(score)), trace


@functools.lru_cache(maxsize=16)
def _cached_search(policy_graphdef, *, evaluate_kind, evaluator_graphdef, num_candidates,
                   step_tokens, temperature, num_simulations, max_moves, vocab, options):
  """One compiled search per configuration (graphdefs are hashable)."""
  if callable(evaluate_kind):  # a judge: the exact outcome at finished solutions
    evaluate = outcome_evaluator(evaluator_graphdef, evaluate_kind)
  else:
    evaluate = (prm_evaluator if evaluate_kind == "prm" else value_evaluator)(evaluator_graphdef)
  propose = policy_proposer(policy_graphdef, num_candidates, step_tokens, temperature=temperature,
                            vocab=vocab)
  return make_search(propose, evaluate, num_simulations=num_simulations, max_moves=max_moves,
                     pad=vocab.pad, **dict(options))


def traced_mcts_chunks(policy: Model, evaluator: Model, prompts: list[str], key: jax.Array, /,
                       *, batch: int, **kwargs) -> tuple[list[str], dict, float]:
  """traced_mcts over `prompts` in chunks of `batch` (the last padded with its last prompt, so
  one shape compiles), the key folded with each chunk's start: (completions, the trace with
  every chunk's rows concatenated [moves, P, ...], search FLOPs). Self-play for expert
  iteration."""
  completions, traces, flops = [], [], 0.0
  for start in range(0, len(prompts), batch):
    part = list(prompts[start:start + batch])
    n = len(part)
    part += [part[-1]] * (batch - n)
    result, trace = traced_mcts(policy, evaluator, part, jax.random.fold_in(key, start),
                                **kwargs)
    completions += result.completions[:n]
    traces.append(jax.tree.map(lambda x: x[:, :n], trace))
    flops += float(result.flops[:n].sum())
  # Chunks size their prefixes to their own prompts: left-pad them to one width.
  width = max(t["root_tokens"].shape[-1] for t in traces)
  for t in traces:
    pad = width - t["root_tokens"].shape[-1]
    t["root_tokens"] = np.pad(t["root_tokens"], [(0, 0), (0, 0), (pad, 0)],
                              constant_values=policy.vocab.pad)
  trace = jax.tree.map(lambda *xs: np.concatenate(xs, axis=1), *traces)
  return completions, trace, flops

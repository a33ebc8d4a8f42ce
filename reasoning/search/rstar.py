"""rStar (Qi et al. 2024): MCTS generation with a richer action space, then mutual consistency.

  out = rstar(generator, evaluator, discriminator, prompts, key, num_simulations=16)
  out.generator   # pick by the generator's score alone
  out.mutual      # pick among the mutually consistent trajectories (None without discriminator)

Generator: `mcts.make_search` with two action types at every node (rStar's A1 and A2, the ones
that exist in a step-by-step task without sub-questions): K-1 candidates propose ONE next step,
and one candidate writes ALL remaining steps to the answer at once. One search per problem
(commit='all_leaves') leaves many finished trajectories in its tree, each with the evaluator's
reward at its answer.

Discriminator: a second policy (differently seeded or differently trained). Each trajectory is cut
after a random number of its steps (at least one step removed); the discriminator completes the
prefix greedily; the trajectory is mutually consistent if the completion reaches the same answer
(for Countdown, whose answers are all the target, the same final equation: `consistency_key`).
The final answer is the highest-scored consistent trajectory (the highest-scored one overall if
none is). Compute: the search's nodes and the discriminator's prefills and decodes, per problem.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from reasoning import sampling
from reasoning.search import mcts
from reasoning.search.base import Meter, Model, Result, check_one_vocab, sample_steps
from reasoning.tasks import extract_answer, hint_of, split_completion
from reasoning.text import VOCAB, completion_of, pad_prompts, prompt_length, strip_left_pad


@dataclasses.dataclass
class RStarResult:
  generator: Result            # the generator alone: its best-scored trajectory
  mutual: Result | None        # with the discriminator's mutual consistency
  trajectories: list[list[str]]  # [P][...] distinct finished trajectories, best score first
  consistent: list[list[bool]] | None


def rstar_proposer(graphdef, num_candidates: int, step_tokens: int, finish_tokens: int, *,
                   temperature: float = 1.0, vocab=VOCAB):
  """propose(params, key, tokens [B, S]) -> mcts.Candidates [B, K, finish_tokens]: K-1 sampled
  next steps (padded) and, last, one sampled completion of all remaining steps (final)."""
  if num_candidates < 2 or finish_tokens < step_tokens:
    raise ValueError(f"rstar: need num_candidates >= 2 and finish_tokens >= step_tokens, got "
                     f"{num_candidates}, {finish_tokens} < {step_tokens}")
  one_step = mcts.policy_proposer(graphdef, num_candidates - 1, step_tokens,
                                  temperature=temperature, vocab=vocab)
  specials = vocab.specials

  def propose(params, key, tokens):
    step_key, finish_key = jax.random.split(key)
    steps = one_step(params, step_key, tokens)
    out = sampling.generate(graphdef, params, tokens, finish_key, max_new=finish_tokens,
                            stop="answer", temperature=temperature, specials=specials)
    # The answer line's own newline ends the text; EOS after it is dropped.
    eos = (out.tokens == specials.eos) & (jnp.arange(finish_tokens) < out.lengths[:, None])
    finish = jnp.where(eos, specials.pad, out.tokens)
    finish_len = out.lengths - eos.any(-1)
    pad = finish_tokens - step_tokens
    return mcts.Candidates(
        tokens=jnp.concatenate([jnp.pad(steps.tokens, ((0, 0), (0, 0), (0, pad)),
                                        constant_values=specials.pad),
                                finish[:, None]], axis=1),
        logprob=jnp.concatenate([steps.logprob, out.logprobs.sum(-1)[:, None]], axis=1),
        length=jnp.concatenate([steps.length, finish_len[:, None]], axis=1),
        final=jnp.concatenate([steps.final, jnp.ones_like(steps.final[:, :1])], axis=1))
  return propose


@functools.lru_cache(maxsize=8)
def _cached_search(generator_graphdef, evaluator_graphdef, value, num_candidates, step_tokens,
                   finish_tokens, temperature, num_simulations, policy, vocab):
  evaluate = (mcts.prm_evaluator if value == "prm" else mcts.value_evaluator)(evaluator_graphdef)
  propose = rstar_proposer(generator_graphdef, num_candidates, step_tokens, finish_tokens,
                           temperature=temperature, vocab=vocab)
  return mcts.make_search(propose, evaluate, num_simulations=num_simulations, max_moves=1,
                          policy=policy, commit="all_leaves", pad=vocab.pad)


def _finish_trajectories(generator: Model, evaluator: Model, value: str, meter: Meter, prompts,
                         stats):
  """Every created node already sampled a full solution from its prefix (its finish action);
  score those the search did not expand, so each simulation yields a finished trajectory, as
  each rollout does in rStar. Returns per problem (completions, scores); the scoring is metered."""
  stats = jax.device_get(stats)
  created = stats["created"][0] & ~stats["terminal"][0]               # [B, N]
  owners, nodes = np.nonzero(created)
  texts: list[list[str]] = [[] for _ in prompts]
  scores: list[list[float]] = [[] for _ in prompts]
  if not len(owners):
    return texts, scores
  prefix = stats["prefix_tokens"][0][owners, nodes]                   # [R, S] left-padded
  finish = stats["finish_tokens"][0][owners, nodes]                    # [R, T]
  length = stats["finish_len"][0][owners, nodes]
  pad = generator.vocab.pad
  rows = [list(strip_left_pad(p, pad)) + list(f[:n]) for p, f, n in zip(prefix, finish, length)]
  width = max(map(len, rows))
  batch = np.full((len(rows), width), pad, np.int32)
  for i, r in enumerate(rows):
    batch[i, width - len(r):] = r
  evaluate = _evaluator(evaluator.graphdef, value)
  values = np.asarray(evaluate(evaluator.params, jnp.asarray(batch)))
  meter.add_scoring(evaluator.cfg, owners, [len(r) for r in rows])
  for o, r, v in zip(owners, rows, values):
    texts[o].append(completion_of(generator.vocab, r, prompts[o]))
    scores[o].append(float(v))
  return texts, scores


@functools.lru_cache(maxsize=8)
def _evaluator(graphdef, value):
  return jax.jit((mcts.prm_evaluator if value == "prm" else mcts.value_evaluator)(graphdef))


def consistency_key(task) -> Callable[[str], str | None]:
  """answer_of for `rstar`: `tasks.hint_of`, the answer or (Countdown, whose every solution
  ends at the target) the last equation; None for a malformed completion. Agreeing on the bare
  target would make any two solutions that claim it consistent, fudged or not."""
  def answer_of(completion: str) -> str | None:
    return hint_of(task, completion) if split_completion(completion) is not None else None
  return answer_of


def pick(trajectories: list[str], scores, consistent=None) -> int:
  """Index of the highest-scored trajectory, among the consistent ones where any is."""
  scores = np.asarray(scores, np.float64)
  if consistent is not None and any(consistent):
    scores = np.where(consistent, scores, -np.inf)
  return int(np.argmax(scores))


def cut_points(trajectories: list[str], rng: np.random.Generator) -> list[str]:
  """For each trajectory, the prefix of its first r step lines, r uniform in [0, steps - 1]
  (at least one step, or the answer line, is left for the discriminator)."""
  prefixes = []
  for text in trajectories:
    steps = (split_completion(text) or ([], ""))[0]
    r = int(rng.integers(0, max(len(steps), 1)))
    prefixes.append("".join(line + "\n" for line in steps[:r]))
  return prefixes


def rstar(generator: Model, evaluator: Model, discriminator: Model | None, prompts, key, *,
          num_candidates: int = 4, num_simulations: int = 16, step_tokens: int = 16,
          finish_tokens: int = 48, temperature: float = 1.0, value: str = "prm",
          policy: str = "gumbel", max_trajectories: int = 8, seed: int = 0,
          answer_of: Callable[[str], str | None] = extract_answer) -> RStarResult:
  """rStar on each prompt; see the module docstring. answer_of(completion) is what the
  discriminator must agree on: the answer, or where every solution has the same answer
  (Countdown's target) the answer-bearing last step (`consistency_key`)."""
  vocab = generator.vocab
  check_one_vocab("rstar", generator, evaluator, role="generator")
  seq = generator.cfg.max_len - finish_tokens  # all the room the model's context leaves
  longest = max(prompt_length(vocab, p) for p in prompts)
  if longest + step_tokens > seq:
    raise ValueError(f"rstar: prompts of up to {longest} tokens leave no room for steps in "
                     f"model.max_len={generator.cfg.max_len} after finish_tokens={finish_tokens}")
  search = _cached_search(generator.graphdef, evaluator.graphdef, value, num_candidates,
                          step_tokens, finish_tokens, temperature, num_simulations, policy, vocab)
  tokens, scores, stats = search((generator.params, evaluator.params),
                                 jnp.asarray(pad_prompts(vocab, prompts, seq)), key)
  meter = Meter(len(prompts))
  mcts.stats_compute(meter, stats, generator.cfg, evaluator.cfg)
  tokens, scores = np.asarray(tokens), np.asarray(scores)
  extra_texts, extra_scores = _finish_trajectories(generator, evaluator, value, meter, prompts,
                                                   stats)

  trajectories, best_scores = [], []
  for p, prompt in enumerate(prompts):
    found: dict[str, float] = {}
    leaves = [(float(scores[p, n]), completion_of(vocab, tokens[p, n], prompt))
              for n in range(scores.shape[1]) if np.isfinite(scores[p, n])]
    for score, text in sorted(leaves + list(zip(extra_scores[p], extra_texts[p])), reverse=True):
      if split_completion(text) is not None and text not in found:
        found[text] = score
    kept = list(found.items())[:max_trajectories] or [("", 0.0)]  # nothing finished
    trajectories.append([t for t, _ in kept])
    best_scores.append([s for _, s in kept])

  choose = lambda chosen: [t[i] for t, i in zip(trajectories, chosen)]
  gen_pick = [pick(t, s) for t, s in zip(trajectories, best_scores)]
  generator_result = Result(choose(gen_pick),
                            np.array([s[i] for s, i in zip(best_scores, gen_pick)]),
                            meter.generated.copy(), meter.scored.copy(), meter.flops.copy())
  if discriminator is None:
    return RStarResult(generator_result, None, trajectories, None)

  owners = [p for p, ts in enumerate(trajectories) for t in ts if t]
  texts = [t for ts in trajectories for t in ts if t]
  consistent = [[False] * len(ts) for ts in trajectories]
  if texts:
    prefixes = cut_points(texts, np.random.default_rng(seed))
    completions = sample_steps(discriminator, meter, owners, [prompts[o] for o in owners],
                               prefixes, jax.random.fold_in(key, 1), max_new=finish_tokens,
                               temperature=0.0, stop="answer")
    flat = iter(range(len(texts)))
    for p, ts in enumerate(trajectories):
      for j, t in enumerate(ts):
        if t:
          i = next(flat)
          consistent[p][j] = answer_of(prefixes[i] + completions[i]) == answer_of(t)
  mutual_pick = [pick(t, s, c) for t, s, c in zip(trajectories, best_scores, consistent)]
  mutual = meter.result(choose(mutual_pick), [s[i] for s, i in zip(best_scores, mutual_pick)])
  return RStarResult(generator_result, mutual, trajectories, consistent)

"""Step-level search guided by a PRM: beam search and lookahead search (Snell et al. 2024, sec. 5).

  result = beam_search(policy, prm, prompts, key, beams=4, expand=4)               # beam
  result = beam_search(policy, prm, prompts, key, beams=4, expand=4, lookahead=2)  # lookahead

Per problem, the first round samples `beams * expand` first steps; each later round expands every
unfinished beam with `expand` sampled next steps (so `beams * expand` samples per round is the
budget knob, Snell's N). Every candidate is scored by the PRM's score of its last step; with
`lookahead=k`, by the PRM's score after rolling k further steps out greedily (the rollout is
thrown away: Snell's simplification of MCTS). Identical candidates are merged; the best `beams`
of the new candidates and the finished beams are kept. A beam finishes at its answer line (or a
line cut off at `step_tokens`); after `max_steps` rounds, unfinished beams are completed
greedily. The pick among the final beams is the best-scored one (`pick='best'`) or PRM-weighted
voting over their answers (`pick='weighted'`). All compute is metered per problem.
"""

from __future__ import annotations

from typing import Sequence

import jax

from reasoning.search import best_of_n
from reasoning.search.base import Meter, Model, Result, is_final, sample_steps, score_prefixes
from reasoning.tasks import extract_answer

PICKS = ("best", "weighted")


def _lookahead_scores(policy, prm, meter, owners, prompts, prefixes, depth, step_tokens):
  """PRM score of each prefix after `depth` greedy steps (depth 0: of the prefix itself)."""
  rolled = list(prefixes)
  for _ in range(depth):
    open_rows = [i for i, x in enumerate(rolled) if not is_final(x)]
    if not open_rows:
      break
    steps = sample_steps(policy, meter, [owners[i] for i in open_rows],
                         [prompts[i] for i in open_rows], [rolled[i] for i in open_rows],
                         jax.random.key(0), max_new=step_tokens, temperature=0.0)
    for i, step in zip(open_rows, steps):
      rolled[i] += step
  return score_prefixes(prm, meter, owners, prompts, rolled)


def beam_search(policy: Model, prm: Model, prompts: Sequence[str], key: jax.Array, *,
                beams: int, expand: int, lookahead: int = 0, max_steps: int = 8,
                step_tokens: int = 24, temperature: float = 1.0, pick: str = "best") -> Result:
  """Beam (lookahead=0) or lookahead search for every prompt; see the module docstring."""
  if beams < 1 or expand < 1 or lookahead < 0 or max_steps < 1:
    raise ValueError(f"beam search needs beams, expand, max_steps >= 1 and lookahead >= 0; got "
                     f"beams={beams} expand={expand} max_steps={max_steps} lookahead={lookahead}")
  if pick not in PICKS:
    raise ValueError(f"beam search pick must be one of {PICKS}, got {pick!r}")
  meter = Meter(len(prompts))
  # Per problem: {prefix: score}; the empty prefix is the root.
  frontier: list[dict[str, float]] = [{"": 0.0} for _ in prompts]
  for round_ in range(max_steps):
    owners, parents = [], []
    for p, kept in enumerate(frontier):
      width = beams * expand if round_ == 0 else expand
      for prefix in kept:
        if not is_final(prefix):
          owners += [p] * width
          parents += [prefix] * width
    if not owners:
      break
    rows_prompts = [prompts[p] for p in owners]
    steps = sample_steps(policy, meter, owners, rows_prompts, parents,
                         jax.random.fold_in(key, round_), max_new=step_tokens,
                         temperature=temperature)
    candidates = [parent + step for parent, step in zip(parents, steps)]
    # Merge duplicates before scoring: the same text always gets the same score.
    unique: dict[tuple, None] = {}
    for p, c in zip(owners, candidates):
      unique.setdefault((p, c), None)
    keys = list(unique)
    scores = _lookahead_scores(policy, prm, meter, [p for p, _ in keys],
                               [prompts[p] for p, _ in keys], [c for _, c in keys], lookahead,
                               step_tokens)
    pool: list[dict[str, float]] = [{x: s for x, s in kept.items() if is_final(x)}
                                    for kept in frontier]
    for (p, c), s in zip(keys, scores):
      pool[p][c] = float(s)
    frontier = [dict(sorted(cands.items(), key=lambda kv: -kv[1])[:beams]) for cands in pool]
  # Complete unfinished beams greedily, then score them as whole solutions.
  open_rows = [(p, x) for p, kept in enumerate(frontier) for x in kept if not is_final(x)]
  if open_rows:
    rest = sample_steps(policy, meter, [p for p, _ in open_rows], [prompts[p] for p, _ in open_rows],
                        [x for _, x in open_rows], jax.random.key(0), max_new=4 * step_tokens,
                        temperature=0.0, stop="answer")
    done = [x + r for (_, x), r in zip(open_rows, rest)]
    scores = score_prefixes(prm, meter, [p for p, _ in open_rows], [prompts[p] for p, _ in open_rows],
                            done)
    for (p, x), full, s in zip(open_rows, done, scores):
      del frontier[p][x]
      frontier[p][full] = float(s)
  chosen, chosen_scores = [], []
  for kept in frontier:
    kept = kept or {"": 0.0}
    texts, scores = list(kept), list(kept.values())
    i = best_of_n.select([extract_answer(t) for t in texts], scores,
                         "best" if pick == "best" else "weighted")
    chosen.append(texts[i])
    chosen_scores.append(scores[i])
  return meter.result(chosen, chosen_scores, candidates=[list(kept) for kept in frontier])

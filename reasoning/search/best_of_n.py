"""Best-of-N selection over a pool of sampled solutions (Cobbe et al. 2021; Lightman et al. 2023;
Li et al. 2023 and Uesato et al. 2022 for weighted voting).

A pool holds, per problem, N completions, their parsed answers (None if malformed) and a
verifier score per completion (ORM score, or PRM step scores aggregated by min/prod/last/mean).
Selectors return the index of the chosen completion, so the task's verifier judges the whole
chosen completion (its steps included), never just a bare answer:

  majority        most frequent answer; the first completion giving it
  best            the highest-scored completion
  weighted        the answer with the largest total score; its highest-scored completion
Malformed completions never win a vote; if all are malformed, index 0 is returned.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Sequence

import numpy as np

SELECTORS = ("majority", "best", "weighted")


def select(answers: Sequence[str | None], scores: Sequence[float], method: str) -> int:
  """Index of the chosen completion among N. answers: [N] (None = malformed); scores: [N]."""
  if method not in SELECTORS:
    raise ValueError(f"best-of-N selector must be one of {SELECTORS}, got {method!r}")
  valid = {i: a for i, a in enumerate(answers) if a is not None}
  if not valid:
    return 0
  if method == "best":
    return max(valid, key=lambda i: (scores[i], -i))
  weight: defaultdict[str, float] = defaultdict(float)
  first: dict[str, int] = {}
  top: dict[str, int] = {}
  for i, a in valid.items():
    weight[a] += 1.0 if method == "majority" else scores[i]
    first.setdefault(a, i)
    if a not in top or scores[i] > scores[top[a]]:
      top[a] = i
  winner = max(weight, key=lambda a: (weight[a], -first[a]))  # ties: the earliest answer
  return first[winner] if method == "majority" else top[winner]


def selected_score(scores: np.ndarray, n: int, rng: np.random.Generator,
                   resamples: int = 200) -> float:
  """The proxy reward of best-of-n selection: the mean over problems and `resamples` draws of n
  pool members (without replacement) of the highest of their scores [P, M]."""
  p, m = scores.shape
  draws = np.argsort(rng.random((resamples, p, m)), axis=-1)[..., :n]
  return float(np.take_along_axis(np.broadcast_to(scores, (resamples, p, m)), draws, -1)
               .max(-1).mean())


def bootstrap_accuracy(correct: np.ndarray, answers: list[list[str | None]], scores: np.ndarray,
                       n: int, method: str, rng: np.random.Generator, resamples: int = 200):
  """Accuracy of best-of-n drawn from pools of M >= n, resampled as in Lightman et al.

  correct, scores: [P, M] per problem and pool member; answers: P lists of M.
  Returns (mean, 5th percentile, 95th percentile) over `resamples` draws without replacement.
  """
  p, m = correct.shape
  if n > m:
    raise ValueError(f"best-of-{n} needs pools of at least {n}, got {m}")
  accs = np.empty(resamples)
  for r in range(resamples):
    hits = 0.0
    for j in range(p):
      idx = rng.choice(m, size=n, replace=False)
      chosen = select([answers[j][i] for i in idx], scores[j, idx], method)
      hits += correct[j, idx[chosen]]
    accs[r] = hits / p
  return float(accs.mean()), float(np.percentile(accs, 5)), float(np.percentile(accs, 95))

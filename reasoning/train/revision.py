"""Training data for a revision model (Snell et al. 2024, section 6): a model that writes a new
attempt at a problem conditioned on its earlier, wrong ones.

A revision prompt is the problem's prompt, then each earlier attempt followed by the line
`revise`; the completion is the next attempt:

  countdown 3 8 5 to 29
  8*5=40
  40-3=37
  ANSWER: 37
  revise
  8*3=24
  24+5=29
  ANSWER: 29

The fine-tuning trajectories come from the policy's own samples: each right sample of a problem
is paired with k of the problem's wrong (well-formed) samples, k uniform in 0..max_wrong (0: a
plain first attempt, so the model still starts a chain), chosen by character edit distance to
the right one (the closest k, in order of decreasing distance, so the last attempt before the
fix is the one most like it). A context that does not fit the model keeps its latest attempts.

With critiques, each earlier attempt is followed by a line saying which step is wrong and why
(`step 2 is wrong: 6 is not in 5 24`, reasoning/critique.py): the oracle's when training,
the critic's at test time, so the revision model learns to act on a critique.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from reasoning.critique import fitted_prompt, with_critique
from reasoning.tasks import Problem, Task, split_completion
from reasoning.tasks.base import reference_completion


def edit_distance(a: str, b: str) -> int:
  """Levenshtein distance between two strings (insert, delete, substitute: cost 1 each)."""
  if len(a) < len(b):
    a, b = b, a
  row = list(range(len(b) + 1))
  for i, ca in enumerate(a, 1):
    prev, row[0] = row[0], i
    for j, cb in enumerate(b, 1):
      prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
  return row[-1]


def trajectories(task: Task, problems: Sequence[Problem], samples: Sequence[Sequence[str]], *,
                 max_wrong: int, rng: np.random.Generator,
                 fits: Callable[[str], bool] = lambda text: True,
                 oracle_fixes: bool = False,
                 critique: Callable[[Problem, str], str] | None = None,
                 keep_right: float = 0.0) -> list[tuple[str, str]]:
  """(revision prompt, right attempt) pairs: for every distinct right sample of each problem,
  k ~ U{0..max_wrong} of its distinct well-formed wrong samples, the closest to it in edit
  distance, farthest first; `fits(prompt + completion)` bounds the context (oldest dropped).
  A problem without a wrong sample gives only k = 0 pairs; one without a right sample none, or
  with `oracle_fixes` the task's reference solution as its one fix (a teacher's correction,
  beyond Snell's own-samples-only data). With `critique(problem, attempt) -> text`, each wrong
  attempt in the context is followed by its critique line (a right one by its critique too).
  With `keep_right` = p, each pair is followed, with probability p, by one whose context ends
  with the right attempt itself and whose completion repeats it: a chain that reached a right
  answer keeps it instead of trading it for another attempt."""
  out = []
  for problem, texts in zip(problems, samples):
    right = list(dict.fromkeys(t for t in texts if task.verify(problem, t)))
    if not right and oracle_fixes:
      right = [reference_completion(task, problem)]
    wrong = list(dict.fromkeys(t for t in texts if not task.verify(problem, t)
                               and split_completion(t) is not None))
    for fix in right:
      k = int(rng.integers(max_wrong + 1))
      chosen = sorted(wrong, key=lambda w: (edit_distance(w, fix), w))[:k][::-1]
      chosen = [with_critique(w, None if critique is None else critique(problem, w))
                for w in chosen]
      prompt = fitted_prompt(problem, chosen, len(chosen),
                             lambda prompt: fits(prompt + fix))
      out.append((prompt, fix))
      if keep_right and rng.random() < keep_right:
        shown = with_critique(fix, None if critique is None else critique(problem, fix))
        out.append((fitted_prompt(problem, chosen + [shown], len(chosen) + 1,
                                  lambda prompt: fits(prompt + fix)), fix))
  return out

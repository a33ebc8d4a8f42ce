"""A critic: a generative verifier that writes which step of a solution is wrong and why.

CriticGPT-style (McAleese et al. 2024) on tasks with an exact step oracle: the training critique
of a solution comes from the task's `step_labels` (the first step labelled 0 is the first wrong
one) and, where the task has one, its `explain(problem, steps, k)`, which says why. The critic
reads the problem and the solution and writes

  step 2 is wrong: 6 is not in 24 5
  ANSWER: 2

or, for a solution with no wrong step,

  all steps are right
  ANSWER: none

so its verdict is an answer line the tasks' parser reads (`extract_answer`), and any policy
checkpoint fine-tunes into a critic with the SFT loss. Steps are numbered from 1 over the
solution's lines, its answer line included (a wrong answer is a wrong step). The critic's score
is how often its verdict names the oracle's first wrong step (`score_verdicts`), against a
PRM's (`prm_verdict`: the lowest-scored step, or the first below a threshold) and against
naming the last step (a wrong Countdown solution's error is often its fudged last line).
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from reasoning.critique import (ALL_RIGHT, critic_prompt, critique, first_wrong_step,
                                solution_lines, verdict)
from reasoning.tasks import Problem, Task


def examples(task: Task, problems: Sequence[Problem], completions: Sequence[str], *,
             rng: np.random.Generator, right_share: float = 0.5) -> list[tuple[str, str]]:
  """(critic prompt, oracle critique) pairs from a policy's own samples: every well-formed wrong
  solution (a wrong step somewhere) and right ones up to `right_share` of the set, drawn with
  `rng`; malformed ones are dropped."""
  wrong: list[tuple[str, str]] = []
  right: list[tuple[str, str]] = []
  for p, c in zip(problems, completions):
    text = critique(task, p, c)
    if text is not None:
      (right if text.startswith(ALL_RIGHT) else wrong).append((critic_prompt(p, c), text))
  keep = min(len(right), int(round(len(wrong) * right_share / (1 - right_share)))
             if right_share < 1 else len(right))
  chosen = [right[i] for i in sorted(rng.choice(len(right), keep, replace=False))]
  return wrong + chosen


def prm_verdict(step_scores: Sequence[float], threshold: float | None) -> int | None:
  """A PRM's verdict from its step scores: with `threshold`, the first step scored below it
  (None if none is); without, the lowest-scored step (Lightman's min), which always names one."""
  s = np.asarray(step_scores, np.float64)
  if s.size == 0:
    return None
  if threshold is None:
    return int(np.argmin(s)) + 1
  below = np.flatnonzero(s < threshold)
  return int(below[0]) + 1 if below.size else None


def score_verdicts(truth: Sequence[int | None], predicted: Sequence[int | None | str],
                   difficulties: Sequence[int] | None = None) -> dict[str, float]:
  """How well verdicts name the oracle's first wrong step: `accuracy` over every solution (a
  right one is named correctly by None), `wrong_named` over the solutions with a wrong step,
  `right_passed` over those without, `malformed` the share of unreadable verdicts, with the
  standard error of each (`se/...`) and the counts; per difficulty too (`.../d{k}`)."""
  truth, predicted = list(truth), list(predicted)
  hit = np.array([t == p for t, p in zip(truth, predicted)], float)
  has_wrong = np.array([t is not None for t in truth])
  groups = {"": np.ones(len(truth), bool)}
  if difficulties is not None:
    d = np.asarray(difficulties)
    groups.update({f"/d{k}": d == k for k in sorted(set(d.tolist()))})
  out: dict[str, float] = {}
  for suffix, rows in groups.items():
    for name, sel in (("accuracy", rows), ("wrong_named", rows & has_wrong),
                      ("right_passed", rows & ~has_wrong)):
      n = int(sel.sum())
      mean = float(hit[sel].mean()) if n else float("nan")
      out[name + suffix] = mean
      out["se/" + name + suffix] = float(np.sqrt(mean * (1 - mean) / n)) if n > 1 else float("nan")
      out["count/" + name + suffix] = n
  out["malformed"] = float(np.mean([p == "malformed" for p in predicted])) if predicted else 0.0
  return out


def readable(problems: Sequence[Problem], completions: Sequence[str],
             fits: Callable[[str], bool]) -> tuple[list[int], list[str]]:
  """(indices, critic prompts) of the `completions` a critic can read: well-formed solutions
  whose critic prompt `fits` its context."""
  kept, prompts = [], []
  for i, c in enumerate(completions):
    if solution_lines(c) is not None:
      prompt = critic_prompt(problems[i], c)
      if fits(prompt):
        kept.append(i)
        prompts.append(prompt)
  return kept, prompts


def judge(generate: Callable[[list[str]], list[str]], task: Task, problems: Sequence[Problem],
          completions: Sequence[str], fits: Callable[[str], bool] = lambda prompt: True):
  """The critic's critiques of well-formed `completions` whose critic prompt `fits` the critic's
  context (`generate(prompts) -> texts`), their verdicts and the oracle's first wrong steps:
  (kept indices, critiques, verdicts, truth)."""
  kept, prompts = readable(problems, completions, fits)
  texts = generate(prompts) if prompts else []
  truth = [first_wrong_step(task.step_labels(problems[i], solution_lines(completions[i]) or []))
           for i in kept]
  return kept, texts, [verdict(t) for t in texts], truth

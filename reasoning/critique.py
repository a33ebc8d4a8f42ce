"""The critique and revision formats, and a critic's inference: what a critic reads and writes
(reasoning/train/critic.py trains one), the oracle's critique of a solution, and the prompt of a
revision model (reasoning/train/revision.py trains one) with its earlier attempts and their
critiques. What the trainers and the searchers (search/revision.py) share; it imports neither.

A critic reads the problem and the solution and writes

  step 2 is wrong: 6 is not in 24 5
  ANSWER: 2

or, for a solution with no wrong step,

  all steps are right
  ANSWER: none

Steps are numbered from 1 over the solution's lines, its answer line included. A revision
prompt is the problem's prompt, then each earlier attempt followed by the line `revise`.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from reasoning import compute, evaluation
from reasoning.model import Model
from reasoning.tasks import Problem, Task, split_completion
from reasoning.tasks.base import answer_line, extract_answer
from reasoning.text import prompt_length

CRITIC_MARK = "check\n"       # ends a critic's prompt: the problem, the solution, then this line
ALL_RIGHT = "all steps are right"
NO_WRONG_STEP = "none"        # the verdict of a solution without a wrong step
REVISE_MARK = "revise\n"      # ends each earlier attempt in a revision prompt


def critic_prompt(problem: Problem, completion: str) -> str:
  """What the critic reads: the problem's prompt, the solution, and the line `check`."""
  if not completion.endswith("\n"):
    completion += "\n"
  return problem.prompt + completion + CRITIC_MARK


def fits(critic: Model, prompt: str, max_new: int) -> bool:
  """Whether a critic prompt leaves `max_new` tokens for its critique within the critic's
  max_len (a prompt and its critique share the model's context)."""
  return prompt_length(critic.vocab, prompt) <= critic.cfg.max_len - max_new


def write(critic: Model, prompts: Sequence[str], key, *, max_new: int,
          slots: int = 0) -> tuple[list[str], np.ndarray]:
  """The critic's greedy critiques of `prompts` (each one `fits`) and the generation FLOPs of
  each [N]."""
  texts, lengths = evaluation.complete(critic.graphdef, critic.params, critic.vocab, prompts,
                                       key, prompt_len=critic.cfg.max_len - max_new,
                                       max_new=max_new, temperature=0.0, slots=slots)
  return texts, compute.generation_flops_rows(
      critic.cfg, [prompt_length(critic.vocab, p) for p in prompts], lengths)


def first_wrong_step(labels: Sequence[int]) -> int | None:
  """The 1-based index of the first step labelled 0, or None when every step is good."""
  for i, label in enumerate(labels):
    if not label:
      return i + 1
  return None


def solution_lines(completion: str) -> list[str] | None:
  """A well-formed completion's lines, its answer line last; None for a malformed one (no
  answer line, or text after it): a critic judges finished solutions."""
  parts = split_completion(completion)
  return None if parts is None else parts[0] + [answer_line(parts[1])]


def critique(task: Task, problem: Problem, completion: str) -> str | None:
  """The oracle critique of a well-formed completion (None for a malformed one): its reason line
  and its verdict line. The reason is the task's `explain` where it has one, else only the step."""
  lines = solution_lines(completion)
  if lines is None:
    return None
  wrong = first_wrong_step(task.step_labels(problem, lines))
  if wrong is None:
    return f"{ALL_RIGHT}\n{answer_line(NO_WRONG_STEP)}\n"
  explain = getattr(task, "explain", None)
  reason = f"step {wrong} is wrong" + (f": {explain(problem, lines, wrong - 1)}" if explain
                                       else "")
  return f"{reason}\n{answer_line(str(wrong))}\n"


def verdict(critique_text: str) -> int | None | str:
  """The step a critique names (1-based), None for `ANSWER: none`, or 'malformed'."""
  answer = extract_answer(critique_text)
  if answer == NO_WRONG_STEP:
    return None
  if answer is not None and answer.isdigit() and int(answer) > 0:
    return int(answer)
  return "malformed"


def revision_prompt(problem: Problem, previous: Sequence[str]) -> str:
  """The prompt of the next attempt after the attempts `previous` (oldest first; each with its
  critique line when there is one: `with_critique`)."""
  return problem.prompt + "".join((a if a.endswith("\n") else a + "\n") + REVISE_MARK
                                  for a in previous)


def with_critique(attempt: str, critique_text: str | None) -> str:
  """An earlier attempt as the revision prompt shows it: the attempt, then the first line of its
  critique (none when `critique_text` is None)."""
  attempt = attempt if attempt.endswith("\n") else attempt + "\n"
  return attempt if critique_text is None else attempt + critique_text.split("\n")[0] + "\n"


def fitted_prompt(problem: Problem, previous: Sequence[str], context: int,
                  fits: Callable[[str], bool]) -> str:
  """The revision prompt with at most the last `context` attempts of `previous`, dropping the
  oldest until it `fits` (the problem's plain prompt always does)."""
  kept = list(previous[len(previous) - context:]) if context else []
  while kept and not fits(revision_prompt(problem, kept)):
    kept = kept[1:]
  return revision_prompt(problem, kept)

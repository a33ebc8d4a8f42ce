"""The task contract shared by every task family (see DESIGN.md, "Contracts").

A task makes `Problem`s, solves them exactly, verifies completions and labels steps:

  sample(rng, n, difficulty) -> list[Problem]
  solve(problem) -> list[str] | None        lines of a correct completion; None for a trap
  verify(problem, completion) -> float      1.0 correct, 0.0 otherwise; never raises
  step_labels(problem, steps) -> list[int]  1 while a correct answer is still reachable

Text format: one reasoning step per line; the last line is `ANSWER: <answer>`; a trap's correct
answer is `ANSWER: none`. Nothing here is task specific beyond that format, so searchers and
trainers can use these helpers for any task.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, ClassVar, Protocol, Sequence

import numpy as np

ANSWER_PREFIX = "ANSWER: "
NONE_ANSWER = "none"
# A step line that abandons the attempt so far and starts again from the prompt: how a chain of
# thought backtracks (o1's "that did not work, let me try another way"). Tasks that search for a
# solution (Countdown) accept it; an answer is judged on the last attempt.
RETRY_LINE = "retry"
# Completions longer than this are malformed by definition: the verifiers reject them before any
# parsing, which keeps verification O(1) on hostile 10^6-character inputs.
MAX_COMPLETION_CHARS = 4096
# ASCII only: `\d` would accept unicode digits such as '٣', which int() then happily parses.
_ANSWER_RE = re.compile(r"ANSWER: ([a-z0-9]{1,32})", re.ASCII)


@dataclasses.dataclass(frozen=True)
class Problem:
  """One task instance. `answer` is the exact text after `ANSWER: ` in a correct completion."""
  prompt: str
  answer: str
  meta: dict[str, Any]

  @property
  def is_trap(self) -> bool:
    return self.answer == NONE_ANSWER

  @property
  def difficulty(self) -> int:
    return int(self.meta["difficulty"])


class Task(Protocol):
  @property
  def name(self) -> str: ...

  @property
  def difficulties(self) -> tuple[int, ...]: ...

  @property
  def has_step_oracle(self) -> bool:
    """Whether `step_labels` judges each step exactly; False where it cannot (a dataset, a chat
    or tool format): PRMs then train on Monte-Carlo labels and step shaping is refused."""
    ...

  def sample(self, rng: np.random.Generator, n: int, difficulty: int) -> list[Problem]: ...

  def solve(self, problem: Problem, rng: np.random.Generator | None = None
            ) -> list[str] | None: ...

  def verify(self, problem: Problem, completion: str) -> float: ...

  def step_labels(self, problem: Problem, steps: Sequence[str]) -> list[int]: ...


def has_step_oracle(task: Task) -> bool:
  """Whether `task.step_labels` judges each step exactly (Task.has_step_oracle)."""
  return task.has_step_oracle


class Wrapper:
  """A task around another, held in its `task` field (tasks.chat.ChatFormat, tasks.tool_use.
  ToolUse): the name and difficulties are the inner task's."""
  task: Task

  @property
  def name(self) -> str:
    return self.task.name

  @property
  def difficulties(self) -> tuple[int, ...]:
    return self.task.difficulties


def answer_line(answer: str) -> str:
  return ANSWER_PREFIX + answer


def reference_completion(task: Task, problem: Problem, rng: np.random.Generator | None = None
                         ) -> str:
  """The completion a perfect reasoner writes: the solver's lines (with `rng`, a random one of
  the solutions where a task has several), or `ANSWER: none` for a trap."""
  lines = task.solve(problem, rng)
  if lines is None:
    lines = [answer_line(NONE_ANSWER)]
  return "\n".join(lines) + "\n"


HINT_PREFIX = "hint "


HINT_TEMPLATE = HINT_PREFIX + "{hint}\n"


def with_hint(prompt: str, hint: str, template: str = HINT_TEMPLATE) -> str:
  """The rationalization prompt of STaR: the problem plus a line giving away the answer, written
  by `template` (a task's `hint_template`; `{hint}` is replaced by the hint)."""
  return prompt + template.replace("{hint}", hint)


def hint_template(task) -> str:
  """The task's hint line: its `hint_template` field where it has one (datasets, whose prompts a
  real model reads), else `hint {hint}`."""
  return getattr(task, "hint_template", HINT_TEMPLATE)


def hint_of(task: Task, completion: str) -> str:
  """The hint a correct `completion` gives: its answer or, for tasks whose prompt already holds
  the answer (Countdown's target; `hint_is_last_step`), its last step, the equation that reaches
  the answer. A trap's hint is `none`."""
  parts = split_completion(completion)
  if parts is None:
    raise ValueError(f"hint_of: malformed completion {completion[:80]!r}")
  steps, answer = parts
  if getattr(task, "hint_is_last_step", False) and steps:
    return steps[-1]
  return answer


def split_completion(completion: str) -> tuple[list[str], str] | None:
  """Splits a completion into (step lines, answer) or returns None if it is malformed.

  Well formed means: at most MAX_COMPLETION_CHARS characters, the last line (after dropping one
  trailing newline) is `ANSWER: <answer>` and no earlier line is an answer line.
  """
  if not isinstance(completion, str) or len(completion) > MAX_COMPLETION_CHARS:
    return None
  text = completion[:-1] if completion.endswith("\n") else completion
  lines = text.split("\n")
  match = _ANSWER_RE.fullmatch(lines[-1])
  if match is None or any(line.startswith(ANSWER_PREFIX) for line in lines[:-1]):
    return None
  return lines[:-1], match.group(1)


def attempts(steps: Sequence[str]) -> list[list[str]]:
  """The step lines split at RETRY_LINE into attempts (the last one, possibly empty, is the one
  an answer is judged on): ['a', 'retry', 'b'] -> [['a'], ['b']]."""
  out: list[list[str]] = [[]]
  for line in steps:
    if line == RETRY_LINE:
      out.append([])
    else:
      out[-1].append(line)
  return out


def retry_count(completion: str) -> int:
  """How many RETRY_LINE lines a completion holds."""
  return ("\n" + completion).count(f"\n{RETRY_LINE}\n")


def extract_answer(completion: str) -> str | None:
  """The answer of a well-formed completion, for voting; None if malformed. Never raises."""
  parts = split_completion(completion)
  return None if parts is None else parts[1]


def check_difficulty(task: Task, difficulty: int) -> None:
  if difficulty not in task.difficulties:
    raise ValueError(
        f"{task.name}: difficulty={difficulty!r} is not one of {task.difficulties}")


def check_template(name: str, template: str, placeholder: str, why: str = "") -> None:
  """A clear error unless `template` holds `{placeholder}` and ends with a newline."""
  if "{" + placeholder + "}" not in template or not template.endswith("\n"):
    raise ValueError(f"{name}={template!r} must contain '{{{placeholder}}}' and end with a "
                     f"newline{why}")


def check_share(name: str, value: float) -> None:
  if not 0.0 <= value <= 1.0:
    raise ValueError(f"{name} must be in [0, 1], got {value!r}")


def prefix_labels(reference: Sequence[str], steps: Sequence[str]) -> list[int]:
  """1 for each step equal to the reference's step at its position, until the first mismatch."""
  labels, good = [], True
  for i, line in enumerate(steps):
    good = good and i < len(reference) and line == reference[i]
    labels.append(int(good))
  return labels


class MatchesReference:
  """verify and step_labels of a task whose every problem has exactly one correct chain, its
  `solve` (a deterministic scratchpad or walk): the work is checked line by line against it."""
  has_step_oracle: ClassVar[bool] = True

  def solve(self, problem: Problem, rng: np.random.Generator | None = None) -> list[str] | None:
    raise NotImplementedError

  def verify(self, problem: Problem, completion: str) -> float:
    """1.0 iff the completion is exactly the reference chain and the right answer; else 0.0.
    Malformed model output is an expected outcome here: it scores 0.0 and never raises."""
    parts = split_completion(completion)
    if parts is None or parts[1] != problem.answer:
      return 0.0
    return float(parts[0] == (self.solve(problem) or [""])[:-1])

  def step_labels(self, problem: Problem, steps: Sequence[str]) -> list[int]:
    """1 while every step so far equals the reference chain's, then 0 forever."""
    reference = self.solve(problem) or [answer_line(NONE_ANSWER)]
    return prefix_labels(reference, steps)

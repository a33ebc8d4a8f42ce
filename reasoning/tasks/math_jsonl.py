"""Math word problems from a local JSONL file (GSM8K-style), for real models and tokenizers.

Each line is `{"question": ..., "answer": ...}`. The answer follows GSM8K's convention, reasoning
lines then `#### 42`; a bare answer (`"42"`, `"\\boxed{3/4}"`) is accepted too. Steps are the
reasoning lines; GSM8K's `<<48/2=24>>` calculator annotations are dropped from them. Difficulty
is the number of reference steps: 1 (at most 2), 2 (3 or 4), 3 (5 or more). There are no traps
and no per-step oracle: `step_labels` is an error (train PRMs on Monte-Carlo labels instead).

Answers are compared after normalization: `\\boxed{}`, `$`, thousands separators, a trailing
period and surrounding spaces are dropped, and numbers compare as exact fractions, so `1,000`,
`1000.0` and `\\boxed{1000}` all match `1000`, and `0.75` matches `3/4`. Completions are parsed,
never evaluated; the verifier never raises.
"""

from __future__ import annotations

import dataclasses
import fractions
import functools
import json
import os
import re
from typing import ClassVar, Sequence

import numpy as np

from reasoning.tasks import base

_BOXED = re.compile(r"\\boxed\{([^{}]*)\}")
_CALC = re.compile(r"<<[^<>]*>>")
_NUMBER = re.compile(r"[-+]?(\d+(\.\d*)?|\.\d+)(/\d+(\.\d*)?)?")
_ANSWER_LINE = re.compile(r"ANSWER:\s*(.*)")
_MAX_ANSWER = 64


def normalize_answer(text: str) -> str | None:
  """Canonical form of an answer: a reduced fraction or integer for numbers, else lower-case
  text; None if empty or too long."""
  if not isinstance(text, str):
    return None
  boxed = _BOXED.findall(text)
  text = (boxed[-1] if boxed else text).strip().rstrip(".").replace("$", "").strip()
  if not text or len(text) > _MAX_ANSWER:
    return None
  number = re.sub(r"(?<=\d),(?=\d{3}(\D|$))", "", text)
  if _NUMBER.fullmatch(number):
    num, _, den = number.partition("/")
    try:
      value = fractions.Fraction(num) / fractions.Fraction(den or 1)
    except (ValueError, ZeroDivisionError):
      return None
    return str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"
  return text.lower()


def extract_answer(completion: str) -> str | None:
  """The normalized final answer of a completion: its last `ANSWER:` line, else its last
  `\\boxed{}`, else a GSM8K `#### x` line; None if there is none."""
  if not isinstance(completion, str) or len(completion) > base.MAX_COMPLETION_CHARS:
    return None
  for line in reversed(completion.strip().split("\n")):
    match = _ANSWER_LINE.fullmatch(line.strip())
    if match:
      return normalize_answer(match.group(1))
  boxed = _BOXED.findall(completion)
  if boxed:
    return normalize_answer(boxed[-1])
  gsm = re.findall(r"####\s*(.+)", completion)
  return normalize_answer(gsm[-1]) if gsm else None


def split_reference(answer: str) -> tuple[list[str], str | None]:
  """(reasoning lines, normalized answer) of a dataset answer field."""
  head, sep, tail = answer.rpartition("####")
  if not sep:
    head, tail = "", answer
  steps = [_CALC.sub("", line).strip() for line in head.split("\n")]
  return [s for s in steps if s], normalize_answer(tail)


def _level(num_steps: int) -> int:
  return 1 if num_steps <= 2 else 2 if num_steps <= 4 else 3


@functools.lru_cache(maxsize=8)
def load(path: str) -> tuple[base.Problem, ...]:
  """The problems of a JSONL file; errors name the file and line."""
  if not path:
    raise ValueError("task.path is required for math_jsonl: a JSONL file of {question, answer} "
                     "rows (--config.task.path=...)")
  if not os.path.exists(path):
    raise ValueError(f"math_jsonl.path: no such file {path!r}")
  problems = []
  with open(path) as f:
    for number, line in enumerate(f, 1):
      if not line.strip():
        continue
      try:
        row = json.loads(line)
        question, answer = row["question"], row["answer"]
      except (json.JSONDecodeError, KeyError, TypeError) as e:
        raise ValueError(f"{path}:{number}: expected a JSON object with 'question' and "
                         f"'answer' ({type(e).__name__}: {e})") from None
      steps, final = split_reference(str(answer))
      if final is None:
        raise ValueError(f"{path}:{number}: cannot read a final answer from {str(answer)[-80:]!r}")
      problems.append(base.Problem(f"{str(question).strip()}\n", final,
                                   {"difficulty": _level(len(steps)), "steps": steps,
                                    "line": number, "question": str(question).strip()}))
  if not problems:
    raise ValueError(f"{path}: no problems in the file")
  return tuple(problems)


@dataclasses.dataclass(frozen=True)
class MathJsonl:
  """Problems from `path`; `sample` draws without replacement within a difficulty (with
  replacement only when asked for more than there are)."""
  path: str = ""
  trap_share: float = 0.0
  # The prompt, plain text (no chat template): `{question}` is replaced by the question, e.g.
  # "Question: {question}\nAnswer step by step, one step per line, then 'ANSWER: x'.\n".
  template: str = "{question}\n"
  # STaR's rationalization hint, appended to the prompt: `{hint}` is replaced by the answer.
  hint_template: str = "hint {hint}\n"
  name: str = "math_jsonl"
  difficulties: tuple[int, ...] = (1, 2, 3)
  has_step_oracle: ClassVar[bool] = False  # outcome only: PRMs train on Monte-Carlo labels

  def __post_init__(self):
    if self.trap_share:
      raise ValueError("math_jsonl.trap_share must be 0: a dataset has no trap instances")
    base.check_template("math_jsonl.template", self.template, "question",
                        " (the steps start on the next line)")
    base.check_template("math_jsonl.hint_template", self.hint_template, "hint")

  def sample(self, rng: np.random.Generator, n: int, difficulty: int) -> list[base.Problem]:
    base.check_difficulty(self, difficulty)
    pool = [p for p in load(self.path) if p.difficulty == difficulty]
    if not pool:
      raise ValueError(f"{self.path}: no problems at difficulty={difficulty} "
                       f"(1: <= 2 reference steps, 2: 3-4, 3: 5 or more)")
    idx = rng.choice(len(pool), size=n, replace=n > len(pool))
    return [dataclasses.replace(pool[i], prompt=self.template.replace(
        "{question}", pool[i].meta["question"])) for i in idx]

  def solve(self, problem: base.Problem, rng: np.random.Generator | None = None) -> list[str]:
    return list(problem.meta["steps"]) + [base.answer_line(problem.answer)]

  def verify(self, problem: base.Problem, completion: str) -> float:
    got = extract_answer(completion)
    return float(got is not None and got == problem.answer)

  def step_labels(self, problem: base.Problem, steps: Sequence[str]) -> list[int]:
    raise ValueError("math_jsonl has no per-step oracle; train PRMs with Monte-Carlo labels "
                     "(--config.labels=mc)")

"""Multi-digit addition and multiplication with a digit-by-digit scratchpad (the STaR setting).

Addition `compute 347+85`, one column per line from the right, carry in shown, sum written:

  7+5+0=12        (write 2, carry 1)
  4+8+1=13
  3+0+1=4
  ANSWER: 432

Multiplication `compute 347*25`: for each multiplier digit from the right, one line per
multiplicand digit (`7*5+0=35`), then the row (`347*5=1735`), then the running total
(`1735+6940=8675`) once there is more than one row:

  7*5+0=35 / 4*5+3=23 / 3*5+2=17 / 347*5=1735 / 7*2+0=14 / ... / 347*2=694 / 1735+6940=8675

Difficulty d = digits of the first operand (the second has d digits for +, max(1, d//2) for *).
A trap is a malformed question (an operand with a letter in it); its answer is `none`.

Verification checks the work: the completion must be the reference scratchpad and the right
answer. The oracle step labels: a step is good iff it and every step before it equal the
reference scratchpad's.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from reasoning.tasks import base

_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def addition_steps(a: int, b: int) -> list[str]:
  da, db = str(a)[::-1], str(b)[::-1]
  steps, carry = [], 0
  for i in range(max(len(da), len(db))):
    x = int(da[i]) if i < len(da) else 0
    y = int(db[i]) if i < len(db) else 0
    s = x + y + carry
    steps.append(f"{x}+{y}+{carry}={s}")
    carry = s // 10
  return steps


def multiplication_steps(a: int, b: int) -> list[str]:
  steps, total = [], 0
  for j, y in enumerate(int(c) for c in str(b)[::-1]):
    carry = 0
    for x in (int(c) for c in str(a)[::-1]):
      s = x * y + carry
      steps.append(f"{x}*{y}+{carry}={s}")
      carry = s // 10
    row = a * y
    steps.append(f"{a}*{y}={row}")
    if j > 0:
      shifted = row * 10**j
      steps.append(f"{total}+{shifted}={total + shifted}")
    total += row * 10**j
  return steps


@dataclasses.dataclass(frozen=True)
class Arithmetic(base.MatchesReference):
  """`ops` is drawn from uniformly per problem; `trap_share` of problems are malformed."""
  trap_share: float = 0.1
  ops: str = "+*"
  name: str = "arithmetic"
  difficulties: tuple[int, ...] = (1, 2, 3, 4, 5, 6)

  def __post_init__(self):
    base.check_share("arithmetic.trap_share", self.trap_share)
    if not self.ops or set(self.ops) - set("+*"):
      raise ValueError(f"arithmetic.ops must be a non-empty string over '+*', got {self.ops!r}")

  def sample(self, rng: np.random.Generator, n: int, difficulty: int) -> list[base.Problem]:
    base.check_difficulty(self, difficulty)
    problems = []
    for _ in range(n):
      op = self.ops[rng.integers(len(self.ops))]
      digits_b = difficulty if op == "+" else max(1, difficulty // 2)
      a, b = (int(rng.integers(10**(d - 1) if d > 1 else 0, 10**d)) for d in (difficulty, digits_b))
      text_a, text_b = str(a), str(b)
      trap = rng.random() < self.trap_share
      if trap:  # Replace one digit of one operand by a letter: the question has no answer.
        which = rng.integers(2)
        text = [text_a, text_b][which]
        pos = rng.integers(len(text))
        text = text[:pos] + _LETTERS[rng.integers(26)] + text[pos + 1:]
        text_a, text_b = (text, text_b) if which == 0 else (text_a, text)
      answer = base.NONE_ANSWER if trap else str(a + b if op == "+" else a * b)
      problems.append(base.Problem(
          f"compute {text_a}{op}{text_b}\n", answer,
          {"a": text_a, "b": text_b, "op": op, "difficulty": difficulty}))
    return problems

  def solve(self, problem: base.Problem, rng=None) -> list[str] | None:
    """The one solution (`rng` is accepted for the Task interface and unused)."""
    if problem.is_trap:
      return None
    a, b = int(problem.meta["a"]), int(problem.meta["b"])
    steps = addition_steps(a, b) if problem.meta["op"] == "+" else multiplication_steps(a, b)
    return steps + [base.answer_line(problem.answer)]



"""Countdown: combine all the given numbers, each exactly once, with + - * / into the target.

Prompt `countdown 3 8 5 to 29` and a completion of one operation per line:

  8*3=24
  24+5=29
  ANSWER: 29

Every intermediate result must be a positive integer (so no division by zero, no fractions, no
negatives). Rules follow Gandhi et al.'s "Stream of Search" variant: all numbers must be used,
which fixes a solution at n-1 steps and makes unsolvable instances (traps) common enough to
sample. A trap's correct completion is `ANSWER: none`.

A line `retry` abandons the attempt so far and starts again from the prompt's numbers: a chain of
thought that backtracks. The answer is judged on the last attempt; every step of every attempt
must be legal. Reference solutions never retry; `countdown_traces.failed_attempt` makes the
attempts a policy that retries is taught to recover from (SFT's `retries`).

A probe line `a op b=c?` is a move tried and rejected: it must be legal on the current numbers
and is not applied. A goal line `a op b=c!` states what the numbers but one must make. The
search traces that write these lines are in `countdown_traces`.

The exact solver is a memoised enumeration of the values reachable from a multiset of numbers
(`reachable`), which also gives the oracle step label: a step is good while the target is still
reachable from the numbers left.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import re
from typing import ClassVar, Sequence

import numpy as np

from reasoning.tasks import base

# difficulty -> (count of numbers, largest number, (smallest target, largest target))
LEVELS: dict[int, tuple[int, int, tuple[int, int]]] = {
    1: (3, 9, (1, 99)),
    2: (4, 12, (1, 199)),
    3: (5, 20, (1, 499)),
    4: (6, 25, (100, 999)),
}
_STEP_RE = re.compile(r"([1-9][0-9]{0,6})([-+*/])([1-9][0-9]{0,6})=([1-9][0-9]{0,7})", re.ASCII)
_MAX_TRIES = 10_000
PROBE_MARK = "?"  # ends a probe line: a move tried and rejected (probe_steps)
GOAL_MARK = "!"   # ends a goal line: what the numbers but one must make (goal_steps)


def apply_op(a: int, op: str, b: int) -> int | None:
  """The result of `a op b` if it is a positive integer, else None."""
  if op == "+":
    return a + b
  if op == "*":
    return a * b
  if op == "-":
    return a - b if a > b else None
  if op == "/":
    return a // b if a % b == 0 else None
  raise ValueError(f"unknown operator {op!r}")


def _moves(a: int, b: int) -> list[tuple[int, str, int, int]]:
  """Every legal step combining a and b, larger operand first: (left, op, right, result)."""
  hi, lo = max(a, b), min(a, b)
  moves = [(hi, "+", lo, hi + lo), (hi, "*", lo, hi * lo)]
  if hi > lo:
    moves.append((hi, "-", lo, hi - lo))
  if hi % lo == 0:
    moves.append((hi, "/", lo, hi // lo))
  return moves


def _pool_moves(pool: list[int]) -> list[tuple[tuple[int, str, int, int], list[int]]]:
  """Every legal step on `pool` with the numbers it leaves: [(move, rest)]."""
  return [(m, [x for k, x in enumerate(pool) if k not in (i, j)])
          for i, j in itertools.combinations(range(len(pool)), 2)
          for m in _moves(pool[i], pool[j])]


def _distinct_moves(pool: list[int]) -> list[tuple[tuple[int, str, int, int], list[int]]]:
  """`_pool_moves` without repeats (a pool with equal numbers offers the same move twice)."""
  seen, out = set(), []
  for move, rest in _pool_moves(pool):
    if move not in seen:
      seen.add(move)
      out.append((move, rest))
  return out


@functools.lru_cache(maxsize=200_000)
def reachable(pool: tuple[int, ...]) -> frozenset[int]:
  """Every value reachable by combining ALL numbers of `pool` (a sorted tuple), each once."""
  if len(pool) == 1:
    return frozenset(pool)
  values: set[int] = set()
  rest = range(1, len(pool))
  # Split the multiset into two non-empty parts; the part holding pool[0] is `left`.
  for k in range(0, len(pool) - 1):
    for chosen in itertools.combinations(rest, k):
      left = (pool[0],) + tuple(pool[i] for i in chosen)
      right = tuple(pool[i] for i in rest if i not in chosen)
      for a in reachable(tuple(sorted(left))):
        for b in reachable(tuple(sorted(right))):
          values.update(m[3] for m in _moves(a, b))
  return frozenset(values)


def can_reach(pool: Sequence[int], target: int) -> bool:
  return target in reachable(tuple(sorted(pool)))


def solution_steps(numbers: Sequence[int], target: int,
                   rng: np.random.Generator | None = None) -> list[str] | None:
  """Lines `a op b=c` that turn `numbers` into `target`, or None if no solution exists.

  Without `rng`: the canonical solution (the first good move in a fixed order). With `rng`: at
  each step a uniformly random move among all those that keep the target reachable.
  """
  pool = sorted(numbers)
  if not can_reach(pool, target):
    return None
  steps = []
  while len(pool) > 1:
    good = []
    for (i, a), (j, b) in itertools.combinations(enumerate(pool), 2):
      rest = [x for k, x in enumerate(pool) if k not in (i, j)]
      good += [(m, rest) for m in _moves(a, b) if can_reach(rest + [m[3]], target)]
      if good and rng is None:
        break
    move, rest = good[0] if rng is None else good[rng.integers(len(good))]
    steps.append(f"{move[0]}{move[1]}{move[2]}={move[3]}")
    pool = sorted(rest + [move[3]])
  return steps


def pool_after(numbers: Sequence[int], lines: Sequence[str]) -> list[int] | None:
  """The pool left after the steps `lines` from `numbers`, or None at the first illegal one."""
  pool: list[int] | None = list(numbers)
  for line in lines:
    pool = apply_step(pool, line) if pool is not None else None
    if pool is None:
      return None
  return pool


def apply_step(pool: list[int], line: str) -> list[int] | None:
  """The pool after the step `line`, or None if the line is malformed or illegal. A probe
  (`a op b=c?`, see `countdown_traces.probe_steps`) must be legal on the pool and leaves it
  unchanged. A goal (`a op b=c!`, see `countdown_traces.goal_steps`) must be true arithmetic with
  an operand in the pool and leaves the pool unchanged. One regular-expression match, no
  recursion: any string is judged in time linear in its length."""
  mark = line[-1:] if line.endswith((PROBE_MARK, GOAL_MARK)) else ""
  match = _STEP_RE.fullmatch(line[:-1] if mark else line)
  if match is None:
    return None
  a, op, b, claimed = int(match[1]), match[2], int(match[3]), int(match[4])
  if apply_op(a, op, b) != claimed:
    return None
  if mark == GOAL_MARK:
    return list(pool) if a in pool or b in pool else None
  after = list(pool)
  for x in (a, b):
    if x not in after:
      return None
    after.remove(x)
  return list(pool) if mark == PROBE_MARK else after + [claimed]


@dataclasses.dataclass(frozen=True)
class Countdown:
  """Countdown with traps. `trap_share` of sampled problems have no solution (answer `none`)."""
  has_step_oracle: ClassVar[bool] = True
  trap_share: float = 0.1
  # The prompt: `{question}` is replaced by `countdown 3 5 7 to 15`. A pretrained model can be
  # told the format in words (configs/hf_countdown_rl.py); the solutions are the same.
  template: str = "{question}\n"
  name: str = "countdown"
  difficulties: tuple[int, ...] = tuple(LEVELS)
  hint_is_last_step = True  # the answer (the target) is in the prompt; a hint gives the last step

  def __post_init__(self):
    base.check_share("countdown.trap_share", self.trap_share)
    base.check_template("countdown.template", self.template, "question",
                        " (the steps start on the next line)")

  def make_problem(self, numbers: Sequence[int], target: int, difficulty: int) -> base.Problem:
    numbers = [int(x) for x in numbers]
    answer = str(target) if can_reach(numbers, target) else base.NONE_ANSWER
    question = f"countdown {' '.join(map(str, numbers))} to {target}"
    prompt = self.template.replace("{question}", question)
    return base.Problem(prompt, answer,
                        {"numbers": numbers, "target": int(target), "difficulty": difficulty})

  def sample(self, rng: np.random.Generator, n: int, difficulty: int) -> list[base.Problem]:
    base.check_difficulty(self, difficulty)
    count, largest, (lo, hi) = LEVELS[difficulty]
    problems = []
    for _ in range(n):
      want_trap = rng.random() < self.trap_share
      for _ in range(_MAX_TRIES):
        numbers = rng.integers(1, largest + 1, size=count).tolist()
        values = reachable(tuple(sorted(numbers)))
        in_range = np.arange(lo, hi + 1)
        mask = np.isin(in_range, list(values), invert=want_trap)
        if mask.any():
          target = int(rng.choice(in_range[mask]))
          problems.append(self.make_problem(numbers, target, difficulty))
          break
      else:
        raise ValueError(f"countdown: no {'trap' if want_trap else 'solvable'} instance found "
                         f"at difficulty={difficulty} after {_MAX_TRIES} draws")
    return problems

  def solve(self, problem: base.Problem, rng: np.random.Generator | None = None
            ) -> list[str] | None:
    """The canonical solution, or with `rng` a uniformly random one step by step."""
    steps = solution_steps(problem.meta["numbers"], problem.meta["target"], rng)
    return None if steps is None else steps + [base.answer_line(problem.answer)]

  def is_miss(self, problem: base.Problem, lines: Sequence[str]) -> bool:
    """Whether `lines` are an honest failed attempt: legal steps that use every number and end
    on a value other than the target."""
    pool = pool_after(problem.meta["numbers"], lines)
    return pool is not None and len(pool) == 1 and pool[0] != problem.meta["target"]

  def verify(self, problem: base.Problem, completion: str) -> float:
    """1.0 iff every step is legal, all numbers are used and the answer is right; else 0.0.
    With `retry` lines, every attempt must be legal and the last one is judged.

    Malformed model output is an expected outcome here: it scores 0.0 and never raises.
    """
    parts = base.split_completion(completion)
    if parts is None or parts[1] != problem.answer:
      return 0.0
    for attempt in base.attempts(parts[0]):
      pool = pool_after(problem.meta["numbers"], attempt)
      if pool is None:
        return 0.0
    if problem.is_trap:
      return 1.0
    return float(pool == [problem.meta["target"]])

  def has_illegal_step(self, problem: base.Problem, completion: str) -> bool:
    """Whether a well-formed completion holds an illegal step in any attempt: a wrong result
    (the fudged last step `48+9=96` that claims the target), or a number not in the pool."""
    parts = base.split_completion(completion)
    return parts is not None and any(pool_after(problem.meta["numbers"], a) is None
                                     for a in base.attempts(parts[0]))

  def step_labels(self, problem: base.Problem, steps: Sequence[str]) -> list[int]:
    """1 for a legal step after which the correct answer is still reachable, then 0 forever.

    For a solvable problem: the target is still reachable from the pool left. For a trap: `none`
    stays correct after any legal step. An answer line is 1 iff it gives the correct answer and
    every earlier step is good (and, for a solvable problem, the pool is exactly the target).
    A `retry` line goes back to the prompt's numbers, from which the answer is reachable again:
    it is 1 (unless an answer line came before it), and the labels after it start afresh.
    """
    labels = []
    pool: list[int] | None = list(problem.meta["numbers"])
    target = problem.meta["target"]
    answered = False
    for line in steps:
      if line == base.RETRY_LINE and not answered:
        pool = list(problem.meta["numbers"])
        labels.append(1)
        continue
      if pool is None:
        labels.append(0)
        continue
      if line.startswith(base.ANSWER_PREFIX):
        ok = line == base.answer_line(problem.answer) and (problem.is_trap or pool == [target])
        labels.append(int(ok))
        pool, answered = None, True
        continue
      pool = apply_step(pool, line)
      if pool is not None and not (problem.is_trap or can_reach(pool, target)):
        pool = None
      labels.append(int(pool is not None))
    return labels

  def explain(self, problem: base.Problem, steps: Sequence[str], k: int) -> str:
    """Why step `k` (0-based) of `steps` is wrong, given that the steps before it are good (the
    first step `step_labels` marks 0): the critic's training text (reasoning/train/critic.py).
    `6 is not in 24 5`, `24+6 is 30 not 29`, `7-9 is not a positive whole number`, `29 cannot be
    made from 30 5`, `the numbers left are 24 5`, `the answer is none`."""
    numbers, target = problem.meta["numbers"], problem.meta["target"]
    pool = list(numbers)
    for line in steps[:k]:
      pool = list(numbers) if line == base.RETRY_LINE else apply_step(pool, line) or pool
    shown = " ".join(map(str, pool))
    line = steps[k]
    if line.startswith(base.ANSWER_PREFIX):
      if line != base.answer_line(problem.answer):
        return f"the answer is {problem.answer}"
      return f"the numbers left are {shown}"
    mark = line[-1:] if line.endswith((PROBE_MARK, GOAL_MARK)) else ""
    match = _STEP_RE.fullmatch(line[:-1] if mark else line)
    if match is None:
      return "it is not an operation"
    a, op, b, claimed = int(match[1]), match[2], int(match[3]), int(match[4])
    result = apply_op(a, op, b)
    if result is None:
      return f"{a}{op}{b} is not a positive whole number"
    if result != claimed:
      return f"{a}{op}{b} is {result} not {claimed}"
    if mark == GOAL_MARK:
      return f"neither {a} nor {b} is in {shown}"
    left = list(pool)
    for x in (a, b):
      if x not in left:
        return f"{x} is not in {shown}"
      left.remove(x)
    after = left + ([] if mark == PROBE_MARK else [claimed])
    return f"{target} cannot be made from {' '.join(map(str, after))}"

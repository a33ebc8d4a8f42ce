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
must be legal. Reference solutions never retry; `failed_attempt` makes the attempts a policy
that retries is taught to recover from (experiments/sft.py, `retries`).

A probe line `a op b=c?` is a move tried and rejected: it must be legal on the current numbers
and is not applied (`probe_steps` writes the solver's search this way; experiments/sft.py,
`probes`).

The exact solver is a memoised enumeration of the values reachable from a multiset of numbers
(`reachable`), which also gives the oracle step label: a step is good while the target is still
reachable from the numbers left.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import re
from typing import Sequence

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


def _descend(pool: list[int], target: int, solvable: bool, rng: np.random.Generator,
             down_to: int) -> tuple[list[str], list[int]]:
  """The canonical moves (the first that keeps the target reachable; for an unsolvable pool, a
  random legal one) until `down_to` numbers are left: (lines, the pool left)."""
  lines = []
  while len(pool) > down_to:
    moves = _distinct_moves(pool)
    if solvable:
      (a, op, b, c), rest = next((m, r) for m, r in moves if can_reach(r + [m[3]], target))
    else:
      (a, op, b, c), rest = moves[rng.integers(len(moves))]
    lines.append(f"{a}{op}{b}={c}")
    pool = sorted(rest + [c])
  return lines, pool


def probe_steps(numbers: Sequence[int], target: int, rng: np.random.Generator,
                probe_at: int = 3) -> list[str]:
  """The canonical solution with its search written out where a small model can do it: when
  `probe_at` numbers are left, each move the canonical order tries before the good one becomes
  a probe line `a op b=c?` (tried, the target is unreachable from what it leaves, not applied),
  so the policy judges a move after writing its result instead of guessing it. (Measured at
  difficulty 1, docs/results.md session 11: the judgement is no better than the guess: 59% of
  accepted moves are good, against 64% of the default policy's first moves.) Larger pools take
  the canonical move. Unsolvable problems: random legal moves down to `probe_at` numbers, then
  every move there probed, a search that ends without a solution (the caller answers `none`)."""
  solvable = can_reach(numbers, target)
  lines, pool = _descend(sorted(numbers), target, solvable, rng, probe_at)
  for (a, op, b, c), rest in _distinct_moves(pool):
    if solvable and can_reach(rest + [c], target):
      tail, _ = _descend(sorted(rest + [c]), target, True, rng, 1)
      return lines + [f"{a}{op}{b}={c}"] + tail
    lines.append(f"{a}{op}{b}={c}{PROBE_MARK}")
  return lines


def closest_move(a: int, b: int, target: int) -> tuple[int, str, int, int]:
  """The legal move on a and b whose result is nearest the target (the first such in `_moves`
  order): the last step a search tries on its final two numbers."""
  return min(_moves(a, b), key=lambda m: abs(m[3] - target))


def search_steps(numbers: Sequence[int], target: int, rng: np.random.Generator) -> list[str]:
  """A depth-first search written out as attempts (`retry` between them) that a small model can
  follow: the canonical moves (random ones for an unsolvable problem) down to three numbers;
  there, each move in the canonical order, finished by the `closest_move` of the two numbers
  left, until one hits the target. Every attempt is complete, so whether it worked is a
  comparison of its last result with the target, not a judgement of reachability; an exhausted
  search ends the lines (the caller answers `none`), which at difficulty 1 is a proof."""
  head, pool = _descend(sorted(numbers), target, can_reach(numbers, target), rng, 3)
  lines = []
  for (a, op, b, c), rest in _distinct_moves(pool):
    x, o, y, z = closest_move(rest[0], c, target)
    lines += head + [f"{a}{op}{b}={c}", f"{x}{o}{y}={z}"]
    if z == target:
      return lines
    lines.append(base.RETRY_LINE)
  return lines[:-1]


def _miss(pool: list[int], target: int) -> tuple[list[str], int]:
  """A three-number pool's first move (canonical order) and the `closest_move` of the two numbers
  it leaves: (the two lines, the last result), the attempt a search writes when it judges that
  the pool cannot make `target`."""
  (a, op, b, c), rest = _distinct_moves(pool)[0]
  u, o, v, result = closest_move(rest[0], c, target)
  return [f"{a}{op}{b}={c}", f"{u}{o}{v}={result}"], result


def attempt_steps(numbers: Sequence[int], target: int, rng: np.random.Generator,
                  max_attempts: int = 6) -> list[str] | None:
  """A search over first moves written as complete attempts (`retry` between them), where only
  the first move is searched and the rest of each attempt is a judgement: the canonical moves
  (random ones for an unsolvable problem) down to four numbers; there, each move in the canonical
  order, followed by the canonical solution of the three numbers it leaves when there is one
  (the attempt hits the target and the search ends), else by their first move and its
  `closest_move` (a miss). A policy that imitates it only has to judge three-number pools, which
  it learns at difficulty 1, and finds out whether a first move was good by comparing its
  attempt's result with the target. Unsolvable problems stop after `max_attempts` misses (the
  caller answers `none`; a proof only when the pool has no more first moves); a solvable problem
  whose first good move comes later returns None (too long to teach; the caller drops it).
  Three numbers or fewer: `search_steps`."""
  if len(numbers) <= 3:
    return search_steps(numbers, target, rng)
  solvable = can_reach(numbers, target)
  head, pool = _descend(sorted(numbers), target, solvable, rng, 4)
  lines = []
  for (a, op, b, c), rest in _distinct_moves(pool)[:max_attempts]:
    left = sorted(rest + [c])
    if solvable and can_reach(left, target):
      tail, _ = _descend(left, target, True, rng, 1)
      return lines + head + [f"{a}{op}{b}={c}"] + tail
    miss, _ = _miss(left, target)
    lines += head + [f"{a}{op}{b}={c}"] + miss + [base.RETRY_LINE]
  return None if solvable else lines[:-1]


def _goals(pool: list[int], target: int) -> list[tuple[str, int, int, list[int]]]:
  """Each way the target can be a last step on one number `d` of the pool and the value X the
  others must make: (goal line, d, X, the others), for the distinct d in increasing order and the
  ops in a fixed order: X+d, X-d, X*d, X/d, d-X, d/X."""
  out, seen = [], set()
  for i, d in enumerate(pool):
    rest = pool[:i] + pool[i + 1:]
    for a, op, b in ((target, "-", d), (target, "+", d), (target, "/", d), (target, "*", d),
                     (d, "-", target), (d, "/", target)):
      x = apply_op(a, op, b)
      if x is not None and x > 0 and (d, x) not in seen:
        seen.add((d, x))
        out.append((f"{a}{op}{b}={x}{GOAL_MARK}", d, x, rest))
  return out


def goal_steps(numbers: Sequence[int], target: int, rng: np.random.Generator,
               max_attempts: int = 6) -> list[str] | None:
  """A backward search written as complete attempts (`retry` between them): with four numbers
  left (the canonical moves down to four; random ones for an unsolvable problem), each attempt
  picks the number `d` to use last and writes the goal X the other three must make as a goal
  line (`29-5=24!`: target 29, d 5, so X + 5 with X = 24), then the canonical solution of the
  three numbers to X if there is one, else their first move and its `closest_move` to X (a
  miss), then the `closest_move` of the two numbers left to the target. The three-number
  problems keep the prompt's small numbers, where a policy judges best (difficulty 1 is that
  judgement). Goals in `_goals` order; unsolvable problems stop after `max_attempts` misses (the
  caller answers `none`). Returns None for a solvable problem whose first reachable goal comes
  later, or that has no solution of this shape (two pairs combined last: ~7% at difficulty 2).
  Three numbers or fewer: the canonical solution (a trap: no steps)."""
  solvable = can_reach(numbers, target)
  if len(numbers) <= 3:
    return solution_steps(numbers, target) or []
  head, pool = _descend(sorted(numbers), target, solvable, rng, 4)
  lines = []
  for goal, d, x, rest in _goals(pool, target)[:max_attempts]:
    sub, last = (solution_steps(rest, x), x) if can_reach(rest, x) else _miss(rest, x)
    u, o, v, result = closest_move(last, d, target)
    lines += head + [goal] + sub + [f"{u}{o}{v}={result}"]
    if result == target:
      return lines
    lines.append(base.RETRY_LINE)
  return None if solvable else lines[:-1]


def pool_after(numbers: Sequence[int], lines: Sequence[str]) -> list[int] | None:
  """The pool left after the steps `lines` from `numbers`, or None at the first illegal one."""
  pool: list[int] | None = list(numbers)
  for line in lines:
    pool = apply_step(pool, line)
    if pool is None:
      return None
  return pool


def apply_step(pool: list[int], line: str) -> list[int] | None:
  """The pool after the step `line`, or None if the line is malformed or illegal. A probe
  (`a op b=c?`, see `probe_steps`) must be legal on the pool and leaves it unchanged. A goal
  (`a op b=c!`, see `goal_steps`) must be true arithmetic with an operand in the pool and leaves
  the pool unchanged."""
  if line.endswith(PROBE_MARK):
    return None if apply_step(pool, line[:-1]) is None else list(pool)
  if line.endswith(GOAL_MARK):
    match = _STEP_RE.fullmatch(line[:-1])
    if match is None or apply_op(int(match[1]), match[2], int(match[3])) != int(match[4]):
      return None
    return list(pool) if int(match[1]) in pool or int(match[3]) in pool else None
  match = _STEP_RE.fullmatch(line)
  if match is None:
    return None
  a, op, b, claimed = int(match[1]), match[2], int(match[3]), int(match[4])
  if apply_op(a, op, b) != claimed:
    return None
  pool = list(pool)
  for x in (a, b):
    if x not in pool:
      return None
    pool.remove(x)
  return pool + [claimed]


@dataclasses.dataclass(frozen=True)
class Countdown:
  """Countdown with traps. `trap_share` of sampled problems have no solution (answer `none`)."""
  trap_share: float = 0.1
  name: str = "countdown"
  difficulties: tuple[int, ...] = tuple(LEVELS)
  hint_is_last_step = True  # the answer (the target) is in the prompt; a hint gives the last step

  def __post_init__(self):
    base.check_share("countdown.trap_share", self.trap_share)

  def make_problem(self, numbers: Sequence[int], target: int, difficulty: int) -> base.Problem:
    numbers = [int(x) for x in numbers]
    answer = str(target) if can_reach(numbers, target) else base.NONE_ANSWER
    prompt = f"countdown {' '.join(map(str, numbers))} to {target}\n"
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

  def flawed_solution(self, problem: base.Problem, rng: np.random.Generator) -> list[str]:
    """A solution attempt with the mistakes a small policy makes, for training a PRM on cheap
    synthetic data labelled by the exact oracle (`step_labels`): good moves up to a random
    step, then legal moves that need not keep the target reachable (the policy's commonest
    error), sometimes a last step whose claimed result is fudged to the target, and an answer
    line that claims the target (or `none`). With probability 1/(steps+1) it is a correct
    solution all the way, so good and bad trajectories both appear at every depth."""
    target = problem.meta["target"]
    pool = sorted(problem.meta["numbers"])
    deviate_at = int(rng.integers(len(pool)))  # index of the first possibly-bad step
    lines = []
    while len(pool) > 1:
      moves = _pool_moves(pool)
      if len(lines) < deviate_at and not problem.is_trap:
        good = [(m, rest) for m, rest in moves if can_reach(rest + [m[3]], target)]
        moves = good or moves
      (a, op, b, c), rest = moves[rng.integers(len(moves))]
      if len(rest) == 0 and c != target and rng.random() < 0.5:
        c = target  # the fudged last step: right answer, wrong arithmetic
      lines.append(f"{a}{op}{b}={c}")
      pool = sorted(rest + [c])
    claims_none = rng.random() < (0.5 if problem.is_trap else 0.1)
    return lines + [base.answer_line(base.NONE_ANSWER if claims_none else str(target))]

  def probe_solution(self, problem: base.Problem, rng: np.random.Generator) -> list[str]:
    """`probe_steps` and the answer line: the solution (or a trap's `none`) with its search."""
    return (probe_steps(problem.meta["numbers"], problem.meta["target"], rng)
            + [base.answer_line(problem.answer)])

  def search_solution(self, problem: base.Problem, rng: np.random.Generator) -> list[str]:
    """`search_steps` and the answer line: the solution (or a trap's `none`) after its search."""
    return (search_steps(problem.meta["numbers"], problem.meta["target"], rng)
            + [base.answer_line(problem.answer)])

  def attempt_solution(self, problem: base.Problem, rng: np.random.Generator
                       ) -> list[str] | None:
    """`attempt_steps` and the answer line, or None where the trace would be too long."""
    lines = attempt_steps(problem.meta["numbers"], problem.meta["target"], rng)
    return None if lines is None else lines + [base.answer_line(problem.answer)]

  def goal_solution(self, problem: base.Problem, rng: np.random.Generator) -> list[str] | None:
    """`goal_steps` and the answer line, or None where the trace would be too long."""
    lines = goal_steps(problem.meta["numbers"], problem.meta["target"], rng)
    return None if lines is None else lines + [base.answer_line(problem.answer)]

  def failed_attempt(self, problem: base.Problem, rng: np.random.Generator,
                     avoid: Sequence[Sequence[str]] = ()) -> list[str] | None:
    """Legal steps that use every number and miss the target: good moves (target still
    reachable) up to a random step, the first with probability 1/2 (where a small policy's
    attempts fail most), then a dead-end move and random legal moves. Differs from every attempt
    in `avoid`; None if 20 draws found no new one."""
    target = problem.meta["target"]
    n_steps = len(problem.meta["numbers"]) - 1
    avoid = [list(x) for x in avoid]
    for _ in range(20):
      pool = sorted(problem.meta["numbers"])
      deviate_at = 0 if rng.random() < 0.5 else int(rng.integers(n_steps))
      lines = []
      while len(pool) > 1:
        moves = _pool_moves(pool)
        if len(lines) <= deviate_at:
          good = len(lines) < deviate_at
          wanted = [(m, rest) for m, rest in moves if can_reach(rest + [m[3]], target) == good]
          moves = wanted or moves
        (a, op, b, c), rest = moves[rng.integers(len(moves))]
        lines.append(f"{a}{op}{b}={c}")
        pool = sorted(rest + [c])
      if pool != [target] and lines not in avoid:
        return lines
    return None

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

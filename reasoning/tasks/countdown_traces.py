"""Countdown's chain-of-thought formats beyond the plain solution: the solver's search written
out in four ways (probes, complete attempts, first-move attempts, backward goals), the flawed
attempts a reward model is trained on, and the failed attempts a retrying policy learns to
recover from. Each is a function of a Countdown problem (and a numpy generator for its choices);
the task module keeps sampling, solving, verifying and the step oracle.

  probes     `a op b=c?` lines: moves tried and rejected where three numbers are left
  search     complete attempts in the canonical order, `retry` between them
  attempts   a search over the first of four numbers' moves, the rest of each attempt judged
  goals      a backward search over the number used last and the value the others must make
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from reasoning.tasks import base
from reasoning.tasks.countdown import (GOAL_MARK, PROBE_MARK, Countdown, _distinct_moves, _moves,
                                       _pool_moves, apply_op, can_reach, solution_steps)


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
  difficulty 1, docs/training.md: the judgement is no better than the guess: 59% of
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
  lines: list[str] = []
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
  lines: list[str] = []
  for goal, d, x, rest in _goals(pool, target)[:max_attempts]:
    sub, last = (solution_steps(rest, x) or [], x) if can_reach(rest, x) else _miss(rest, x)
    u, o, v, result = closest_move(last, d, target)
    lines += head + [goal] + sub + [f"{u}{o}{v}={result}"]
    if result == target:
      return lines
    lines.append(base.RETRY_LINE)
  return None if solvable else lines[:-1]


def flawed_solution(problem: base.Problem, rng: np.random.Generator) -> list[str]:
  """A solution attempt with the mistakes a small policy makes, for training a PRM on cheap
  synthetic data labelled by the exact oracle (`step_labels`): good moves up to a random
  step, then legal moves that need not keep the target reachable (the policy's commonest
  error), sometimes a last step whose claimed result is fudged to the target, and an answer
  line that claims the target (or `none`). With probability 1/(steps+1) it is a correct
  solution all the way, so good and bad trajectories both appear at every depth."""
  target = problem.meta["target"]
  pool = sorted(problem.meta["numbers"])
  deviate_at = int(rng.integers(len(pool)))  # index of the first possibly-bad step
  lines: list[str] = []
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

def probe_solution(problem: base.Problem, rng: np.random.Generator) -> list[str]:
  """`probe_steps` and the answer line: the solution (or a trap's `none`) with its search."""
  return (probe_steps(problem.meta["numbers"], problem.meta["target"], rng)
          + [base.answer_line(problem.answer)])

def search_solution(problem: base.Problem, rng: np.random.Generator) -> list[str]:
  """`search_steps` and the answer line: the solution (or a trap's `none`) after its search."""
  return (search_steps(problem.meta["numbers"], problem.meta["target"], rng)
          + [base.answer_line(problem.answer)])

def attempt_solution(problem: base.Problem, rng: np.random.Generator
                     ) -> list[str] | None:
  """`attempt_steps` and the answer line, or None where the trace would be too long."""
  lines = attempt_steps(problem.meta["numbers"], problem.meta["target"], rng)
  return None if lines is None else lines + [base.answer_line(problem.answer)]

def goal_solution(problem: base.Problem, rng: np.random.Generator) -> list[str] | None:
  """`goal_steps` and the answer line, or None where the trace would be too long."""
  lines = goal_steps(problem.meta["numbers"], problem.meta["target"], rng)
  return None if lines is None else lines + [base.answer_line(problem.answer)]

def failed_attempt(problem: base.Problem, rng: np.random.Generator,
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
    lines: list[str] = []
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


# config.solutions value -> the trace of one problem (None where it would be too long to teach).
TRACES: dict[str, Callable] = {"probes": probe_solution, "search": search_solution,
                               "attempts": attempt_solution, "goals": goal_solution}


def require_countdown(task, field: str, what: str) -> None:
  """A clear error where `field` asks for one of these traces of a task that is not Countdown."""
  if not isinstance(task, Countdown):
    raise ValueError(f"{field}: task {task.name!r} has no {what} (Countdown does)")


def traces_of(task, kind: str, problems: Sequence[base.Problem], rng: np.random.Generator):
  """The `kind` trace (a key of TRACES) of each problem: a list of lines, or None."""
  require_countdown(task, f"config.solutions={kind!r}", f"{kind!r} trace")
  return [TRACES[kind](p, rng) for p in problems]

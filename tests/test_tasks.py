"""Tasks: solvers verify, mutations fail, traps are unsolvable, oracle labels, reproducibility."""

import itertools

import numpy as np
import pytest

from reasoning.tasks import TASKS, Countdown, extract_answer, get_task, reference_completion
from reasoning.tasks import countdown as cd
from reasoning.tasks import countdown_traces
from reasoning.tasks.countdown import apply_step

ALL = [(name, d) for name in TASKS for d in TASKS[name]().difficulties if (name, d) != ("countdown", 4)]


def _problems(name, difficulty, n=40, seed=0, **options):
  task = get_task(name, **options)
  return task, task.sample(np.random.default_rng(seed), n, difficulty)


@pytest.mark.parametrize("name,difficulty", ALL)
def test_reference_completions_verify(name, difficulty):
  task, problems = _problems(name, difficulty, trap_share=0.3)
  assert any(p.is_trap for p in problems) and not all(p.is_trap for p in problems)
  for p in problems:
    completion = reference_completion(task, p)
    assert task.verify(p, completion) == 1.0, (p, completion)
    assert extract_answer(completion) == p.answer
    lines = completion.rstrip("\n").split("\n")
    assert task.step_labels(p, lines) == [1] * len(lines)
    assert p.difficulty == difficulty


def _mutations(lines):
  """Wrong versions of a correct completion: a digit changed, a step dropped, answer changed."""
  steps, answer = lines[:-1], lines[-1]
  for i, line in enumerate(steps):
    j = next((k for k, c in enumerate(line) if c.isdigit()), None)
    if j is not None:
      digit = str((int(line[j]) + 1) % 10)
      yield steps[:i] + [line[:j] + digit + line[j + 1:]] + steps[i + 1:] + [answer]
    yield steps[:i] + steps[i + 1:] + [answer]
  wrong = "none" if not answer.endswith("none") else "0"
  yield steps + ["ANSWER: " + wrong]
  yield steps + ["ANSWER: " + answer.removeprefix("ANSWER: ") + "1"]


@pytest.mark.parametrize("name,difficulty", ALL)
def test_mutated_completions_fail(name, difficulty):
  task, problems = _problems(name, difficulty, n=15, seed=1)
  for p in problems:
    lines = reference_completion(task, p).rstrip("\n").split("\n")
    for mutant in _mutations(lines):
      text = "\n".join(mutant) + "\n"
      if mutant != lines and task.verify(p, text) != 0.0:
        # A changed digit can, rarely, give another valid Countdown solution: re-check it exactly.
        assert name == "countdown" and _brute_force_valid(p, mutant), (p, mutant)


def _brute_force_valid(problem, lines):
  pool = list(problem.meta["numbers"])
  for line in lines[:-1]:
    pool = cd.apply_step(pool, line)
    if pool is None:
      return False
  return pool == [problem.meta["target"]] and lines[-1] == f"ANSWER: {problem.meta['target']}"


def _all_values(pool):
  """Every value reachable using all of `pool`, by naive search over step sequences (no memo)."""
  if len(pool) == 1:
    return {pool[0]}
  values = set()
  for i, j in itertools.permutations(range(len(pool)), 2):
    rest = [x for k, x in enumerate(pool) if k not in (i, j)]
    for op in "+-*/":
      v = cd.apply_op(pool[i], op, pool[j])
      if v is not None:
        values |= _all_values(rest + [v])
  return values


def test_countdown_traps_are_unsolvable_by_exhaustive_search():
  task, problems = _problems("countdown", 1, n=60, seed=2, trap_share=0.5)
  traps = [p for p in problems if p.is_trap]
  assert len(traps) >= 15
  for p in traps:
    assert p.meta["target"] not in _all_values(p.meta["numbers"])
    assert task.solve(p) is None
  for p in problems:
    assert (p.meta["target"] in _all_values(p.meta["numbers"])) != p.is_trap


def test_countdown_reachable_matches_naive_search():
  rng = np.random.default_rng(3)
  for _ in range(30):
    pool = rng.integers(1, 13, size=int(rng.integers(1, 5))).tolist()
    assert cd.reachable(tuple(sorted(pool))) == frozenset(_all_values(pool))


def test_countdown_step_labels_turn_zero_at_first_dead_end():
  task = Countdown()
  p = task.make_problem([2, 3, 4], 20, difficulty=1)  # (2+3)*4 = 20
  assert p.answer == "20"
  good = task.solve(p)
  assert task.step_labels(p, good) == [1, 1, 1]
  # 3*4=12 leaves {2, 12}: 20 is unreachable (14, 10, 24, 6), so the label turns 0 and stays 0.
  assert task.step_labels(p, ["3*4=12", "12+2=14", "ANSWER: 20"]) == [0, 0, 0]
  assert task.step_labels(p, ["3+2=5", "5*4=20", "ANSWER: 20"]) == [1, 1, 1]
  assert task.step_labels(p, ["3+2=5", "5*4=21", "ANSWER: 20"]) == [1, 0, 0]  # wrong arithmetic
  assert task.step_labels(p, ["3+2=5", "5+4=9", "ANSWER: 9"]) == [1, 0, 0]
  assert task.step_labels(p, ["3+2=5", "5*4=20", "ANSWER: none"]) == [1, 1, 0]
  assert task.step_labels(p, ["7+3=10"]) == [0]  # 7 is not in the pool
  # Random legal step sequences: a label is 1 exactly while naive search still reaches the target.
  rng = np.random.default_rng(4)
  for p in task.sample(rng, 30, 2):
    pool, lines, expected = list(p.meta["numbers"]), [], []
    while len(pool) > 1:
      i, j = rng.choice(len(pool), size=2, replace=False)
      a, b = max(pool[i], pool[j]), min(pool[i], pool[j])
      op = "+*-"[rng.integers(3)] if a > b else "+*"[rng.integers(2)]
      v = cd.apply_op(a, op, b)
      lines.append(f"{a}{op}{b}={v}")
      pool = [x for k, x in enumerate(pool) if k not in (i, j)] + [v]
      alive = p.is_trap or p.meta["target"] in _all_values(pool)
      expected.append(int(alive and (not expected or expected[-1] == 1)))
    assert task.step_labels(p, lines) == expected


def test_countdown_verify_rules():
  task = Countdown()
  p = task.make_problem([2, 3, 4], 20, difficulty=1)
  ok = "3+2=5\n5*4=20\nANSWER: 20\n"
  assert task.verify(p, ok) == 1.0
  assert task.verify(p, ok.rstrip("\n")) == 1.0
  for bad in ["2+3=5\n5*4=20\nANSWER: 20\n",  # a*b order is free, but...
              ]:
    assert task.verify(p, bad) == 1.0  # ...either order of operands is legal.
  for bad in [
      "3+2=5\n5*4=20\n",                     # no answer line
      "3+2=5\n5*4=20\nANSWER: 21\n",         # wrong answer
      "3+3=6\n6*4=24\nANSWER: 20\n",         # 3 used twice
      "5*4=20\nANSWER: 20\n",                # 5 not in the pool
      "4*5=20\nANSWER: 20\n",
      "2-3=-1\nANSWER: 20\n",                # negative
      "3/2=1\nANSWER: 20\n",                 # not an integer
      "4*5=20\n20+0=20\nANSWER: 20\n",       # 0 is not a number here
      "3+2=5\n5*4=20\nANSWER: 20\nextra\n",  # text after the answer
      "3+2=5\nANSWER: 20\n5*4=20\nANSWER: 20\n",
      "٣+2=5\n5*4=20\nANSWER: 20\n",         # unicode digit
      "3+2=05\n05*4=20\nANSWER: 20\n",       # leading zero
      "ANSWER: none\n",
  ]:
    assert task.verify(p, bad) == 0.0, bad
  trap = task.make_problem([2, 3, 4], 23, difficulty=1)
  assert trap.is_trap
  assert task.verify(trap, "ANSWER: none\n") == 1.0
  assert task.verify(trap, "2+3=5\nANSWER: none\n") == 1.0  # legal exploration, then none
  assert task.verify(trap, "2+3=6\nANSWER: none\n") == 0.0  # illegal step


@pytest.mark.parametrize("name", sorted(TASKS))
def test_generation_is_reproducible_from_seed(name):
  task = get_task(name)
  for d in task.difficulties[:3]:
    a = task.sample(np.random.default_rng(7), 20, d)
    b = task.sample(np.random.default_rng(7), 20, d)
    c = task.sample(np.random.default_rng(8), 20, d)
    assert a == b
    assert a != c


def test_trap_share_is_respected():
  for name in TASKS:
    _, problems = _problems(name, 1, n=400, seed=5)
    share = np.mean([p.is_trap for p in problems])
    assert 0.06 < share < 0.14, (name, share)
    _, problems = _problems(name, 1, n=50, seed=5, trap_share=0.0)
    assert not any(p.is_trap for p in problems)


def test_bad_task_options_are_clear_errors():
  with pytest.raises(ValueError, match="task.name='sudoku'"):
    get_task("sudoku")
  with pytest.raises(ValueError, match="task.trap_rate is not an option of countdown"):
    get_task("countdown", trap_rate=0.1)
  with pytest.raises(ValueError, match="trap_share"):
    get_task("letters", trap_share=1.5)
  with pytest.raises(ValueError, match="difficulty=9"):
    get_task("arithmetic").sample(np.random.default_rng(0), 1, 9)
  with pytest.raises(ValueError, match="countdown.template=.*must contain"):
    get_task("countdown", template="reach the target\n")
  with pytest.raises(ValueError, match="math_jsonl.hint_template=.*must contain"):
    get_task("math_jsonl", path="tests/data/math_sample.jsonl", hint_template="hint\n")


def test_prompt_and_hint_templates_change_the_text_and_nothing_else():
  from reasoning.tasks import hint_template, with_hint
  plain, told = get_task("countdown"), get_task("countdown", template="Reach it.\n{question}\n")
  a, b = (t.sample(np.random.default_rng(0), 3, 1) for t in (plain, told))
  assert [p.prompt for p in b] == ["Reach it.\n" + p.prompt for p in a]
  assert [(p.answer, p.meta) for p in a] == [(p.answer, p.meta) for p in b]
  math = get_task("math_jsonl", path="tests/data/math_sample.jsonl",
                  hint_template="(The answer is {hint}.)\n")
  assert with_hint("Q\n", "42", hint_template(math)) == "Q\n(The answer is 42.)\n"
  assert with_hint("Q\n", "42", hint_template(plain)) == "Q\nhint 42\n"


def test_arithmetic_scratchpad_by_hand():
  from reasoning.tasks.arithmetic import addition_steps, multiplication_steps
  assert addition_steps(347, 85) == ["7+5+0=12", "4+8+1=13", "3+0+1=4"]
  assert multiplication_steps(347, 25) == [
      "7*5+0=35", "4*5+3=23", "3*5+2=17", "347*5=1735",
      "7*2+0=14", "4*2+1=9", "3*2+0=6", "347*2=694", "1735+6940=8675"]


def test_letters_by_hand():
  from reasoning.tasks.base import Problem
  from reasoning.tasks.letters import walk
  task = get_task("letters")
  assert walk("strawberry", "r") == ["s 0", "t 0", "r 1", "a 1", "w 1", "b 1", "e 1", "r 2",
                                     "r 3", "y 3"]
  p = Problem("count z in cat\n", "0", {"word": "cat", "letter": "z", "difficulty": 1})
  assert task.verify(p, "c 0\na 0\nt 0\nANSWER: 0\n") == 1.0  # absent letter: answer 0
  assert task.verify(p, "c 0\na 0\nANSWER: 0\n") == 0.0
  assert task.step_labels(p, ["c 0", "a 1", "t 1", "ANSWER: 1"]) == [1, 0, 0, 0]
  problems = task.sample(np.random.default_rng(0), 300, 1)
  for q in problems:
    assert q.is_trap == (not q.meta["letter"].isalpha())
    if not q.is_trap:
      assert q.answer == str(q.meta["word"].count(q.meta["letter"]))
  assert any(q.answer == "0" for q in problems)


def test_countdown_random_solutions_verify_and_vary():
  task = get_task("countdown")
  problems = [p for p in task.sample(np.random.default_rng(3), 60, 2) if not p.is_trap]
  rng = np.random.default_rng(0)
  differ = 0
  for p in problems:
    text = reference_completion(task, p, rng)
    assert task.verify(p, text) == 1.0
    differ += text != reference_completion(task, p)
  assert differ > 10  # 4-number problems usually have several solutions


def test_countdown_flawed_solutions_are_labelled_by_the_oracle_and_mix_good_and_bad():
  task = get_task("countdown")
  problems = task.sample(np.random.default_rng(5), 300, 2)
  rng = np.random.default_rng(0)
  by_depth = {i: set() for i in range(4)}
  verified = fudged = 0
  for p in problems:
    lines = countdown_traces.flawed_solution(p, rng)
    assert len(lines) == len(p.meta["numbers"])  # n-1 steps and the answer line
    text = "\n".join(lines) + "\n"
    labels = task.step_labels(p, lines)
    for i, label in enumerate(labels):
      by_depth[i].add(label)
    assert task.verify(p, text) == float(all(labels))
    verified += task.verify(p, text) == 1.0
    pool = list(p.meta["numbers"])
    for line in lines[:-1]:
      pool = pool and apply_step(pool, line)
    fudged += pool is None
  assert all(by_depth[i] == {0, 1} for i in range(4))  # good and bad at every depth
  assert 30 < verified < 200 and fudged > 10


def test_countdown_retry_lines_restart_from_the_prompt_and_the_last_attempt_is_judged():
  task = Countdown()
  p = task.make_problem([2, 3, 4], 20, difficulty=1)
  assert task.verify(p, "3*4=12\n12+2=14\nretry\n3+2=5\n5*4=20\nANSWER: 20\n") == 1.0
  assert task.verify(p, "3*4=12\nretry\nretry\n3+2=5\n5*4=20\nANSWER: 20\n") == 1.0
  for bad in ["3+2=5\n5*4=20\nretry\n3*4=12\n12+2=14\nANSWER: 20\n",  # the last attempt misses
              "3+2=5\n5*4=20\nretry\nANSWER: 20\n",                    # ...or is empty
              "3*4=13\nretry\n3+2=5\n5*4=20\nANSWER: 20\n",            # an illegal earlier step
              "3+2=5\nretry\n5*4=20\nANSWER: 20\n"]:                   # 5 is gone after retry
    assert task.verify(p, bad) == 0.0, bad
  # The oracle: a retry goes back to numbers from which 20 is reachable again.
  assert task.step_labels(p, ["3*4=12", "12+2=14", "retry", "3+2=5", "5*4=20", "ANSWER: 20"]) == [
      0, 0, 1, 1, 1, 1]
  assert task.step_labels(p, ["3+2=5", "retry", "5*4=20"]) == [1, 1, 0]
  assert task.step_labels(p, ["ANSWER: 9", "retry", "3+2=5"]) == [0, 0, 0]  # nothing after an answer
  trap = task.make_problem([2, 3, 4], 23, difficulty=1)
  assert task.verify(trap, "2+3=5\n5*4=20\nretry\nANSWER: none\n") == 1.0


def test_countdown_probe_lines_are_checked_and_not_applied():
  task = Countdown()
  p = task.make_problem([2, 3, 4], 24, difficulty=1)
  assert task.verify(p, "3+2=5?\n3*2=6\n6*4=24\nANSWER: 24\n") == 1.0
  for bad in ["3+2=6?\n3*2=6\n6*4=24\nANSWER: 24\n",   # wrong arithmetic in a probe
              "5+2=7?\n3*2=6\n6*4=24\nANSWER: 24\n",   # 5 is not a number of the pool
              "3*2=6\n3+4=7?\n6*4=24\nANSWER: 24\n",   # 3 is gone once used
              "3*2=6?\n6*4=24\nANSWER: 24\n"]:           # a probe is not applied: no 6
    assert task.verify(p, bad) == 0.0, bad
  # A legal probe keeps the pool, so its label is the state's: 1 while the target is reachable.
  assert task.step_labels(p, ["3+2=5?", "3*2=6", "6*4=24", "ANSWER: 24"]) == [1, 1, 1, 1]
  assert task.step_labels(p, ["3+2=6?", "3*2=6"]) == [0, 0]
  assert task.step_labels(p, ["3+2=5", "5+4=9?"]) == [0, 0]


def test_countdown_probe_solutions_write_the_solvers_search():
  from reasoning.tasks.countdown import PROBE_MARK, _distinct_moves, can_reach
  from reasoning.tasks.countdown_traces import probe_steps
  rng = np.random.default_rng(0)
  # [2, 3, 4] -> 24: the canonical order tries 3+2 first (5 and 4 cannot make 24), then 3*2.
  assert probe_steps([2, 3, 4], 24, rng) == ["3+2=5?", "3*2=6", "6*4=24"]
  assert probe_steps([2, 3, 4], 20, rng) == ["3+2=5", "5*4=20"]  # the first move is good
  trap = probe_steps([2, 3, 4], 23, rng)  # every move of the pool probed, none applied
  assert trap == [f"{a}{op}{b}={c}{PROBE_MARK}" for (a, op, b, c), _ in _distinct_moves([2, 3, 4])]
  task = get_task("countdown")
  for d in (1, 2, 3):
    for p in task.sample(np.random.default_rng(d), 60, d):
      lines = countdown_traces.probe_solution(p, rng)
      assert task.verify(p, "\n".join(lines) + "\n") == 1.0, (p.prompt, lines)
      assert all(task.step_labels(p, lines)), (p.prompt, lines)
      # Probes only where three numbers are left, and each one a real dead end.
      pool = sorted(p.meta["numbers"])
      for line in lines[:-1]:
        if line.endswith(PROBE_MARK):
          assert len(pool) == 3
          assert p.is_trap or not can_reach(apply_step(pool, line[:-1]), p.meta["target"])
        else:
          pool = sorted(apply_step(pool, line))


def test_countdown_search_solutions_try_complete_attempts_in_order():
  from reasoning.tasks.countdown import _distinct_moves
  from reasoning.tasks.countdown_traces import closest_move, search_steps
  rng = np.random.default_rng(0)
  assert closest_move(4, 5, 24) == (5, "*", 4, 20)
  # [2, 3, 4] -> 24: 3+2 first, finished by the move nearest 24 (5*4=20), a miss; then 3*2.
  assert search_steps([2, 3, 4], 24, rng) == ["3+2=5", "5*4=20", "retry", "3*2=6", "6*4=24"]
  trap = search_steps([2, 3, 4], 23, rng)  # every first move tried once: a proof of `none`
  assert trap.count("retry") == len(_distinct_moves([2, 3, 4])) - 1 and trap[-1] != "retry"
  task = get_task("countdown")
  for d in (1, 2):
    for p in task.sample(np.random.default_rng(d), 60, d):
      lines = countdown_traces.search_solution(p, rng)
      assert task.verify(p, "\n".join(lines) + "\n") == 1.0, (p.prompt, lines)
      attempts = "\n".join(lines[:-1]).split("\nretry\n")
      assert len(attempts) == len(set(attempts))  # never the same attempt twice
      heads = {tuple(a.split("\n")[:len(p.meta["numbers"]) - 3]) for a in attempts}
      assert len(heads) == 1  # above three numbers, every attempt makes the same moves


def test_countdown_attempt_solutions_search_first_moves_and_judge_the_rest():
  from reasoning.tasks.countdown import _distinct_moves, can_reach
  from reasoning.tasks.countdown_traces import attempt_steps, search_steps
  rng = np.random.default_rng(0)
  # [1, 2, 3, 4] -> 50 (unreachable): each first move in the canonical order, then the first move
  # of the three numbers left and its closest finish; three misses, no more (max_attempts).
  assert attempt_steps([1, 2, 3, 4], 50, rng, max_attempts=3) == [
      "2+1=3", "3+3=6", "6*4=24", "retry", "2*1=2", "3+2=5", "5*4=20", "retry",
      "2-1=1", "3+1=4", "4*4=16"]
  assert attempt_steps([1, 2, 3, 4], 24, rng) == ["2+1=3", "3+3=6", "6*4=24"]  # a first hit
  assert attempt_steps([1, 2, 3, 4], 23, rng, max_attempts=3) is None  # its good move is later
  assert attempt_steps([2, 3, 4], 24, rng) == search_steps([2, 3, 4], 24, rng)
  task = get_task("countdown")
  kept = 0
  for d in (2, 3):
    for p in task.sample(np.random.default_rng(d), 80, d):
      lines = countdown_traces.attempt_solution(p, rng)
      if lines is None:  # solvable, with no good first move among the first six
        assert not p.is_trap
        continue
      kept += 1
      assert task.verify(p, "\n".join(lines) + "\n") == 1.0, (p.prompt, lines)
      attempts = [a.split("\n") for a in "\n".join(lines[:-1]).split("\nretry\n")]
      assert len(attempts) <= 6 and all(len(a) == len(p.meta["numbers"]) - 1 for a in attempts)
      # Above four numbers every attempt makes the same moves; at four, distinct ones in order.
      first = len(p.meta["numbers"]) - 4
      assert len({tuple(a[:first]) for a in attempts}) == 1
      pool = sorted(p.meta["numbers"])
      for line in attempts[0][:first]:
        pool = sorted(apply_step(pool, line))
      order = [f"{a}{op}{b}={c}" for (a, op, b, c), _ in _distinct_moves(pool)]
      assert [a[first] for a in attempts] == order[:len(attempts)]
      # Every attempt but the last misses, and only after a first move that is a dead end.
      for a in attempts[:-1]:
        assert not can_reach(apply_step(pool, a[first]), p.meta["target"])
  assert kept > 100


def test_countdown_goal_solutions_search_backwards_from_the_target():
  from reasoning.tasks.countdown import GOAL_MARK, can_reach
  from reasoning.tasks.countdown_traces import _goals, goal_steps
  rng = np.random.default_rng(0)
  # A goal line is true arithmetic on a number of the pool and leaves the pool as it is.
  assert apply_step([3, 5, 8, 2], "29-3=26!") == [3, 5, 8, 2]
  assert apply_step([3, 5, 8, 2], "29-3=25!") is None  # wrong arithmetic
  assert apply_step([3, 5, 8, 2], "29-4=25!") is None  # 4 is not in the pool
  # [2, 3, 5, 8] -> 29: d=2 first (29-2=27, 29+2=31, 29*2=58 for the other three: unreachable,
  # each a first move and the closest finishes), then d=3: 29-3=26 = (8+5)*2.
  assert goal_steps([3, 5, 8, 2], 29, rng) == [
      "29-2=27!", "5+3=8", "8+8=16", "16*2=32", "retry",
      "29+2=31!", "5+3=8", "8+8=16", "16*2=32", "retry",
      "29*2=58!", "5+3=8", "8*8=64", "64/2=32", "retry",
      "29-3=26!", "8+5=13", "13*2=26", "26+3=29"]
  assert goal_steps([3, 5, 8, 2], 29, rng, max_attempts=3) is None  # its goal comes fourth
  assert goal_steps([3, 8, 5], 29, rng) == ["8*3=24", "24+5=29"]  # three numbers: canonical
  assert goal_steps([1, 1, 1], 97, rng) == []
  task = get_task("countdown")
  kept = 0
  for d in (2, 3):
    for p in task.sample(np.random.default_rng(d + 10), 80, d):
      lines = countdown_traces.goal_solution(p, rng)
      if lines is None:
        assert not p.is_trap
        continue
      kept += 1
      assert task.verify(p, "\n".join(lines) + "\n") == 1.0, (p.prompt, lines)
      attempts = [a.split("\n") for a in "\n".join(lines[:-1]).split("\nretry\n")]
      first = len(p.meta["numbers"]) - 4
      pool = sorted(p.meta["numbers"])
      for line in attempts[0][:first]:
        pool = sorted(apply_step(pool, line))
      goals = _goals(pool, p.meta["target"])
      assert [a[first] for a in attempts] == [g for g, _, _, _ in goals[:len(attempts)]]
      for a, (goal, _, x, rest) in zip(attempts, goals):  # reachable goals end the search
        assert a[first].endswith(GOAL_MARK) and len(a) == len(p.meta["numbers"])
        assert (a is attempts[-1]) == (not p.is_trap) or not can_reach(rest, x)
  assert kept > 100


def test_countdown_failed_attempts_are_legal_distinct_misses():
  task = get_task("countdown")
  rng = np.random.default_rng(0)
  first_move_dead = 0
  problems = [p for p in task.sample(np.random.default_rng(6), 100, 2) if not p.is_trap]
  for p in problems:
    tried = []
    for _ in range(3):
      lines = countdown_traces.failed_attempt(p, rng, avoid=tried)
      assert lines is not None and lines not in tried
      assert len(lines) == len(p.meta["numbers"]) - 1  # every number used
      labels = task.step_labels(p, lines)
      assert labels[-1] == 0 and task.verify(p, "\n".join(lines) + f"\nANSWER: {p.answer}\n") == 0
      pool = list(p.meta["numbers"])
      for line in lines:
        pool = apply_step(pool, line)
        assert pool is not None  # legal
      first_move_dead += labels[0] == 0
      tried.append(lines)
  assert 0.4 < first_move_dead / (3 * len(problems)) < 0.9  # half fail at the first move, or more

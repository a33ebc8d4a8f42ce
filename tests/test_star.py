"""STaR's data side: the verified-only filter and rationalization without hint leaks."""

import numpy as np
import pytest

from reasoning.tasks import get_task, hint_of, reference_completion, with_hint
from reasoning.train import star

TASK = get_task("countdown", trap_share=0.0)


def _problems():
  a = TASK.make_problem([3, 8, 5], 29, 1)    # 8*3=24, 24+5=29
  b = TASK.make_problem([2, 6, 7], 19, 1)
  trap = TASK.make_problem([1, 1, 1], 97, 1)
  return [a, b, trap]


def test_first_verified_keeps_only_verified_and_the_first_per_problem():
  a, b, trap = _problems()
  good_a = reference_completion(TASK, a)
  good_b = reference_completion(TASK, b)
  wrong = "8+3=11\n11+5=16\nANSWER: 16\n"
  fudged = "8*3=24\n24+5=30\nANSWER: 29\n"  # right answer line, illegal arithmetic
  # Sample-major: sample j of problem i at j * 3 + i.
  completions = [fudged, wrong, "ANSWER: 97\n",
                 good_a, good_b, "garbage",
                 good_a.replace("8*3", "3*8"), wrong, "ANSWER: none\n"]
  kept = star.first_verified(TASK, [a, b, trap], completions, 3)
  assert kept == [good_a, good_b, "ANSWER: none\n"]
  assert star.first_verified(TASK, [a, b, trap], completions[:3], 1) == [None, None, None]
  with pytest.raises(ValueError, match="9 completions for 3 problems x 2 samples"):
    star.first_verified(TASK, [a, b, trap], completions, 2)


def test_hints_give_the_last_step_for_countdown_and_the_answer_elsewhere():
  a, _, trap = _problems()
  assert hint_of(TASK, reference_completion(TASK, a)) == "24+5=29"
  assert hint_of(TASK, reference_completion(TASK, trap)) == "none"
  arithmetic = get_task("arithmetic", trap_share=0.0)
  [p] = arithmetic.sample(np.random.default_rng(0), 1, 2)
  assert hint_of(arithmetic, reference_completion(arithmetic, p)) == p.answer
  prompts = star.rationalization_prompts(TASK, [a], np.random.default_rng(0))
  assert prompts == [with_hint(a.prompt, "24+5=29")] == [a.prompt + "hint 24+5=29\n"]
  with pytest.raises(ValueError, match="malformed completion"):
    hint_of(TASK, "no answer line")


def test_collect_rationalizes_failures_without_leaking_the_hint():
  problems = _problems()
  a, b, trap = problems
  calls = []

  def generate(prompts):
    """Scripted policy: without a hint it solves only `a`; with one it copies the hint, once
    with the hint line echoed (invalid, must be dropped) and once correctly for `b`."""
    calls.append(list(prompts))
    out = []
    for i, prompt in enumerate(prompts):
      if "hint " not in prompt:
        out.append(reference_completion(TASK, a) if prompt == a.prompt else "ANSWER: 1\n")
      else:
        problem = next(p for p in problems if prompt.startswith(p.prompt))
        hint_line = prompt[len(problem.prompt):]
        good = reference_completion(TASK, problem)
        out.append(hint_line + good if i < len(prompts) // 2 else good)
    return out, np.array([len(c) for c in out])

  got = star.collect(generate, TASK, problems, samples=2, rationalize=True,
                     rationalize_samples=2, rng=np.random.default_rng(0))
  assert calls[0] == [p.prompt for p in problems] * 2
  assert all(p.startswith((b.prompt + "hint ", trap.prompt + "hint ")) for p in calls[1])
  assert got.solved.tolist() == [True, False, False]
  assert got.rationalized.tolist() == [False, True, True]
  stored = dict(got.examples)
  assert set(stored) == {a.prompt, b.prompt, trap.prompt}  # hint-free prompts only
  assert all("hint" not in prompt + completion for prompt, completion in got.examples)
  assert all(TASK.verify(p, stored[p.prompt]) == 1.0 for p in problems)
  assert len(got.prompt_tokens) == len(got.new_tokens) == 6 + 4

  off = star.collect(generate, TASK, problems, samples=2, rationalize=False,
                     rationalize_samples=2, rng=np.random.default_rng(0))
  assert [p for p, _ in off.examples] == [a.prompt] and not off.rationalized.any()


def test_balance_traps_caps_the_trap_share_of_kept_examples():
  problems = [TASK.make_problem([3, 8, 5], 29, 1), TASK.make_problem([1, 1, 1], 97, 1),
              TASK.make_problem([1, 1, 2], 99, 1), TASK.make_problem([2, 6, 7], 19, 1)]
  by_prompt = {p.prompt: p for p in problems}
  assert [p.is_trap for p in problems] == [False, True, True, False]
  examples = [(p.prompt, "x") for p in problems]
  kept = star.balance_traps(examples, by_prompt, 1 / 3, np.random.default_rng(0))
  assert [by_prompt[p].is_trap for p, _ in kept].count(True) == 1  # 1 of 3 = trap_share
  assert {p for p, _ in kept} >= {problems[0].prompt, problems[3].prompt}
  assert star.balance_traps(examples, by_prompt, 0.5, np.random.default_rng(0)) == examples
  assert len(star.balance_traps(examples, by_prompt, 0.0, np.random.default_rng(0))) == 2

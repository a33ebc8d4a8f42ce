"""The critic's pure parts against hand-computed cases (reasoning/train/critic.py and
Countdown.explain)."""

import numpy as np
import pytest

from reasoning import critique as critique_lib
from reasoning.tasks.arithmetic import Arithmetic
from reasoning.tasks.countdown import Countdown
from reasoning.train import critic

TASK = Countdown()
PROBLEM = TASK.make_problem([3, 8, 5], 29, 1)
TRAP = TASK.make_problem([2, 3, 4], 100, 1)


@pytest.mark.parametrize("completion, expected", [
    ("8*3=24\n24+5=29\nANSWER: 29\n", "all steps are right\nANSWER: none\n"),
    ("8*3=24\n24+6=30\nANSWER: 30\n", "step 2 is wrong: 6 is not in 5 24\nANSWER: 2\n"),
    ("8*3=24\n24+5=30\nANSWER: 30\n", "step 2 is wrong: 24+5 is 29 not 30\nANSWER: 2\n"),
    ("8*3=24\n24-25=1\nANSWER: 1\n",
     "step 2 is wrong: 24-25 is not a positive whole number\nANSWER: 2\n"),
    ("8*5=40\n40-3=37\nANSWER: 37\n",
     "step 1 is wrong: 29 cannot be made from 3 40\nANSWER: 1\n"),  # legal, but a dead end
    ("8*3=24\nANSWER: 29\n", "step 2 is wrong: the numbers left are 5 24\nANSWER: 2\n"),
    ("8*3=24\n24+5=29\nANSWER: none\n", "step 3 is wrong: the answer is 29\nANSWER: 3\n"),
    ("8*3\nANSWER: 29\n", "step 1 is wrong: it is not an operation\nANSWER: 1\n"),
    ("8*3=24\n24+5=29\n", None),  # no answer line: malformed, not critiqued
])
def test_countdown_critique(completion, expected):
  assert critique_lib.critique(TASK, PROBLEM, completion) == expected


def test_trap_critique_and_retry():
  assert critique_lib.critique(TASK, TRAP, "ANSWER: none\n") == "all steps are right\nANSWER: none\n"
  assert critique_lib.critique(TASK, TRAP, "2*3=6\n6*4=24\nANSWER: 24\n") == \
      "step 3 is wrong: the answer is none\nANSWER: 3\n"
  # A retry resets the pool: the first wrong step is the first attempt's, explained on its pool.
  assert critique_lib.critique(TASK, PROBLEM, "8*5=40\nretry\n8*3=24\n24+5=29\nANSWER: 29\n") == \
      "step 1 is wrong: 29 cannot be made from 3 40\nANSWER: 1\n"


def test_a_task_without_explain_names_the_step_only():
  task = Arithmetic(trap_share=0.0)
  [p] = task.sample(np.random.default_rng(0), 1, 1)
  lines = task.solve(p)
  right = "\n".join(lines) + "\n"
  assert critique_lib.critique(task, p, right) == "all steps are right\nANSWER: none\n"
  wrong = "\n".join(["1+1=3"] + lines[1:]) + "\n"
  assert critique_lib.critique(task, p, wrong) == "step 1 is wrong\nANSWER: 1\n"


def test_verdict_and_first_wrong_step():
  assert critique_lib.first_wrong_step([1, 1, 0, 0]) == 3
  assert critique_lib.first_wrong_step([1, 1]) is None
  assert critique_lib.verdict("step 2 is wrong: x\nANSWER: 2\n") == 2
  assert critique_lib.verdict("all steps are right\nANSWER: none\n") is None
  assert critique_lib.verdict("step 2 is wrong\n") == "malformed"
  assert critique_lib.verdict("ANSWER: 0\n") == "malformed"
  assert critique_lib.critic_prompt(PROBLEM, "ANSWER: 29") == "countdown 3 8 5 to 29\nANSWER: 29\ncheck\n"


def test_prm_verdict():
  assert critic.prm_verdict([0.9, 0.2, 0.4], None) == 2          # the lowest step
  assert critic.prm_verdict([0.9, 0.6, 0.4], 0.5) == 3           # the first below 0.5
  assert critic.prm_verdict([0.9, 0.6], 0.5) is None             # none below: no wrong step
  assert critic.prm_verdict([], 0.5) is None


def test_score_verdicts():
  truth = [None, 2, 3, None, 1]
  predicted = [None, 2, 1, 4, "malformed"]
  s = critic.score_verdicts(truth, predicted, difficulties=[1, 1, 2, 2, 2])
  assert s["accuracy"] == pytest.approx(2 / 5)
  assert s["wrong_named"] == pytest.approx(1 / 3) and s["count/wrong_named"] == 3
  assert s["right_passed"] == pytest.approx(1 / 2)
  assert s["se/accuracy"] == pytest.approx(np.sqrt(0.4 * 0.6 / 5))
  assert s["accuracy/d1"] == 1.0 and s["accuracy/d2"] == 0.0
  assert s["malformed"] == pytest.approx(1 / 5)


def test_examples_keep_every_wrong_solution_and_cap_the_right_ones():
  right = "8*3=24\n24+5=29\nANSWER: 29\n"
  wrong = ["8*3=24\n24+6=30\nANSWER: 30\n", "8*5=40\n40-3=37\nANSWER: 37\n"]
  completions = [right] * 5 + wrong + ["8*3=24\n"]  # the last is malformed
  ex = critic.examples(TASK, [PROBLEM] * len(completions), completions,
                       rng=np.random.default_rng(0), right_share=0.5)
  assert len(ex) == 4
  assert sum(c.startswith(critique_lib.ALL_RIGHT) for _, c in ex) == 2
  assert all(p.startswith(PROBLEM.prompt) and p.endswith(critique_lib.CRITIC_MARK) for p, _ in ex)

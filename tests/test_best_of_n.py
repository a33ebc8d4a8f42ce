import numpy as np
import pytest

from reasoning.search import best_of_n as bon


def test_selectors_on_hand_made_pools():
  answers = ["7", "3", "3", None, "7", "7"]
  scores = [0.9, 0.8, 0.7, 1.0, 0.1, 0.1]
  assert bon.select(answers, scores, "majority") == 0          # "7" x3, first at 0
  assert bon.select(answers, scores, "best") == 0              # malformed 1.0 is ignored
  # weighted: "7" = 1.1, "3" = 1.5 -> "3", its best completion is index 1
  assert bon.select(answers, scores, "weighted") == 1
  # A 2-candidate weighted vote: the single confident answer beats two unsure ones.
  assert bon.select(["a", "b", "b"], [0.9, 0.4, 0.4], "weighted") == 0
  assert bon.select(["a", "b", "b"], [0.9, 0.4, 0.4], "majority") == 1
  assert bon.select([None, None], [0.5, 0.6], "best") == 0
  assert bon.select(["a", "b"], [0.5, 0.5], "majority") == 0   # tie: earliest answer
  with pytest.raises(ValueError, match="selector"):
    bon.select(["a"], [1.0], "random")


def test_bootstrap_with_full_pools_is_exact():
  correct = np.array([[1, 0, 0], [0, 0, 1]], float)
  answers = [["5", "6", "6"], ["1", "1", "3"]]
  scores = np.array([[0.9, 0.2, 0.2], [0.1, 0.2, 0.3]])
  rng = np.random.default_rng(0)
  # n = M: every resample is the whole pool; best picks 0 then 2 -> both correct.
  assert bon.bootstrap_accuracy(correct, answers, scores, 3, "best", rng, 20) == (1.0, 1.0, 1.0)
  mean, lo, hi = bon.bootstrap_accuracy(correct, answers, scores, 3, "majority", rng, 20)
  assert mean == 0.0  # "6" wins problem 0 and "1" problem 1: both wrong
  mean, lo, hi = bon.bootstrap_accuracy(correct, answers, scores, 1, "best", rng, 400)
  assert abs(mean - 1 / 3) < 0.06 and lo <= mean <= hi
  with pytest.raises(ValueError, match="pools of at least 4"):
    bon.bootstrap_accuracy(correct, answers, scores, 4, "best", rng)

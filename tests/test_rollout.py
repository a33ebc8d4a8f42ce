"""The RL rollout's pure parts and the reward shaping, against hand-computed cases."""

import numpy as np
import pytest

from reasoning.tasks import get_task
from reasoning.text import VOCAB
from reasoning.train import rewards, rollout


def test_curriculum_prefers_difficulties_near_half_pass_rate():
  task = get_task("countdown")
  rates = {"1": 0.95, "2": 0.5}
  draw = lambda task, held, rates: rollout.sample_step_problems(
      task, np.random.default_rng(0), [1, 2], 400, held, rates)
  uniform = [p.difficulty for p in draw(task, set(), None)]
  tilted = [p.difficulty for p in draw(task, set(), rates)]
  # weights p(1-p) + 0.02: 0.0675 vs 0.27 -> 20% vs 80%
  assert 0.4 < uniform.count(1) / 400 < 0.6
  assert 0.13 < tilted.count(1) / 400 < 0.27
  held = {p.prompt for p in draw(task, set(), rates)[:50]}
  again = draw(task, held, rates)  # held-out prompts are skipped
  assert held.isdisjoint({p.prompt for p in again})
  assert rollout.training_task(task, None) is task  # train_trap_share unset: the task's 10%
  traps = [p.is_trap for p in draw(rollout.training_task(task, 0.5), set(), rates)]
  assert 0.4 < np.mean(traps) < 0.6 and task.trap_share == 0.1


def test_pass_rates_move_towards_the_steps_outcomes():
  task = get_task("countdown")
  problems = [task.make_problem([3, 8, 5], 29, 1)] * 2 + [task.make_problem([1, 2, 3, 4], 10, 2)]
  rates = rollout.update_pass_rates({"1": 0.5, "2": 0.5, "3": 0.5}, problems, [1.0, 0.0, 1.0])
  assert rates == pytest.approx({"1": 0.8 * 0.5 + 0.2 * 0.5, "2": 0.8 * 0.5 + 0.2, "3": 0.5})


def test_rewards_penalize_malformed_and_false_none():
  task = get_task("countdown")
  solvable = task.make_problem([3, 8, 5], 29, 1)
  trap = task.make_problem([1, 1, 1], 97, 1)
  assert trap.is_trap and not solvable.is_trap
  problems = [solvable, solvable, solvable, trap, solvable]
  completions = ["8*3=24\n24+5=29\nANSWER: 29\n", "garbage", "ANSWER: none\n", "ANSWER: none\n",
                 "8+3=11\n11+5=16\nANSWER: 16\n"]
  assert rewards.rewards_of(task, problems, completions, 0.5, 0.25).tolist() == [1.0, -0.5, -0.25, 1.0, 0.0]
  assert rewards.rewards_of(task, problems, completions, 0.0).tolist() == [1.0, 0.0, 0.0, 1.0, 0.0]
  # The process reward: a correct attempt gets the whole bonus, a dead-end first step none of
  # it, a good first step then a dead end a third (1 of 3 lines good).
  more = ["8*5=40\n40-3=37\nANSWER: 29\n", "8*3=24\n24*5=120\nANSWER: 29\n"]
  shaped = rewards.rewards_of(task, problems + [solvable] * 2, completions + more, 0.5, 0.25, 0.3)
  np.testing.assert_allclose(shaped, [1.3, -0.5, -0.25, 1.3, 0.0, 0.0, 0.1], atol=1e-6)
  # The illegal-step penalty: a fudged last step (11+5 is not 29), a number not in the pool, an
  # illegal step in an abandoned attempt; not an honest miss, a legal retry or a correct answer.
  fudged = ["8+3=11\n11+5=29\nANSWER: 29\n", "8*4=32\n32-3=29\nANSWER: 29\n",
            "8+3=12\nretry\n8*3=24\n24+5=29\nANSWER: 29\n",
            "8+3=11\n11+5=16\nretry\n8*3=24\n24+5=29\nANSWER: 29\n",
            "8+3=11\n11+5=16\nANSWER: 16\n"]
  np.testing.assert_allclose(rewards.rewards_of(task, [solvable] * 5, fudged, 0.5, 0.25, 0.0, 0.4),
                             [-0.4, -0.4, -0.4, 1.0, 0.0], atol=1e-6)


def test_abandoned_mask_covers_the_attempts_before_the_last_retry():
  texts = ["8+3=11\n11+5=16\nretry\n8*3=24\n24+5=29\nANSWER: 29\n",
           "8*3=24\n24+5=29\nANSWER: 29\n",
           "retry\n8*3=24\nretry\n8*3=24\n24+5=29\nANSWER: 29\n"]
  rows = [VOCAB.encode(t) + [VOCAB.eos] for t in texts]
  lengths = np.array([len(r) for r in rows])
  tokens = np.zeros((3, lengths.max()), np.int32)
  for b, r in enumerate(rows):
    tokens[b, :len(r)] = r
  mask = rollout.abandoned_mask(VOCAB, tokens, lengths)
  for b, text in enumerate(texts):
    cut = text.rfind("retry\n")
    expected = len(VOCAB.encode(text[:cut])) if cut >= 0 else 0
    assert mask[b].tolist() == [True] * expected + [False] * (tokens.shape[1] - expected), b
  assert mask[0].sum() == len(VOCAB.encode("8+3=11\n11+5=16\n"))


def test_dynamic_sampling_keeps_the_groups_whose_rewards_differ():
  rewards = np.array([1, 1, 0, 1, 0, 0, 1, 0], np.float32)  # G = 2: groups 1 and 3 informative
  np.testing.assert_array_equal(rollout.informative_rows(rewards, 2, 2), [2, 3, 6, 7])
  # one short: filled with the first uninformative group, in sampled order
  np.testing.assert_array_equal(rollout.informative_rows(rewards, 2, 3), [0, 1, 2, 3, 6, 7])
  with pytest.raises(ValueError, match="5 wanted"):
    rollout.informative_rows(rewards, 2, 5)


def test_overlong_penalty_is_dapos_soft_punishment():
  np.testing.assert_allclose(rewards.overlong_penalty([10, 48, 50, 60, 64], 64, 16),
                             [0.0, 0.0, -0.125, -0.75, -1.0])
  np.testing.assert_array_equal(rewards.overlong_penalty([64], 64, 0), [0.0])
  with pytest.raises(ValueError, match="overlong_buffer"):
    rewards.overlong_penalty([1], 8, 16)


def test_reward_function_returns_the_optimized_reward_and_the_gold_verdict():
  from reasoning.tasks import Countdown, reference_completion
  task = Countdown(trap_share=0.0)
  problems = task.sample(np.random.default_rng(0), 2, 1)
  right = reference_completion(task, problems[0])
  wrong = "1+1=2\nANSWER: 2\n"
  exact = rewards.reward_function(task, format_penalty=0.5)
  got, correct = exact(problems, [right, "no answer"])
  np.testing.assert_array_equal(got, [1.0, -0.5])
  np.testing.assert_array_equal(correct, [True, False])

  class Proxy:  # a reward model that likes short completions
    def __call__(self, problems, completions):
      return np.array([1.0 / len(c) for c in completions], np.float32)

  learned = rewards.reward_function(task, learned=Proxy(), format_penalty=0.5)
  got, correct = learned(problems, [right, wrong])
  np.testing.assert_allclose(got, [1 / len(right), 1 / len(wrong)])
  np.testing.assert_array_equal(correct, [True, False])  # the gold reward, not the proxy's
  both = rewards.reward_function(task, learned=Proxy(), plus_verifier=True, format_penalty=0.5)
  np.testing.assert_allclose(both(problems, [right, wrong])[0], [1 + 1 / len(right),
                                                                 1 / len(wrong)])


class _PieceVocab:
  """A vocabulary of whole text pieces: token i decodes to pieces[i] (a byte-level BPE may put a
  newline inside a token, or two in one)."""

  def __init__(self, pieces):
    self.pieces = pieces

  def decode(self, ids):
    return "".join(self.pieces[i] for i in ids)


def test_dense_step_rewards_land_on_the_token_that_closes_each_line():
  # The character vocabulary: "1+1=2\n" is six tokens, "ANSWER: " one, so "ANSWER: 2\n"
  # closes at token 8.
  ids = VOCAB.encode("1+1=2\nANSWER: 2\n")
  tokens = np.array([ids + [0, 0]])
  np.testing.assert_array_equal(rewards.step_end_tokens(VOCAB, tokens[0], len(ids)), [5, 8])
  r, ends = rewards.dense_step_rewards(VOCAB, tokens, [len(ids) + 1], [[0.25, 0.75]])
  expected = np.zeros(tokens.shape, np.float32)
  expected[0, 5], expected[0, 8] = 0.25, 0.75
  np.testing.assert_array_equal(r, expected)
  np.testing.assert_array_equal(ends, expected > 0)
  # BPE-like pieces: "a\nb" holds the first line's end, "\n\n" two ends; a score whose line
  # end is not among the tokens goes to the last generated token (the EOS).
  vocab = _PieceVocab(["x", "a\nb", "c", "\n\n", "<eos>"])
  row = np.array([1, 2, 3, 0, 4, 0])
  np.testing.assert_array_equal(rewards.step_end_tokens(vocab, row, 5), [0, 2, 2])
  r, ends = rewards.dense_step_rewards(vocab, row[None], [5], [[0.1, 0.2, 0.3, 0.4]])
  np.testing.assert_allclose(r[0], [0.1, 0, 0.5, 0, 0.4, 0])
  np.testing.assert_array_equal(ends[0], [1, 0, 1, 0, 1, 0])


def test_dense_rewards_need_a_prm():
  from reasoning.tasks import Countdown

  class Orm:
    kind = "orm"

  with pytest.raises(ValueError, match="reward.dense=True .* PRM"):
    rewards.reward_function(Countdown(), learned=Orm(), dense=True)
  with pytest.raises(ValueError, match="reward.dense=True .* PRM"):
    rewards.reward_function(Countdown(), dense=True)

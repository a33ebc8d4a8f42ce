"""The RL loop's library half (reasoning/train/rl_loop.py): its config checks and its FLOP ledger.
The loop itself runs end to end in tests/test_experiments.py (pulse, resume, off-policy)."""

import numpy as np
import pytest

from reasoning import compute
from reasoning.train import rl_loop, rollout as rollout_lib
from support import TINY, tiny_config


def _config(**changes):
  return tiny_config("configs/countdown_rl.py", **changes)


def test_rl_config_reads_every_field_and_the_objective():
  cfg = rl_loop.RLConfig.from_config(_config(**{"rl.algo": "ppo", "train_difficulties": (1, 2)}))
  assert cfg.pg.algo == "ppo" and cfg.train_difficulties == (1, 2)
  assert cfg.rows == cfg.prompts_per_step * cfg.samples_per_prompt
  assert cfg.pg.norm_length == cfg.max_new  # 0 in the config: the generation budget


@pytest.mark.parametrize("changes, message", [
    ({"pipeline": True}, "pipeline=True .* needs off_policy_steps >= 1"),
    ({"rl.tis_cap": 2.0}, "rl.tis_cap=2.0 corrects rollouts of an older policy"),
    ({"off_policy_steps": -1}, "off_policy_steps=-1"),
    ({"minibatch_size": 3}, "not a multiple of minibatch_size = 3"),
    ({"rollout_slots": 3}, "rollout_slots=3"),
    ({"temperature": 0.0}, "temperature=0.0"),
    ({"steps": 0}, "--config.steps must be positive"),
    ({"reward.dense": True, "rl.algo": "rloo"}, "reward.dense=True: rl.algo='rloo'"),
])
def test_rl_config_names_the_bad_field(changes, message):
  with pytest.raises(ValueError, match=message):
    rl_loop.RLConfig.from_config(_config(**changes))


def test_step_flops_by_hand():
  # Two sampled rows, one trained on: generation of both, then forward passes over the trained
  # row under the reference (+ the policy before its update, + the behavior policy) and two
  # epochs of training on it.
  prompt_lens, lengths, rows = np.array([5, 7]), np.array([3, 4]), np.array([1])
  out = rollout_lib.Rollout(batch={}, rewards=np.zeros(2), correct=np.zeros(2, bool),
                            completions=["", ""], prompt_lens=prompt_lens, lengths=lengths,
                            rows=rows)
  generation = compute.generation_flops(TINY, prompt_lens, lengths)
  forward, train = compute.forward_flops(TINY, [11]), compute.train_flops(TINY, [11])
  assert rl_loop.step_flops(TINY, out, score_policy=False, off_policy=False, epochs=2) == (
      pytest.approx(generation + forward + 2 * train))
  assert rl_loop.step_flops(TINY, out, score_policy=True, off_policy=True, epochs=2) == (
      pytest.approx(generation + 3 * forward + 2 * train))
  # A tool rollout counts its turns itself.
  tools = rollout_lib.Rollout(batch={}, rewards=np.zeros(2), correct=np.zeros(2, bool),
                              completions=["", ""], prompt_lens=prompt_lens, lengths=lengths,
                              rows=rows, sampling_flops=123.0)
  assert rl_loop.step_flops(TINY, tools, score_policy=False, off_policy=False, epochs=1) == (
      pytest.approx(123.0 + forward + train))

"""Named random streams never share draws."""

import collections

import numpy as np
import pytest

from reasoning import rng


def test_streams_with_a_path_have_their_own_numbers():
  by_number = collections.defaultdict(list)
  for name, number in rng.STREAMS.items():
    by_number[number].append(name)
  for number, names in by_number.items():
    with_path = [n for n in names if n not in rng.NO_PATH]
    assert len(with_path) <= 1 and len(names) - len(with_path) <= 1, (number, names)


def test_a_shared_number_draws_apart_from_any_nonzero_path():
  """numpy drops trailing zeros ([seed, n, 0] draws what [seed, n] does), so a stream sharing a
  number with a stream without a path refuses an all-zero path; any other path draws apart."""
  for name in rng.NO_PATH:
    number = rng.STREAMS[name]
    a = np.random.default_rng([0, number]).random(8)
    assert np.allclose(a, np.random.default_rng([0, number, 0]).random(8))
    assert not np.allclose(a, np.random.default_rng([0, number, 1]).random(8))
  with pytest.raises(ValueError, match="all-zero path"):
    rng.stream(0, "hints", 0)
  rng.stream(0, "rl_prompts", 0)  # a number of its own: step 0 is fine


def test_a_stream_is_drawn_with_its_arity():
  rng.stream(0, "rl_prompts", 3)
  rng.stream(0, "critic_right")
  with pytest.raises(ValueError, match="'rl_prompts' is drawn with a path"):
    rng.stream(0, "rl_prompts")
  with pytest.raises(ValueError, match="'critic_right' is drawn without a path"):
    rng.stream(0, "critic_right", 1)

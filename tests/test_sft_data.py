"""SFT datasets: retry examples, written-out search traces and the batch of a step."""

import dataclasses

import numpy as np
import pytest

from reasoning.tasks import get_task, reference_completion
from reasoning.text import VOCAB, pad_examples
from reasoning.train import sft_data


def test_sft_retry_examples_train_on_all_but_the_dead_end_moves():
  task = get_task("countdown")
  rng = np.random.default_rng(0)
  retried = 0
  for p in task.sample(np.random.default_rng(1), 40, 2):
    c = reference_completion(task, p, rng)
    pieces = sft_data.with_failed_attempts(task, p, c, rng, 2, 1.0)
    text = "".join(t for t, _ in pieces)
    if p.is_trap:
      assert pieces == [(c, True)]
      continue
    retried += 1
    assert text.endswith("retry\n" + c) and task.verify(p, text) == 1.0
    attempts = text[:-len(c)].split("retry\n")[:-1]
    assert 1 <= len(attempts) <= 2 and len(set(attempts)) == len(attempts)
    lines = text.rstrip("\n").split("\n")
    labels = task.step_labels(p, lines)
    # Untrained: exactly the first dead-end line of each failed attempt.
    untrained = [t.rstrip("\n") for t, w in pieces if not w]
    assert len(untrained) == len(attempts)
    assert all(labels[lines.index(u)] == 0 for u in untrained)
    tokens, mask = pad_examples(VOCAB, [p.prompt], [pieces], 128)
    head = 1 + len(VOCAB.encode(p.prompt))
    assert mask[0, :head].sum() == 0
    assert mask[0].sum() == 1 + len(VOCAB.encode(text)) - sum(
        len(VOCAB.encode(u + "\n")) for u in untrained)
  assert retried > 20
  p = task.sample(np.random.default_rng(2), 1, 1)[0]
  assert sft_data.with_failed_attempts(task, p, "x", rng, 2, 0.0) == [("x", True)]
  # The policy's own miss always makes a retry example, and comes first.
  p = task.make_problem([2, 3, 4], 20, difficulty=1)
  own = ["3*4=12", "12+2=14"]
  assert task.is_miss(p, own) and not task.is_miss(p, ["3+2=5", "5*4=20"])
  assert not task.is_miss(p, ["3*4=12"]) and not task.is_miss(p, ["3*4=13", "13+2=15"])
  for _ in range(5):
    pieces = sft_data.with_failed_attempts(task, p, "3+2=5\n5*4=20\nANSWER: 20\n", rng, 2, 0.0, own)
    assert pieces[:3] == [("3*4=12\n", False), ("12+2=14\n", True), ("retry\n", True)]
    assert task.verify(p, "".join(t for t, _ in pieces)) == 1.0
    assert "".join(t for t, _ in pieces).count("retry") <= 2


@pytest.mark.parametrize("variant, marker", [("probes", "?"), ("search", "retry"),
                                             ("attempts", "retry"), ("goals", "!")])
def test_sft_trace_variants_train_on_the_written_search(variant, marker):
  config = sft_data.DataConfig(seed=0, train_difficulties=(1,) if variant == "search" else (1, 2),
                               train_problems=60,
                               seq_len={"probes": 160, "goals": 320}.get(variant, 256),
                               solutions=variant)
  pools = sft_data.build_pools(config, get_task("countdown"), VOCAB, set())
  token = VOCAB.encode(marker)[0]
  for tokens, loss_mask in pools[1:] if variant == "goals" else pools:  # (goals: d1 is plain)
    # the search's lines are trained targets
    assert ((tokens == token) & (loss_mask > 0)).sum() > 60
  if variant in ("attempts", "goals"):  # d2 problems whose search would be long are dropped
    assert len(pools[1][0]) < len(pools[0][0]) - 5
  with pytest.raises(ValueError, match="and config.retries are two trace formats"):
    dataclasses.replace(config, retries=1)
  with pytest.raises(ValueError, match="config.solutions must be"):
    dataclasses.replace(config, solutions="bogus")
  with pytest.raises(ValueError, match="task 'letters' has no"):
    sft_data.build_pools(config, get_task("letters"), VOCAB, set())


def test_sft_give_up_examples_try_before_declaring_a_trap():
  task = get_task("countdown", trap_share=0.5)
  rng = np.random.default_rng(0)
  seen = {True: 0, False: 0}
  for p in task.sample(np.random.default_rng(3), 60, 2):
    c = reference_completion(task, p, rng)
    pieces = sft_data.with_failed_attempts(task, p, c, rng, 2, 1.0, None, give_up=True)
    text = "".join(t for t, _ in pieces)
    assert task.verify(p, text) == 1.0
    seen[p.is_trap] += 1
    if p.is_trap:  # exactly two legal misses, every line trained, then none
      assert text.count("retry\n") == 1 and text.endswith("\nANSWER: none\n")
      assert all(w for _, w in pieces)
    else:  # fewer misses than a trap shows
      assert text.count("retry\n") == 1 and text.endswith("retry\n" + c)
  assert min(seen.values()) > 10

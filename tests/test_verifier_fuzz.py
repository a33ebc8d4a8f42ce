"""Every verifier takes hostile input: never raises, always returns a score in [0, 1]."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reasoning.tasks import TASKS, get_task, reference_completion

HOSTILE = [
    "", "\n", "ANSWER:", "ANSWER: ", "ANSWER: none", "__import__('os').system('echo hi')",
    "1/0=0\nANSWER: 1", "9" * 10**6, "1+1=2\n" * 200_000, "ANSWER: " + "9" * 10**5,
    "٣+٤=٧\nANSWER: ٧", "３+４=７\nANSWER: ７", "\x00\x01\x02", "ANSWER: 1e9", "ANSWER: -1",
    "ANSWER: 0x1f", "99999999999999999999*99999999999999999999=1\nANSWER: 1", "\r\nANSWER: 3\r\n",
    "ANSWER: 3\n\n", "eval('1+1')=2\nANSWER: 2",
]


def _fuzz_corpus(task, problems, rng, n):
  """n strings: mutations of correct completions (delete/insert/replace/duplicate) and noise."""
  alphabet = list("0123456789+-*/=: \nANSWERnoe abcdefghijklmnopqrstuvwxyz٣３()'_.") + ["ANSWER: "]
  corpus = list(HOSTILE)
  while len(corpus) < n:
    text = reference_completion(task, problems[rng.integers(len(problems))])
    for _ in range(int(rng.integers(1, 4))):
      pos = int(rng.integers(len(text) + 1))
      kind = rng.integers(4)
      if kind == 0:
        text = text[:pos] + text[pos + 1:]
      elif kind == 1:
        text = text[:pos] + alphabet[rng.integers(len(alphabet))] + text[pos:]
      elif kind == 2:
        text = text[:pos] + alphabet[rng.integers(len(alphabet))] + text[pos + 1:]
      else:
        text = text[:pos] + text[pos:] + text[:pos]
    corpus.append(text)
  return corpus


@pytest.mark.parametrize("name", sorted(TASKS))
def test_ten_thousand_mutated_and_hostile_completions(name):
  task = get_task(name, trap_share=0.2)
  rng = np.random.default_rng(0)
  problems = [p for d in task.difficulties[:3] for p in task.sample(rng, 20, d)]
  corpus = _fuzz_corpus(task, problems, rng, 10_000)
  scores = np.array([task.verify(problems[i % len(problems)], text)
                     for i, text in enumerate(corpus)])
  assert ((scores == 0.0) | (scores == 1.0)).all()
  for p in problems:
    labels = task.step_labels(p, corpus[int(rng.integers(len(corpus)))].split("\n"))
    assert set(labels) <= {0, 1}
  # The mutations are not all harmless: most of them must be rejected, some kept.
  assert 0.0 < scores.mean() < 0.5


@pytest.mark.parametrize("name", sorted(TASKS))
@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(max_size=300), seed=st.integers(0, 2**31 - 1))
def test_arbitrary_unicode_never_raises(name, text, seed):
  task = get_task(name, trap_share=0.5)
  [p] = task.sample(np.random.default_rng(seed), 1, 1)
  for candidate in (text, text + "\nANSWER: " + p.answer, "ANSWER: " + text):
    assert task.verify(p, candidate) in (0.0, 1.0)
    assert set(task.step_labels(p, candidate.split("\n"))) <= {0, 1}

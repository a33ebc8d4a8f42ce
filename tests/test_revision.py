"""Sequential revisions' pure parts against hand-computed cases (reasoning/train/revision.py,
reasoning/search/revision.py)."""

import jax
import numpy as np
import pytest

from reasoning import critique as critique_lib
from reasoning.search import revision as search_revision
from reasoning.tasks.countdown import Countdown
from reasoning.train import revision

TASK = Countdown()
PROBLEM = TASK.make_problem([3, 8, 5], 29, 1)
RIGHT = "8*3=24\n24+5=29\nANSWER: 29\n"
NEAR = "8*3=24\n24+5=30\nANSWER: 30\n"       # one fudged step: close to RIGHT
FAR = "8*5=40\n40-3=37\nANSWER: 37\n"


def test_edit_distance():
  assert revision.edit_distance("", "abc") == 3
  assert revision.edit_distance("kitten", "sitting") == 3
  assert revision.edit_distance("abc", "abc") == 0
  assert revision.edit_distance(NEAR, RIGHT) < revision.edit_distance(FAR, RIGHT)


def test_revision_prompt_and_fitting():
  assert critique_lib.revision_prompt(PROBLEM, [FAR, NEAR]) == \
      PROBLEM.prompt + FAR + "revise\n" + NEAR + "revise\n"
  assert critique_lib.revision_prompt(PROBLEM, ["ANSWER: 1"]) == PROBLEM.prompt + "ANSWER: 1\nrevise\n"
  fits = lambda prompt: len(prompt) <= len(PROBLEM.prompt) + len(NEAR) + 7
  assert critique_lib.fitted_prompt(PROBLEM, [FAR, NEAR], 2, fits) == \
      critique_lib.revision_prompt(PROBLEM, [NEAR])  # the oldest attempt is dropped to fit
  assert critique_lib.fitted_prompt(PROBLEM, [FAR, NEAR], 0, fits) == PROBLEM.prompt
  assert critique_lib.fitted_prompt(PROBLEM, [FAR, NEAR], 1, lambda p: True) == \
      critique_lib.revision_prompt(PROBLEM, [NEAR])


def test_trajectories_pair_right_with_the_closest_wrong_attempts():
  samples = [[RIGHT, FAR, NEAR, RIGHT, "8*3=24\n"]]  # a repeated right one, a malformed one

  class Always:  # k = max_wrong for every trajectory
    def integers(self, n):
      return n - 1

  got = revision.trajectories(TASK, [PROBLEM], samples, max_wrong=2, rng=Always())
  assert got == [(critique_lib.revision_prompt(PROBLEM, [FAR, NEAR]), RIGHT)]  # closest last
  got = revision.trajectories(TASK, [PROBLEM], samples, max_wrong=1, rng=Always())
  assert got == [(critique_lib.revision_prompt(PROBLEM, [NEAR]), RIGHT)]
  assert revision.trajectories(TASK, [PROBLEM], [[FAR, NEAR]], max_wrong=2, rng=Always()) == []
  fixed = revision.trajectories(TASK, [PROBLEM], [[FAR, NEAR]], max_wrong=2, rng=Always(),
                                oracle_fixes=True)
  assert fixed == [(critique_lib.revision_prompt(PROBLEM, [FAR, NEAR]), RIGHT)]  # the reference


def test_keep_right_pairs_repeat_a_right_attempt_after_it():
  class Always:  # k = max_wrong, and every pair gets its keep-right pair
    def integers(self, n):
      return n - 1

    def random(self):
      return 0.0

  got = revision.trajectories(TASK, [PROBLEM], [[RIGHT, NEAR]], max_wrong=1, rng=Always(),
                              keep_right=0.5)
  assert got == [(critique_lib.revision_prompt(PROBLEM, [NEAR]), RIGHT),
                 (critique_lib.revision_prompt(PROBLEM, [NEAR, RIGHT]), RIGHT)]


def test_attempt_accuracy():
  correct = np.array([[[0, 1, 1], [0, 0, 1]],     # problem 0: 2 chains of 3 attempts
                      [[1, 0, 0], [0, 0, 0]]], bool)
  a = search_revision.attempt_accuracy(correct)
  np.testing.assert_allclose(a["accuracy"], [0.25, 0.25, 0.5])
  np.testing.assert_allclose(a["any"], [0.25, 0.5, 0.75])
  np.testing.assert_allclose(a["accuracy_se"][2], np.std([1.0, 0.0], ddof=1) / np.sqrt(2))


def test_ratio_records_split_the_budget_into_disjoint_chain_groups():
  from reasoning.model import ModelConfig
  cfg = ModelConfig(vocab_size=64, d_model=16, n_layers=1, n_heads=2, n_kv_heads=2, d_ff=32,
                    max_len=64)
  # 1 problem, 4 chains of 2 attempts; the PRM scores the right attempt highest in chain 3.
  texts = [[[FAR, FAR], [FAR, NEAR], [NEAR, RIGHT], [FAR, FAR]]]
  correct = np.array([[[TASK.verify(PROBLEM, x) for x in chain] for chain in texts[0]]])
  scores = np.array([[[0.1, 0.2], [0.3, 0.4], [0.5, 0.9], [0.1, 0.1]]])
  pool = {"texts": texts, "correct": correct, "prompt_lens": np.full((1, 4, 2), 10),
          "lengths": np.full((1, 4, 2), 8)}
  zero = np.zeros((1, 4, 2))
  records = search_revision.ratio_records(pool, scores, zero, cfg, [1, 2, 4], [1, 2])
  by = {r["method"]: r for r in records}
  assert set(by) == {"N=1 L=1", "N=2 L=1", "N=2 L=2", "N=4 L=1", "N=4 L=2"}
  assert by["N=1 L=1"]["correct"] == [0.0]       # 4 groups of one first attempt, none right
  assert by["N=2 L=2"]["correct"] == [0.25]      # 4 chains of 2: only chain 3 is right
  assert by["N=4 L=2"]["correct"] == [0.5]       # chains {0,1} miss, {2,3} pick RIGHT (0.9)
  assert by["N=4 L=1"]["correct"] == [0.0]
  assert by["N=2 L=2"]["family"] == "revisions L=2" and by["N=2 L=1"]["family"] == \
      search_revision.PARALLEL
  # FLOPs: a group's attempts, each a prefill of 10 and 8 decoded tokens.
  one = search_revision.compute.generation_flops(cfg, [10], [8])
  assert by["N=4 L=2"]["flops"][0] == pytest.approx(4 * one)
  length, acc = search_revision.best_length(records, np.array([True]), 4)
  assert (length, acc) == (2, 0.5)


def test_attempt_diagnostics():
  pool = {"texts": [[[FAR, FAR, RIGHT], [RIGHT, "8*3=24\n", NEAR]]],
          "correct": np.array([[[0, 0, 1], [1, 0, 0]]], bool)}
  d = search_revision.attempt_diagnostics(pool)
  np.testing.assert_allclose(d["repeats"], [0, 0.5, 0])      # chain 0 repeats FAR
  np.testing.assert_allclose(d["malformed"], [0, 0.5, 0])
  np.testing.assert_allclose(d["fixed"], [0.5, 0, 1.0])      # of chains all wrong before t


def test_chains_with_the_oracle_critic_show_its_line_after_each_attempt(monkeypatch):
  """critic=ORACLE: the step oracle's reason line follows each earlier attempt in the next
  prompt; it costs no FLOPs. The model is a stub that writes NEAR, then RIGHT."""
  from types import SimpleNamespace

  from reasoning.text import VOCAB
  seen = []

  def complete(graphdef, params, vocab, prompts, key, **kw):
    seen.append(list(prompts))
    text = NEAR if len(seen) == 1 else RIGHT
    return [text] * len(prompts), np.full(len(prompts), 9)

  monkeypatch.setattr(search_revision.evaluation, "complete", complete)
  model = SimpleNamespace(graphdef=None, params=None, vocab=VOCAB,
                          cfg=SimpleNamespace(max_len=256))
  pool = search_revision.chains(model, TASK, [PROBLEM], jax.random.key(0), chains=2, length=3, context=1,
                                max_new=32, temperature=1.0, critic=search_revision.ORACLE)
  assert pool["correct"][0].tolist() == [[False, True, True]] * 2
  assert seen[1][0] == PROBLEM.prompt + NEAR + "step 2 is wrong: 24+5 is 29 not 30\nrevise\n"
  assert seen[2][0] == PROBLEM.prompt + RIGHT + "all steps are right\nrevise\n"
  assert pool["critic_flops"].sum() == 0

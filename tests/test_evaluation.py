"""evaluation.evaluate's bookkeeping on hand-made completions (the sampler faked out)."""

import numpy as np
import pytest

from reasoning import evaluation
from reasoning.tasks import get_task


def test_evaluate_scores_per_difficulty_traps_and_counts_retries(monkeypatch):
  task = get_task("countdown")
  easy = task.make_problem([2, 3, 4], 20, difficulty=1)
  trap = task.make_problem([2, 3, 4], 23, difficulty=1)
  hard = task.make_problem([3, 8, 5, 1], 30, difficulty=2)  # (8*3+5)+1 = 30
  assert trap.is_trap and not hard.is_trap
  texts = {easy.prompt: "3*4=12\n12+2=14\nretry\n3+2=5\n5*4=20\nANSWER: 20\n",  # right, 1 retry
           trap.prompt: "ANSWER: none\n",                                      # right
           hard.prompt: "8*3=24\n24+5=29\n29+1=31\nANSWER: 30\n"}              # illegal last step

  def fake_complete(graphdef, params, vocab, prompts, key, **kw):
    return [texts[p] for p in prompts], np.full(len(prompts), 7)

  monkeypatch.setattr(evaluation, "complete", fake_complete)
  out = evaluation.evaluate(None, None, None, task, [easy, trap, hard], None, prompt_len=16,
                            max_new=8)
  assert out["greedy/d1"] == 1.0 and out["greedy/d2"] == 0.0
  assert out["greedy/traps"] == 1.0 and out["greedy/solvable"] == 0.5
  assert out["greedy/all"] == pytest.approx(2 / 3)
  assert out["eval/retries"] == pytest.approx(1 / 3) and out["eval/gen_tokens"] == 21.0


def test_paired_gain_by_hand():
  from reasoning import evaluation
  from reasoning.tasks import Problem
  problems = [Problem(prompt=str(i), answer="1", meta={"difficulty": 1 + i // 3}) for i in range(6)]
  before = {"sampled": np.array([0.0, 0.5, 1.0, 0.0, 0.0, 0.25])}
  after = {"sampled": np.array([0.5, 0.5, 1.0, 0.25, 0.0, 0.75])}
  gain = evaluation.paired_gain(before, after, problems)
  # d1 differences [0.5, 0, 0]: mean 1/6, SE std([.5, 0, 0], ddof=1) / sqrt(3)
  assert gain["gain/sampled/d1"] == pytest.approx(1 / 6)
  assert gain["gain_se/sampled/d1"] == pytest.approx(np.std([0.5, 0, 0], ddof=1) / np.sqrt(3))
  assert gain["gain/sampled/d2"] == pytest.approx(0.25)
  assert gain["gain/sampled/all"] == pytest.approx(1.25 / 6)


def test_eval_steps_add_log_spaced_points():
  from reasoning import loop
  assert loop.eval_steps(100, 50) == {50, 100}
  assert loop.eval_steps(130, 130, 6) == {1, 3, 7, 19, 49, 130}


def test_complete_prefills_each_run_of_equal_prompts_once_and_samples_the_same(
    tiny_model, monkeypatch):
  """group=n (n samples per problem) prefills a problem's prompt once per batch; the completions
  are the ungrouped call's, also when batches cut runs (chunk 6, runs of 4: groups of 2)."""
  import jax

  from reasoning import sampling
  from reasoning.text import VOCAB
  _, graphdef, params = tiny_model
  prompts = [f"compute {a}+{b}\n" for a, b in ((3, 4), (12, 5), (7, 70))]
  rows = [p for p in prompts for _ in range(4)]
  kw = dict(prompt_len=16, max_new=12, temperature=1.0, chunk=6)
  groups = []
  generate = sampling.generate
  monkeypatch.setattr(sampling, "generate",
                      lambda *a, **k: groups.append(k["group"]) or generate(*a, **k))
  alone = evaluation.complete(graphdef, params, VOCAB, rows, jax.random.key(0), **kw)
  grouped = evaluation.complete(graphdef, params, VOCAB, rows, jax.random.key(0), group=4, **kw)
  assert groups == [1, 1, 2, 2]
  assert grouped[0] == alone[0] and len(set(alone[0])) > 3
  np.testing.assert_array_equal(grouped[1], alone[1])
  with pytest.raises(ValueError, match="group=4"):
    evaluation.complete(graphdef, params, VOCAB, rows[1:] + rows[:1], jax.random.key(0),
                        group=4, **kw)

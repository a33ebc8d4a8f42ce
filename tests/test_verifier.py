"""Reward models: targets, masked loss, Monte-Carlo labels, aggregation, AUC."""

import itertools

import jax
import numpy as np
import optax
import pytest

from reasoning import scoring
from reasoning.tasks import Countdown
from reasoning.text import VOCAB
from reasoning.train import verifier


def _targets():
  return scoring.reward_targets(
      VOCAB, ["countdown 2 3 4 to 20\n"], ["3+2=5\n5*4=21\nANSWER: 21\n"], [[1, 0, 0]], [0.0], 48)


def test_reward_targets_mark_step_ends_and_eos():
  t = _targets()
  pieces = [VOCAB.decode([i]) if i > 2 else "|" for i in t["tokens"][0]]  # one per token
  prm = np.flatnonzero(t["prm_mask"][0])
  assert [pieces[i] for i in prm] == ["\n"] * 3
  assert t["prm_labels"][0, prm].tolist() == [1, 0, 0]
  # The prompt's own newline is not a step end.
  assert pieces.index("\n") not in prm
  [eos] = np.flatnonzero(t["orm_mask"][0])
  assert t["tokens"][0, eos] == 2 and eos == prm[-1] + 1
  with pytest.raises(ValueError, match="2 step labels for 3 lines"):
    scoring.reward_targets(VOCAB, ["p\n"], ["a\nb\nANSWER: 1\n"], [[1, 1]], [1.0], 32)


def test_prm_loss_only_touches_end_of_step_tokens(tiny_model):
  _, graphdef, params = tiny_model
  batch = {k: jax.numpy.asarray(v) for k, v in _targets().items()}
  loss, _ = verifier.reward_loss(graphdef, params, batch, "prm")
  from reasoning import model
  logits = model.apply(graphdef, params, batch["tokens"]).reward[0]
  mask = np.asarray(batch["prm_mask"][0]) > 0
  by_hand = optax.sigmoid_binary_cross_entropy(logits[mask], batch["prm_labels"][0][mask]).mean()
  np.testing.assert_allclose(loss, by_hand, rtol=1e-5)
  # Labels elsewhere are ignored: changing them leaves the loss unchanged.
  other = dict(batch, prm_labels=batch["prm_labels"].at[0, 0].set(1.0).at[0, 5].set(1.0))
  np.testing.assert_allclose(verifier.reward_loss(graphdef, params, other, "prm")[0], loss)
  # And the gradient flows only through the masked positions' reward logits.
  grad = jax.grad(lambda r: (optax.sigmoid_binary_cross_entropy(r, batch["prm_labels"][0])
                             * batch["prm_mask"][0]).sum())(logits)
  assert (np.flatnonzero(np.asarray(grad)) == np.flatnonzero(mask)).all()


def test_monte_carlo_labels_on_a_toy_policy():
  task = Countdown()
  p = task.make_problem([2, 3, 4], 20, difficulty=1)
  lines = ["3+2=5", "5*4=20", "ANSWER: 20"]
  # A toy policy: from "…3+2=5\n" it finishes correctly on every other call; after "5*4=20\n"
  # it always answers; so soft labels are 0.5, 1.0 and the final outcome 1.0.
  calls = itertools.count()

  def complete(prompts):
    out = []
    for q in prompts:
      if q.endswith("5*4=20\n"):
        out.append("ANSWER: 20\n")
      else:
        out.append("5*4=20\nANSWER: 20\n" if next(calls) % 2 == 0 else "5+4=9\nANSWER: 9\n")
    return out

  soft, hard = verifier.monte_carlo_labels(complete, task, [p], [lines], k=4)
  assert soft == [[0.5, 1.0, 1.0]] and hard == [[1.0, 1.0, 1.0]]
  # Two solutions in one call: the policy is asked once, in a single batch.
  batches = []

  def always_seven(queries):
    batches.append(len(queries))
    return ["ANSWER: 7\n"] * len(queries)

  soft, hard = verifier.monte_carlo_labels(always_seven, task, [p, p],
                                           [["3*4=12", "12+2=14", "ANSWER: 14"], ["3+2=5"]], k=3)
  assert soft == [[0.0, 0.0, 0.0], [0.0]] and hard == [[0.0, 0.0, 0.0], [0.0]]
  assert batches == [3 * 2 + 3 * 1]


def test_step_score_aggregation():
  s = [0.9, 0.5, 0.8]
  assert scoring.aggregate_steps(s, "min") == 0.5
  assert scoring.aggregate_steps(s, "prod") == pytest.approx(0.36)
  assert scoring.aggregate_steps(s, "last") == 0.8
  assert scoring.aggregate_steps(s, "mean") == pytest.approx(2.2 / 3)
  with pytest.raises(ValueError, match="aggregation"):
    scoring.aggregate_steps(s, "max")


def test_roc_auc_by_hand():
  assert verifier.roc_auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]) == pytest.approx(0.75)
  assert verifier.roc_auc([0.5, 0.5], [0, 1]) == pytest.approx(0.5)
  assert verifier.roc_auc([1, 2, 3], [0, 1, 1]) == 1.0
  assert np.isnan(verifier.roc_auc([1, 2], [1, 1]))


def test_roc_auc_se_redraws_whole_problems():
  rng = np.random.default_rng(0)
  labels = rng.random(400) < 0.4
  scores = rng.normal(size=400) + labels  # AUC about 0.76
  auc = verifier.roc_auc(scores, labels)
  pos, neg = labels.sum(), (~labels).sum()
  q1, q2 = auc / (2 - auc), 2 * auc ** 2 / (1 + auc)  # Hanley and McNeil's independent-data SE
  hanley = np.sqrt((auc * (1 - auc) + (pos - 1) * (q1 - auc ** 2) + (neg - 1) * (q2 - auc ** 2))
                   / (pos * neg))
  alone = verifier.roc_auc_se(scores, labels, np.arange(400), np.random.default_rng(1))
  assert alone == pytest.approx(hanley, rel=0.2)
  # Four copies of each item in one group carry no more information than one: the same SE,
  # where counting the copies as independent draws would halve it.
  copies = verifier.roc_auc_se(np.repeat(scores, 4), np.repeat(labels, 4),
                               np.repeat(np.arange(400), 4), np.random.default_rng(1))
  assert copies == pytest.approx(alone, rel=0.2)
  assert np.isnan(verifier.roc_auc_se([0.1, 0.9], [0, 1], [0, 0], np.random.default_rng(0)))

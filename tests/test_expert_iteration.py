"""Expert iteration's targets: the search policy over candidates, the judge, the (pi, z) loss."""

import jax
import jax.numpy as jnp
import numpy as np
import optax

from reasoning import model as model_lib
from reasoning.search import mcts
from reasoning.model import Model
from reasoning.tasks import get_task
from reasoning.text import PAD, VOCAB, pad_prompts
from reasoning.train import expert_iteration as exit_lib
from reasoning.train.state import create, make_step

TASK = get_task("countdown", trap_share=0.0)
PROBLEMS = [TASK.make_problem([3, 8, 5], 29, 1), TASK.make_problem([1, 2, 3], 6, 1),
            TASK.make_problem([9, 9, 4], 7, 1)]


def test_traced_mcts_policy_target_sums_to_one_over_candidates(tiny_model):
  cfg, graphdef, params = tiny_model
  policy = Model(graphdef, params, cfg)
  judge = exit_lib.make_judge(TASK, PROBLEMS)
  for value in (judge,):  # the outcome evaluator; 'value' and 'prm' run in test_search
    out, trace = mcts.traced_mcts(policy, policy, [p.prompt for p in PROBLEMS], jax.random.key(0),
                                  num_candidates=3, num_simulations=4, max_moves=2,
                                  step_tokens=8, value=value, policy="gumbel")
    assert trace["weights"].shape == (2, 3, 3) and trace["cand_tokens"].shape == (2, 3, 3, 8)
    active = trace["active"]
    assert active[0].all()  # every problem is searched at move 0
    np.testing.assert_allclose(trace["weights"][active].sum(-1), 1.0, atol=1e-5)
    # Duplicated candidates are invalid and the search never weighs them.
    assert (trace["weights"][trace["invalid"]] < 1e-6).all()
    outcomes = np.array([TASK.verify(p, c) for p, c in zip(PROBLEMS, out.completions)])
    rows = exit_lib.policy_examples(trace, outcomes)
    np.testing.assert_allclose(rows["weights"].sum(-1), 1.0, atol=1e-5)
    assert len(rows["prefix"]) == len(rows["value_target"]) <= active.sum()
    assert set(rows["value_target"].tolist()) <= {0.0, 1.0}


def test_policy_examples_renormalize_over_valid_candidates_and_skip_inactive_rows():
  trace = {
      "active": np.array([[True, True], [False, True]]),
      "invalid": np.array([[[False, True, False], [False, True, True]],
                           [[False, False, False], [False, False, True]]]),
      "weights": np.array([[[0.5, 0.3, 0.2], [1.0, 0.0, 0.0]],
                           [[0.2, 0.2, 0.6], [0.25, 0.25, 0.5]]], np.float32),
      "root_tokens": np.arange(2 * 2 * 4).reshape(2, 2, 4),
      "cand_tokens": np.zeros((2, 2, 3, 5), np.int32), "cand_len": np.ones((2, 2, 3), np.int32)}
  rows = exit_lib.policy_examples(trace, np.array([1.0, 0.0]))
  # Kept: (move 0, problem 0) and (move 1, problem 1); (0, 1) has one valid candidate, (1, 0)
  # had finished.
  np.testing.assert_allclose(rows["weights"], [[5 / 7, 0, 2 / 7], [0.5, 0.5, 0.0]], rtol=1e-6)
  assert rows["valid"].tolist() == [[True, False, True], [True, True, False]]
  assert rows["value_target"].tolist() == [1.0, 0.0]
  assert rows["prefix"].tolist() == [[0, 1, 2, 3], [12, 13, 14, 15]]


def test_judge_verdicts_only_for_finished_solutions():
  judge = exit_lib.make_judge(TASK, PROBLEMS)
  texts = ["countdown 3 8 5 to 29\n8*3=24\n24+5=29\nANSWER: 29\n",   # right
           "countdown 3 8 5 to 29\n8+3=11\n11+5=16\nANSWER: 16\n",   # wrong
           "countdown 3 8 5 to 29\n8*3=24\n",                        # unfinished
           "countdown 2 2 2 to 8\n2*2=4\n4*2=8\nANSWER: 8\n"]        # not a training problem
  verdicts = judge(pad_prompts(VOCAB, texts, 64))
  assert verdicts[:2].tolist() == [1.0, 0.0] and np.isnan(verdicts[2:]).all()


def test_candidate_logprobs_match_one_sequence_at_a_time_and_the_loss_learns_pi(tiny_model):
  cfg, graphdef, params = tiny_model
  prefix = jnp.asarray(pad_prompts(VOCAB, ["countdown 3 8 5 to 29\n", "countdown 1 2 3 to 6\n"], 32))
  steps = [["8*3=24\n", "8+5=13\n", "3*5=15\n"], ["1+2=3\n", "3*2=6\n", "2-1=1\n"]]
  cands = np.zeros((2, 3, 8), np.int32)
  lengths = np.zeros((2, 3), np.int32)
  for r, row in enumerate(steps):
    for k, step in enumerate(row):
      ids = VOCAB.encode(step)
      cands[r, k, :len(ids)], lengths[r, k] = ids, len(ids)
  cands[0, 0, 7] = 5  # garbage after the step's length must not count
  seq, _ = exit_lib.candidate_logprobs(graphdef, params, prefix, jnp.asarray(cands),
                                       jnp.asarray(lengths))
  for r, k in [(0, 0), (1, 2)]:  # one sequence at a time, unpadded
    ids = [t for t in np.asarray(prefix[r]) if t != PAD] + VOCAB.encode(steps[r][k])
    logits = model_lib.apply(graphdef, params, jnp.asarray([ids])).logits[0]
    logp = jax.nn.log_softmax(logits[:-1])[jnp.arange(len(ids) - 1), jnp.asarray(ids[1:])]
    np.testing.assert_allclose(seq[r, k], logp[-lengths[r, k]:].sum(), rtol=1e-4)

  batch = {"prefix": prefix, "cands": jnp.asarray(cands), "cand_len": jnp.asarray(lengths),
           "weights": jnp.array([[0.0, 1.0, 0.0], [0.2, 0.0, 0.8]]),
           "valid": jnp.array([[True, True, True], [True, True, True]]),
           "value_target": jnp.array([1.0, 0.0])}
  tx = optax.adam(3e-3)
  step = make_step(lambda p, b: exit_lib.search_policy_loss(graphdef, p, b), tx)
  state = create(jax.tree.map(jnp.copy, params), tx)  # the step donates its state
  first = None
  for _ in range(40):
    state, metrics = step(state, batch)
    first = first or (float(metrics["policy_loss"]), float(metrics["policy_kl"]))
  assert float(metrics["policy_loss"]) < 0.5 * first[0]
  assert float(metrics["policy_kl"]) < 0.5 * first[1]  # restricted to the candidates: -> pi
  assert float(metrics["value_loss"]) < 0.1
  seq, value = exit_lib.candidate_logprobs(graphdef, state.params, prefix, jnp.asarray(cands),
                                           jnp.asarray(lengths))
  assert int(jnp.argmax(seq[0])) == 1 and int(jnp.argmax(seq[1])) == 2

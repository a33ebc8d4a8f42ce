"""Beam and lookahead search: bookkeeping on scripted policies and PRMs, then the real models."""

import jax
import numpy as np
import pytest

from reasoning import compute
from reasoning.search import beam
from reasoning.search.base import Meter, Model


def scripted(monkeypatch, tree, scores):
  """Replaces the policy by `tree` (prefix -> next steps; row i gets option i mod len) and the
  PRM by `scores` (prefix -> score, 0 if absent). Each sampled step meters one token."""
  calls = []

  def sample_steps(policy, meter, owners, prompts, prefixes, key, *, max_new, temperature,
                   stop="step"):
    assert stop == "step"
    calls.append(len(owners))
    np.add.at(meter.generated, np.asarray(owners), 1.0)
    return [tree[x][i % len(tree[x])] for i, x in enumerate(prefixes)]

  def score_prefixes(prm, meter, owners, prompts, prefixes):
    return np.array([scores.get(x, 0.0) for x in prefixes])

  monkeypatch.setattr(beam, "sample_steps", sample_steps)
  monkeypatch.setattr(beam, "score_prefixes", score_prefixes)
  return calls


def test_beam_bookkeeping_merges_duplicates_and_finishes(monkeypatch):
  tree = {"": ["a\n", "b\n", "a\n", "c\n"],
          "a\n": ["ANSWER: 1", "x\n"], "b\n": ["ANSWER: 2\n", "y\n"],
          "b\ny\n": ["ANSWER: 7"]}
  scores = {"a\n": 0.9, "b\n": 0.8, "c\n": 0.1, "a\nANSWER: 1": 0.2, "a\nx\n": 0.3,
            "b\nANSWER: 2\n": 0.95, "b\ny\n": 0.5, "b\ny\nANSWER: 7": 0.4}
  calls = scripted(monkeypatch, tree, scores)
  out = beam.beam_search(None, None, ["q"], jax.random.key(0), beams=2, expand=2)
  # Round 0 samples beams*expand=4 first steps; a and b survive (a's duplicate merged, c cut);
  # round 1 expands both; b's answer (0.95) and b/y (0.5) survive; round 2 expands only b/y.
  assert calls == [4, 4, 2]
  assert out.candidates == [["b\nANSWER: 2\n", "b\ny\nANSWER: 7"]]
  assert out.completions == ["b\nANSWER: 2\n"] and out.scores.tolist() == [0.95]
  assert out.generated_tokens.tolist() == [10.0]
  weighted = beam.beam_search(None, None, ["q"], jax.random.key(0), beams=2, expand=2,
                              pick="weighted")
  assert weighted.completions == ["b\nANSWER: 2\n"]


def test_lookahead_sees_past_a_tempting_step(monkeypatch):
  tree = {"": ["a\n", "b\n"], "a\n": ["ANSWER: 1"], "b\n": ["ANSWER: 2"]}
  scores = {"a\n": 0.9, "b\n": 0.5, "a\nANSWER: 1": 0.1, "b\nANSWER: 2": 0.9}
  scripted(monkeypatch, tree, scores)
  greedy_beam = beam.beam_search(None, None, ["q"], jax.random.key(0), beams=1, expand=2)
  looked = beam.beam_search(None, None, ["q"], jax.random.key(0), beams=1, expand=2, lookahead=1)
  assert greedy_beam.completions == ["a\nANSWER: 1"]
  assert looked.completions == ["b\nANSWER: 2"]


def test_beam_search_rejects_bad_budgets():
  with pytest.raises(ValueError, match="beams"):
    beam.beam_search(None, None, ["q"], jax.random.key(0), beams=0, expand=2)
  with pytest.raises(ValueError, match="pick"):
    beam.beam_search(None, None, ["q"], jax.random.key(0), beams=1, expand=2, pick="vote")


def test_meter_counts_a_hand_made_case(tiny_model):
  cfg, _, _ = tiny_model
  meter = Meter(2)
  meter.add_generation(cfg, [0, 1, 1], [10, 10, 20], [5, 5, 0])
  meter.add_scoring(cfg, [1], [30])
  assert meter.generated.tolist() == [5.0, 5.0]
  assert meter.scored.tolist() == [0.0, 30.0]
  assert meter.flops[0] == pytest.approx(compute.generation_flops(cfg, [10], [5]))
  assert meter.flops[1] == pytest.approx(compute.generation_flops(cfg, [10, 20], [5, 0])
                                         + compute.forward_flops(cfg, [30]))


def test_beam_and_lookahead_run_on_real_models(tiny_model):
  cfg, graphdef, params = tiny_model
  policy = prm = Model(graphdef, params, cfg)
  prompts = ["countdown 3 8 5 to 29\n", "countdown 1 2 3 to 6\n", "countdown 9 9 4 to 7\n"]
  for lookahead in (0, 1):
    out = beam.beam_search(policy, prm, prompts, jax.random.key(1), beams=2, expand=2,
                           lookahead=lookahead, max_steps=2, step_tokens=8)
    assert len(out.completions) == 3 and all(isinstance(c, str) for c in out.completions)
    assert all(len(c) <= 2 and len(set(c)) == len(c) for c in out.candidates)
    assert (out.generated_tokens > 0).all() and (out.scored_tokens > 0).all()
    assert ((0 <= out.scores) & (out.scores <= 1)).all()
    # Compute is at least the round-0 samples: 4 prompts' prefill and their new tokens.
    floor = compute.generation_flops(cfg, [len(prompts[0]) + 1] * 4, [1] * 4)
    assert (out.flops > floor).all()


# --- MCTS -------------------------------------------------------------------------------------

import jax.numpy as jnp  # noqa: E402

from reasoning.search import mcts  # noqa: E402
from reasoning.tasks import get_task  # noqa: E402
from reasoning.tasks.countdown import _moves, apply_step  # noqa: E402
from reasoning.text import VOCAB, pad_prompts, prompt_length  # noqa: E402


def test_append_and_duplicates_by_hand():
  tokens = jnp.array([[0, 0, 0, 1, 5], [0, 0, 1, 6, 7]])
  step = jnp.array([[8, 9, 0], [4, 0, 0]])
  out = mcts.append(tokens, step, jnp.array([2, 1]))
  assert out.tolist() == [[0, 1, 5, 8, 9], [0, 1, 6, 7, 4]]
  steps = jnp.array([[[1, 2], [1, 2], [3, 4], [3, 4]]])
  assert mcts._duplicates(steps).tolist() == [[False, True, False, True]]


def test_mcts_shapes_and_compute_on_real_models(tiny_model):
  cfg, graphdef, params = tiny_model
  policy = Model(graphdef, params, cfg)
  prompts = ["countdown 3 8 5 to 29\n", "countdown 1 2 3 to 6\n", "countdown 9 9 4 to 7\n"]
  for commit in ("step", "best_leaf"):
    out = mcts.mcts(policy, policy, prompts, jax.random.key(0), num_candidates=3,
                    num_simulations=4, max_moves=2, step_tokens=8, commit=commit)
    assert len(out.completions) == 3 and all(isinstance(c, str) for c in out.completions)
    assert ((0 <= out.scores) & (out.scores <= 1)).all()
    assert (out.generated_tokens > 0).all() and (out.scored_tokens > 0).all()
    # Move 0 creates a root and one node per simulation, each evaluated once.
    assert (out.scored_tokens >= 5 * np.array([prompt_length(VOCAB, p) for p in prompts])).all()
  search = mcts.make_search(mcts.policy_proposer(graphdef, 3, 8), mcts.prm_evaluator(graphdef),
                            num_simulations=4, max_moves=2, policy="muzero")
  tokens, score, stats = search((params, params), jnp.asarray(pad_prompts(VOCAB, prompts, 48)),
                                jax.random.key(1))
  assert tokens.shape == (3, 48) and score.shape == (3,)
  assert stats["created"].shape == (2, 3, 5) and stats["cand_len"].shape == (2, 3, 5, 3)
  with pytest.raises(ValueError, match="policy must be"):
    mcts.make_search(None, None, num_simulations=4, max_moves=1, policy="alphago")


def oracle_countdown(problems, k, t):
  """A host-side proposer (k random legal moves; the answer once one number is left) and the
  perfect value function (the oracle label of the last step), as jittable pure callbacks."""
  task = get_task("countdown")
  by_prompt = {p.prompt: p for p in problems}

  def state(row):
    text = VOCAB.decode(row)
    prompt, _, rest = text.partition("\n")
    return by_prompt[prompt + "\n"], rest.split("\n")[:-1]

  def propose_host(tokens, seed):
    rng = np.random.default_rng(int(seed))
    cands = np.zeros((len(tokens), k, t), np.int32)
    lengths = np.ones((len(tokens), k), np.int32)
    final = np.ones((len(tokens), k), bool)
    for b, row in enumerate(tokens):
      problem, lines = state(row)
      pool = list(problem.meta["numbers"])
      for line in lines:
        pool = None if pool is None or line.startswith("ANSWER") else apply_step(pool, line)
      if pool is None:
        options, is_final = ["ANSWER: none\n"], True
      elif len(pool) == 1:
        options, is_final = [f"ANSWER: {pool[0]}\n"], True
      else:
        options = [f"{a}{op}{b2}={c}\n" for i in range(len(pool)) for j in range(i + 1, len(pool))
                   for a, op, b2, c in _moves(pool[i], pool[j])]
        is_final = False
        rng.shuffle(options)
      for i in range(k):
        ids = VOCAB.encode(options[i % len(options)])
        cands[b, i, :len(ids)] = ids
        lengths[b, i] = len(ids)
        final[b, i] = is_final
    return cands, np.zeros((len(tokens), k), np.float32), lengths, final

  def evaluate_host(tokens):
    values = []
    for row in tokens:
      problem, lines = state(row)
      values.append(task.step_labels(problem, lines)[-1] if lines else 1.0)
    return np.array(values, np.float32)

  def propose(params, key, tokens):
    b = tokens.shape[0]
    shapes = (jax.ShapeDtypeStruct((b, k, t), jnp.int32), jax.ShapeDtypeStruct((b, k), jnp.float32),
              jax.ShapeDtypeStruct((b, k), jnp.int32), jax.ShapeDtypeStruct((b, k), bool))
    seed = jax.random.randint(key, (), 0, 2**31 - 1)
    return mcts.Candidates(*jax.pure_callback(propose_host, shapes, tokens, seed))

  def evaluate(params, tokens):
    return jax.pure_callback(evaluate_host, jax.ShapeDtypeStruct((tokens.shape[0],), jnp.float32),
                             tokens)

  return propose, evaluate, propose_host


def test_mcts_with_a_perfect_value_finds_what_greedy_misses():
  task = get_task("countdown", trap_share=0.0)
  problems = task.sample(np.random.default_rng(7), 8, 1)
  k, t, s = 12, 16, 64  # 12 = every legal first move of 3 numbers
  propose, evaluate, propose_host = oracle_countdown(problems, k, t)
  tokens = pad_prompts(VOCAB, [p.prompt for p in problems], s)

  # Greedy: always the first proposed step.
  greedy = tokens.copy()
  for move in range(3):
    cands, _, lengths, _ = propose_host(greedy, move)
    greedy = np.asarray(mcts.append(jnp.asarray(greedy), jnp.asarray(cands[:, 0]),
                                    jnp.asarray(lengths[:, 0])))
  search = mcts.make_search(propose, evaluate, num_simulations=32, max_moves=3)
  found, score, _ = search((None, None), jnp.asarray(tokens), jax.random.key(0))

  def solved(rows):
    return [task.verify(p, VOCAB.decode(r)[len(p.prompt):].removesuffix("\n"))
            for p, r in zip(problems, np.asarray(rows))]
  assert sum(solved(greedy)) <= 5
  assert solved(found) == [1.0] * 8
  assert np.asarray(score).tolist() == [1.0] * 8


# --- compute-optimal selection ----------------------------------------------------------------

from reasoning.search import compute_optimal  # noqa: E402


def test_compute_optimal_chooses_on_validation_and_scores_on_test():
  # 4 problems: 0, 1 easy (d1), 2, 3 hard (d2); even = validation, odd = test.
  split = np.array([0, 1, 0, 1])
  bins = {"d1": np.array([1, 1, 0, 0], bool), "d2": np.array([0, 0, 1, 1], bool)}
  bins["all"] = bins["d1"] | bins["d2"]
  records = [
      {"method": "bon 1", "family": "bon", "budget": 1, "correct": [1, 1, 0, 0], "flops": [1] * 4},
      {"method": "bon 4", "family": "bon", "budget": 4, "correct": [1, 0, 1, 0], "flops": [4] * 4},
      {"method": "tree", "family": "tree", "budget": 2, "correct": [0, 0, 1, 1], "flops": [2] * 4},
  ]
  curves, frontier = compute_optimal.tabulate(records, bins, split)
  assert curves["d2"]["bon"] == [(1.0, 0.0, 1.0, 0.0, "bon 1"), (4.0, 0.0, 4.0, 1.0, "bon 4")]
  # d1: bon 1 is best on validation at every budget; d2: tree from budget 2 on (cheaper than bon 4).
  assert [p[3] for p in frontier["d1"]] == ["bon 1", "bon 1", "bon 1"]
  assert [p[3] for p in frontier["d2"]] == ["bon 1", "tree", "tree"]
  # all: each bin picks for itself: at budget 2, d1 -> bon 1 (test 1), d2 -> tree (test 1).
  assert frontier["all"][1] == (2.0, 1.5, 1.0, "bon 1+tree")
  summary = compute_optimal.frontier_summary(curves, frontier, reference="bon")
  assert summary["all"]["reference_top_accuracy"] == 0.5
  assert summary["all"]["frontier_flops_to_reach_it"] == 1.0
  assert summary["d2"]["margin_at_equal_flops"]["tree"]["margin"] == pytest.approx(1.0)
  assert compute_optimal.interpolate([(1, 0.0), (100, 1.0)], 10) == pytest.approx(0.5)


def test_versus_best_of_n_is_a_paired_comparison_at_equal_flops():
  from reasoning.search import sweep
  bon = lambda n, correct: {"method": f"bon{n}", "family": "bon", "budget": n,
                            "correct": correct, "flops": [n * 10.0] * 4}
  records = [bon(1, [1, 0, 0, 0]), bon(4, [1, 1, 0, 0]),
             # at 20 FLOPs: halfway in log between 10 and 40, so best-of-N there is 0.5 x each
             {"method": "tree", "family": "beam", "budget": 2, "correct": [1, 1, 1, 1],
              "flops": [20.0] * 4},
             {"method": "far", "family": "beam", "budget": 9, "correct": [1] * 4,
              "flops": [900.0] * 4}]  # outside best-of-N's range: not compared
  bins = {"all": np.ones(4, bool), "first": np.array([True, True, False, False])}
  out = compute_optimal.versus_best_of_n(records, bins, reference="bon")
  tree = out["all"]["settings"]["tree"]
  # per problem: 1 - [1, 0.5, 0, 0] = [0, 0.5, 1, 1]: mean 0.625, SE std/2
  assert tree["margin"] == pytest.approx(0.625)
  assert tree["se"] == pytest.approx(np.std([0, 0.5, 1, 1], ddof=1) / 2)
  assert "far" not in out["all"]["settings"]
  assert out["all"]["answer"] == "yes" and out["all"]["best"] == "tree"
  assert out["first"]["answer"] == "no significant difference"  # [0, 0.5]: SE 0.25, margin 0.25
  bins = sweep.model_relative_bins(np.array([0.0, 0.0, 0.5, 0.9, 1.0, 0.1]), "q", 3)
  assert list(bins) == ["q1", "q2", "q3"]
  np.testing.assert_array_equal(bins["q1"], [1, 1, 0, 0, 0, 0])  # the hardest (never solved)
  np.testing.assert_array_equal(bins["q3"], [0, 0, 0, 1, 1, 0])

"""rStar: the two-action proposer, cut points, the mutual-consistency pick, a real run."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from reasoning.search import rstar
from reasoning.model import Model
from reasoning.tasks import split_completion
from reasoning.text import EOS, VOCAB, pad_prompts


def test_proposer_has_one_step_actions_and_one_finish_action(tiny_model):
  cfg, graphdef, params = tiny_model
  propose = rstar.rstar_proposer(graphdef, 3, 8, 20)
  tokens = jnp.asarray(pad_prompts(VOCAB, ["countdown 3 8 5 to 29\n", "count r in berry\n"], 32))
  cands = propose(params, jax.random.key(0), tokens)
  assert cands.tokens.shape == (2, 3, 20) and cands.length.shape == (2, 3)
  assert (cands.length[:, :2] <= 8).all() and (cands.tokens[:, :2, 8:] == 0).all()
  assert cands.final[:, 2].all()  # the finish action always ends the solution
  assert not (cands.tokens == EOS).any()  # answers end in their newline, scored there
  inside = jnp.arange(20)[None, None] < cands.length[..., None]
  assert ((cands.tokens != 0) == inside).all()  # lengths count exactly the kept tokens
  with pytest.raises(ValueError, match="num_candidates >= 2"):
    rstar.rstar_proposer(graphdef, 1, 8, 20)
  with pytest.raises(ValueError, match="cannot hold an answer line"):
    rstar.rstar_proposer(graphdef, 3, 1, 20)


def test_cut_points_leave_at_least_one_step_to_complete():
  texts = ["1+2=3\n3*3=9\n9-1=8\nANSWER: 8\n", "ANSWER: none\n"]
  for seed in range(20):
    prefixes = rstar.cut_points(texts, np.random.default_rng(seed))
    steps, _ = split_completion(texts[0])
    assert prefixes[0] in ("", "1+2=3\n", "1+2=3\n3*3=9\n")
    assert prefixes[1] == ""
  seen = {rstar.cut_points(texts[:1], np.random.default_rng(s))[0] for s in range(40)}
  assert len(seen) == 3  # every cut point is drawn


def test_pick_prefers_the_best_consistent_trajectory():
  scores = [0.9, 0.7, 0.4]
  assert rstar.pick(["a", "b", "c"], scores) == 0
  assert rstar.pick(["a", "b", "c"], scores, [False, False, True]) == 2
  assert rstar.pick(["a", "b", "c"], scores, [False, True, True]) == 1
  assert rstar.pick(["a", "b", "c"], scores, [False, False, False]) == 0  # none: by score


def test_rstar_runs_and_the_discriminator_costs_compute(tiny_model):
  cfg, graphdef, params = tiny_model
  policy = Model(graphdef, params, cfg)
  other = Model(graphdef, jax.tree.map(lambda x: x * 1.5, params), cfg)
  prompts = ["countdown 3 8 5 to 29\n", "countdown 1 2 3 to 6\n"]
  out = rstar.rstar(policy, policy, other, prompts, jax.random.key(0), num_candidates=3,
                    num_simulations=6, step_tokens=8, finish_tokens=24, value="value")
  assert len(out.generator.completions) == len(out.mutual.completions) == 2
  assert len(out.trajectories) == len(out.consistent) == 2
  for ts, cs, chosen in zip(out.trajectories, out.consistent, out.mutual.completions):
    assert len(ts) == len(cs) and chosen in ts and len(set(ts)) == len(ts)
  assert (out.generator.flops > 0).all()
  has = np.array([any(ts) for ts in out.trajectories])
  assert (out.mutual.flops[has] > out.generator.flops[has]).all()
  assert (out.mutual.flops[~has] == out.generator.flops[~has]).all()
  alone = rstar.rstar(policy, policy, None, prompts, jax.random.key(0), num_candidates=3,
                      num_simulations=6, step_tokens=8, finish_tokens=24, value="value")
  assert alone.mutual is None and alone.generator.completions == out.generator.completions


def test_countdown_consistency_is_on_the_final_equation_not_the_bare_target():
  from reasoning.tasks import get_task
  key = rstar.consistency_key(get_task("countdown"))
  assert key("8*6=48\n48+3=51\nANSWER: 51\n") == "48+3=51"
  assert key("8*6=48\n48+3=51\nANSWER: 51\n") != key("8+6=14\n14*3=51\nANSWER: 51\n")
  assert key("ANSWER: none\n") == "none" and key("garbage") is None
  assert rstar.consistency_key(get_task("arithmetic"))("3+8+0=11\nANSWER: 151\n") == "151"

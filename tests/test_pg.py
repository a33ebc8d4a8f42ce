"""Policy-gradient pieces against hand-computed cases, and a bandit that RL must solve."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from reasoning import sampling
from reasoning.text import VOCAB, pad_prompts
from reasoning.train import pg, state as state_lib


def test_gae_three_tokens_by_hand():
  rewards = jnp.array([[0.0, 0.0, 0.0, 1.0, 0.0]])
  values = jnp.array([[9.0, 0.5, 0.6, 0.7, 9.0]])  # 9s sit on masked positions: ignored
  mask = jnp.array([[0.0, 1.0, 1.0, 1.0, 0.0]])
  adv, ret = pg.gae(rewards, values, mask, gamma=1.0, lam=0.9)
  # deltas 0.1, 0.1, 0.3 -> A = 0.1 + 0.9 * (0.1 + 0.9 * 0.3), 0.1 + 0.9 * 0.3, 0.3
  np.testing.assert_allclose(adv, [[0.0, 0.433, 0.37, 0.3, 0.0]], atol=1e-6)
  np.testing.assert_allclose(ret, [[0.0, 0.933, 0.97, 1.0, 0.0]], atol=1e-6)
  adv, _ = pg.gae(rewards, values, mask, gamma=0.5, lam=1.0)
  # gamma 0.5: deltas 0.5*0.6-0.5=-0.2, 0.5*0.7-0.6=-0.25, 1-0.7=0.3; A2=0.3, A1=-0.25+0.15, A0=-0.2-0.05
  np.testing.assert_allclose(adv, [[0.0, -0.25, -0.1, 0.3, 0.0]], atol=1e-6)


def test_group_advantages_by_hand():
  np.testing.assert_allclose(pg.grpo_advantages(jnp.array([[1.0, 0.0]])), [[1.0, -1.0]], atol=1e-5)
  np.testing.assert_allclose(pg.grpo_advantages(jnp.array([[1.0, 0.0]]), normalize_std=False),
                             [[0.5, -0.5]])
  np.testing.assert_allclose(pg.grpo_advantages(jnp.array([[1.0, 1.0]])), [[0.0, 0.0]])
  np.testing.assert_allclose(pg.rloo_advantages(jnp.array([[1.0, 0.0, 0.0]])), [[1.0, -0.5, -0.5]])
  np.testing.assert_allclose(pg.reinforce_advantages(jnp.array([1.0, 0.0]), 0.25), [0.75, -0.25])
  assert pg.ema(0.5, jnp.array([1.0, 1.0]), decay=0.9) == pytest.approx(0.55)
  with pytest.raises(ValueError, match="RLOO needs at least 2"):
    pg.rloo_advantages(jnp.array([[1.0], [0.0]]))


def test_ppo_loss_by_hand():
  old = jnp.zeros((1, 2))
  mask = jnp.ones((1, 2))
  logp = jnp.log(jnp.array([[1.5, 0.5]]))
  adv = jnp.array([[1.0, -1.0]])
  loss, clip_frac, approx_kl = pg.ppo_loss(logp, old, adv, mask, clip_eps=0.2)
  # token 0: min(1.5, 1.2) * 1 = 1.2; token 1: min(-0.5, -0.8) = -0.8 -> loss mean(-1.2, 0.8)
  np.testing.assert_allclose(loss, (-1.2 + 0.8) / 2, atol=1e-6)
  assert float(clip_frac) == 1.0 and float(approx_kl) > 0
  logp = jnp.log(jnp.array([[5.0, 1.0]]))
  adv = jnp.array([[-1.0, 1.0]])
  loss, _, _ = pg.ppo_loss(logp, old, adv, mask, clip_eps=0.2, dual_clip=3.0)
  np.testing.assert_allclose(loss, (3.0 - 1.0) / 2, atol=1e-6)  # -5 is capped at -3
  loss, _, _ = pg.ppo_loss(logp, old, adv, mask, clip_eps=0.2)
  np.testing.assert_allclose(loss, (5.0 - 1.0) / 2, atol=1e-6)


def test_value_loss_and_aggregation_by_hand():
  values, old, ret = jnp.array([[1.0, 0.0]]), jnp.array([[0.0, 0.0]]), jnp.array([[0.0, 1.0]])
  # token 0: V moved 1.0 but clip 0.2 -> max(1, 0.04) = 1; token 1: max(1, 1) -> 0.5 * mean(1, 1)
  np.testing.assert_allclose(pg.value_loss(values, old, ret, jnp.ones((1, 2)), clip=0.2), 0.5)
  x = jnp.array([[1.0, 1.0, 1.0], [4.0, 0.0, 0.0]])
  mask = jnp.array([[1.0, 1.0, 1.0], [1.0, 0.0, 0.0]])
  assert float(pg.aggregate(x, mask, "token")) == pytest.approx(7 / 4)
  assert float(pg.aggregate(x, mask, "sequence")) == pytest.approx((1 + 4) / 2)


def test_kl_estimators_zero_for_identical_policies_positive_otherwise():
  logp = jnp.log(jnp.array([0.2, 0.5, 0.3]))
  for kind in ("k1", "k2", "k3"):
    np.testing.assert_allclose(pg.kl_estimate(logp, logp, kind), 0.0, atol=1e-7)
  p = jnp.array([0.7, 0.2, 0.1])
  q = jnp.array([0.2, 0.3, 0.5])
  samples = jax.random.choice(jax.random.key(0), 3, (20000,), p=p)
  lp, lq = jnp.log(p)[samples], jnp.log(q)[samples]
  true_kl = float((p * jnp.log(p / q)).sum())
  for kind in ("k1", "k3"):  # unbiased estimators of KL(p || q)
    assert float(pg.kl_estimate(lp, lq, kind).mean()) == pytest.approx(true_kl, rel=0.05)
  for kind in ("k2", "k3"):  # non-negative per sample
    assert float(pg.kl_estimate(lp, lq, kind).min()) >= 0.0
  assert float(pg.kl_estimate(lp, lq, "k2").mean()) > 0


def test_token_advantages_place_the_outcome_reward():
  mask = jnp.array([[0.0, 1.0, 1.0, 0.0], [0.0, 1.0, 0.0, 0.0]])
  zeros = jnp.zeros((2, 4))
  cfg = pg.PGConfig(algo="ppo", gamma=1.0, gae_lambda=1.0, kl_coef=0.0)
  adv, ret = pg.token_advantages(cfg, jnp.array([1.0, 0.0]), 2, mask, zeros, zeros, zeros)
  np.testing.assert_allclose(ret, [[0, 1, 1, 0], [0, 0, 0, 0]])  # zero values: return = outcome
  cfg = pg.PGConfig(algo="grpo")
  adv, _ = pg.token_advantages(cfg, jnp.array([1.0, 0.0]), 2, mask, zeros, zeros, zeros)
  np.testing.assert_allclose(adv, [[0, 1, 1, 0], [0, -1, 0, 0]], atol=1e-5)
  cfg = pg.PGConfig(algo="grpo", negative_scale=0.25)  # failures pushed down at a quarter weight
  adv, _ = pg.token_advantages(cfg, jnp.array([1.0, 0.0]), 2, mask, zeros, zeros, zeros)
  np.testing.assert_allclose(adv, [[0, 1, 1, 0], [0, -0.25, 0, 0]], atol=1e-5)
  cfg = pg.PGConfig(algo="grpo", negative_scale=0.0)
  adv, _ = pg.token_advantages(cfg, jnp.array([1.0, -0.25]), 2, mask, zeros, zeros, zeros)
  np.testing.assert_allclose(adv, [[0, 1, 1, 0], [0, 0, 0, 0]], atol=1e-5)
  cfg = pg.PGConfig(algo="grpo", negative_scale=0.0, push_penalized=True)
  adv, _ = pg.token_advantages(cfg, jnp.array([1.0, -0.25]), 2, mask, zeros, zeros, zeros)
  np.testing.assert_allclose(adv, [[0, 1, 1, 0], [0, -1, 0, 0]], atol=1e-5)  # penalized: pushed
  adv, _ = pg.token_advantages(cfg, jnp.array([1.0, 0.0]), 2, mask, zeros, zeros, zeros)
  np.testing.assert_allclose(adv, [[0, 1, 1, 0], [0, 0, 0, 0]], atol=1e-5)  # honest failure: not


def test_bad_pg_config():
  with pytest.raises(ValueError, match="rl.algo"):
    pg.PGConfig(algo="dpo")
  with pytest.raises(ValueError, match="rl.dual_clip"):
    pg.PGConfig(dual_clip=0.5)
  with pytest.raises(ValueError, match="rl.negative_scale"):
    pg.PGConfig(negative_scale=-1.0)


def test_bad_recipe_options():
  with pytest.raises(ValueError, match="rl.norm_length"):
    pg.PGConfig(aggregation="constant")
  with pytest.raises(ValueError, match="rl.objective"):
    pg.PGConfig(objective="dpo")
  with pytest.raises(ValueError, match="rl.importance"):
    pg.PGConfig(importance="segment")
  with pytest.raises(ValueError, match="rl.clip_eps"):
    pg.PGConfig(clip_eps_high=-0.1)
  with pytest.raises(ValueError, match="rl.tis_cap"):
    pg.PGConfig(tis_cap=-1.0)


# ----------------------------------------------------------------------------- recipes


def test_dapo_clip_higher_raises_only_the_upper_bound():
  mask = jnp.ones((1, 1))
  up, down = jnp.log(jnp.array([[1.5]])), jnp.log(jnp.array([[0.5]]))
  zero = jnp.zeros((1, 1))
  loss = lambda lp, a, **kw: float(pg.ppo_loss(lp, zero, jnp.full((1, 1), a), mask,
                                               clip_eps=0.2, **kw)[0])
  assert loss(up, 1.0) == pytest.approx(-1.2)                       # symmetric: 1 + 0.2
  assert loss(up, 1.0, clip_eps_high=0.28) == pytest.approx(-1.28)  # clip-higher: 1 + 0.28
  # the lower bound stays at 1 - 0.2: -min(0.5 * -1, 0.8 * -1) = 0.8
  assert loss(down, -1.0, clip_eps_high=0.28) == pytest.approx(0.8)
  _, clip_frac, _ = pg.ppo_loss(jnp.log(jnp.array([[1.25, 1.3, 0.7, 1.0]])), jnp.zeros((1, 4)),
                                jnp.ones((1, 4)), jnp.ones((1, 4)), clip_eps=0.2,
                                clip_eps_high=0.28)
  assert float(clip_frac) == pytest.approx(0.5)  # 1.3 above 1.28 and 0.7 below 0.8


def test_cispo_keeps_the_gradient_of_a_clipped_token():
  """CISPO: -sg(clip(r, 1 - eps, 1 + eps_high)) A log pi. At r = 1.5, A = 1 the PPO surrogate
  is clipped (no gradient); CISPO's gradient on log pi is -1.28, the clipped weight."""
  old, mask, adv = jnp.zeros((1, 1)), jnp.ones((1, 1)), jnp.ones((1, 1))
  logp = jnp.log(jnp.array([[1.5]]))
  grad = lambda objective: float(jax.grad(lambda lp: pg.ppo_loss(
      lp, old, adv, mask, clip_eps=1.0, clip_eps_high=0.28, objective=objective)[0])(logp)[0, 0])
  assert grad("clip") == pytest.approx(0.0)
  assert grad("cispo") == pytest.approx(-1.28)
  value = pg.ppo_loss(logp, old, adv, mask, clip_eps=1.0, clip_eps_high=0.28, objective="cispo")[0]
  assert float(value) == pytest.approx(-1.28 * np.log(1.5))  # -(1.28 * A * log pi)
  weight = float(jax.grad(lambda lp: pg.ppo_loss(  # r = 0.1: no lower bound at eps 1
      lp, old, adv, mask, clip_eps=1.0, objective="cispo")[0])(jnp.log(jnp.array([[0.1]])))[0, 0])
  assert weight == pytest.approx(-0.1)


def test_gspo_uses_one_length_normalized_ratio_per_sequence():
  mask = jnp.array([[1.0, 1.0, 0.0]])
  old = jnp.zeros((1, 3))
  # token log ratios 0.1 and 0.3 (the third is padding): sequence ratio exp(0.2)
  log_ratio = pg.importance_log_ratio(jnp.array([[0.1, 0.3, 5.0]]), old, mask, "sequence")
  np.testing.assert_allclose(log_ratio, [[0.2, 0.2, 0.2]], rtol=1e-6)
  kw = dict(clip_eps=3e-4, clip_eps_high=4e-4, importance="sequence", aggregation="sequence")
  loss = pg.ppo_loss(jnp.array([[0.1, 0.3, 5.0]]), old, jnp.ones((1, 3)), mask, **kw)[0]
  assert float(loss) == pytest.approx(-(1 + 4e-4))  # clipped at 1 + 4e-4
  # inside the range (ratio exp(1e-4)) the gradient on each token is -ratio / |y| = -ratio / 2
  logp = jnp.array([[0.0, 2e-4, 0.0]])
  grad = jax.grad(lambda lp: pg.ppo_loss(lp, old, jnp.ones((1, 3)), mask, **kw)[0])(logp)
  np.testing.assert_allclose(grad, [[-np.exp(1e-4) / 2] * 2 + [0.0]], rtol=1e-5)


def test_dr_grpo_drops_std_and_length_normalization():
  x = jnp.array([[1.0, 2.0, 0.0], [3.0, 0.0, 0.0]])
  mask = jnp.array([[1.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
  assert float(pg.aggregate(x, mask, "constant", norm_length=4)) == pytest.approx(6 / 8)
  cfg = pg.PGConfig(algo="grpo", normalize_std=False, aggregation="constant", norm_length=4)
  rewards = jnp.array([1.0, 0.0, 0.0, 0.0])  # one group of 4: mean 0.25, std 0.433
  adv, _ = pg.token_advantages(cfg, rewards, 4, jnp.ones((4, 1)), *[jnp.zeros((4, 1))] * 3)
  np.testing.assert_allclose(adv[:, 0], [0.75, -0.25, -0.25, -0.25], atol=1e-6)
  std, _ = pg.token_advantages(pg.PGConfig(algo="grpo"), rewards, 4, jnp.ones((4, 1)),
                               *[jnp.zeros((4, 1))] * 3)
  np.testing.assert_allclose(std[:, 0], np.array([0.75, -0.25, -0.25, -0.25]) / np.sqrt(0.1875),
                             rtol=1e-4)


def test_reinforce_pp_whitens_returns_over_the_batch_tokens():
  mask = jnp.array([[1.0, 1.0], [1.0, 0.0]])
  adv = pg.reinforce_pp_advantages(jnp.array([1.0, 0.0]), mask, jnp.zeros((2, 2)))
  # returns 1, 1 and 0: mean 2/3, std sqrt(2)/3
  np.testing.assert_allclose(adv, [[1 / np.sqrt(2)] * 2, [-np.sqrt(2), 0.0]], rtol=1e-4)
  kl = jnp.array([[0.1, 0.2], [0.3, 0.0]])
  adv = pg.reinforce_pp_advantages(jnp.array([1.0, 0.0]), mask, kl)
  # token rewards [-0.1, 0.8], [-0.3]: returns [0.7, 0.8], [-0.3]; mean 0.4, std sqrt(0.74/3)
  expected = (np.array([0.7, 0.8, -0.3]) - 0.4) / np.sqrt(0.74 / 3)
  np.testing.assert_allclose([adv[0, 0], adv[0, 1], adv[1, 0]], expected, rtol=1e-4)
  assert float(adv[1, 1]) == 0.0
  cfg = pg.PGConfig(algo="reinforce_pp", kl_coef=1.0, kl_estimator="k1", kl_in_reward=True)
  via_cfg, _ = pg.token_advantages(cfg, jnp.array([1.0, 0.0]), 1, mask, jnp.zeros((2, 2)), kl,
                                   jnp.zeros((2, 2)))  # k1 = logp - ref_logp = kl
  np.testing.assert_allclose(via_cfg, adv, rtol=1e-5)


def test_truncated_importance_weights():
  w = pg.truncated_is_weights(jnp.log(jnp.array([3.0, 0.5])), jnp.zeros(2), cap=2.0)
  np.testing.assert_allclose(w, [2.0, 0.5], rtol=1e-6)  # pi_old / pi_behavior, capped at 2
  mask, adv, zero = jnp.ones((1, 2)), jnp.ones((1, 2)), jnp.zeros((1, 2))
  loss = pg.ppo_loss(zero, zero, adv, mask, clip_eps=0.2, weights=w[None])[0]
  assert float(loss) == pytest.approx(-(2.0 + 0.5) / 2)


# One update per rollout: every ratio is 1 at the update, where CISPO's gradient is GRPO's
# (test_cispo_keeps_the_gradient_of_a_clipped_token covers where they differ).
RECIPE_CASES = {
    "grpo": {}, "ppo": {"algo": "ppo"},
    "gspo": {"importance": "sequence", "clip_eps": 3e-4, "clip_eps_high": 4e-4,
             "aggregation": "sequence"},
    "reinforce_pp": {"algo": "reinforce_pp"},
}


@pytest.mark.parametrize("recipe", list(RECIPE_CASES))
def test_bandit_rl_moves_probability_to_the_rewarded_answer(tiny_model, recipe):
  """Reward 1 when the first generated character is a digit (~10/56 at init)."""
  _, graphdef, params = tiny_model
  cfg = pg.PGConfig(**{"kl_coef": 0.0, "gae_lambda": 1.0, **RECIPE_CASES[recipe]})
  tx = state_lib.make_optimizer(state_lib.OptimConfig(lr=1e-2, warmup_steps=0, total_steps=40,
                                                      weight_decay=0.0))
  state = state_lib.create(jax.tree.map(jnp.copy, params), tx)
  step = pg.make_train_step(graphdef, tx, cfg)
  prompts = jnp.asarray(pad_prompts(VOCAB, ["count r in rr\n", "compute 1+2\n"] * 16))
  digits = jnp.array(VOCAB.encode("0123456789"))
  group = 16

  def digit_rate(p, key):
    out = sampling.generate(graphdef, p, prompts, key, max_new=2)
    return jnp.isin(out.tokens[:, 0], digits).astype(jnp.float32), out

  first = float(digit_rate(state.params, jax.random.key(99))[0].mean())
  for i in range(30):
    rewards, out = digit_rate(state.params, jax.random.key(i))
    tokens = jnp.concatenate([prompts, out.tokens], 1)
    mask = jnp.concatenate([jnp.zeros_like(prompts), (out.tokens != 0)], 1)[:, 1:].astype(jnp.float32)
    logp, values, _ = pg.sequence_logprobs(graphdef, state.params, tokens)
    order = jnp.argsort(jnp.arange(32) % 2, stable=True)  # group rows by prompt
    rows = lambda x: x[order]
    adv, ret = pg.token_advantages(cfg, rows(rewards), group, rows(mask), rows(values),
                                   rows(logp), rows(logp))
    batch = pg.PGBatch(rows(tokens), rows(mask), ref_logp=rows(logp), advantages=adv,
                       returns=ret, old_logp=rows(logp), old_values=rows(values))
    state, metrics = step(state, batch)
  last = float(digit_rate(state.params, jax.random.key(99))[0].mean())
  assert first < 0.4 and last > 0.8, (first, last)


def test_a_single_on_policy_update_takes_its_old_logprobs_from_its_own_forward_pass(tiny_model):
  """A batch without old_logp (the rollout's only update: scores_before_update is False) gives
  the same step as one carrying the policy's log-probs scored beforehand, and reports kl_start,
  the sequence KL from the reference, by hand."""
  _, graphdef, params = tiny_model
  cfg = pg.PGConfig(kl_coef=0.05)
  tx = state_lib.make_optimizer(state_lib.OptimConfig(lr=1e-2, warmup_steps=0, total_steps=4,
                                                      weight_decay=0.0))
  step = pg.make_train_step(graphdef, tx, cfg)
  tokens = jnp.asarray(pad_prompts(VOCAB, ["count r in rr\n2\n", "compute 1+2\n3\n"] * 2))
  mask = jnp.ones(tokens[:, 1:].shape).at[:, :8].set(0.0)
  ref = jax.tree.map(lambda x: x * 0.9, params)
  logp, values, _ = pg.sequence_logprobs(graphdef, params, tokens)
  ref_logp = pg.sequence_logprobs(graphdef, ref, tokens)[0]
  adv = jnp.array([1.0, -1.0, 0.5, -0.5])[:, None] * mask
  own_batch = pg.PGBatch(tokens, mask, ref_logp=ref_logp, advantages=adv, returns=adv)
  scored, m_scored = step(state_lib.create(jax.tree.map(jnp.copy, params), tx),
                          own_batch._replace(old_logp=logp, old_values=values))
  own, m_own = step(state_lib.create(jax.tree.map(jnp.copy, params), tx), own_batch)
  assert "kl_start" not in m_scored
  np.testing.assert_allclose(float(m_own["kl_start"]),
                             float(jnp.mean(jnp.sum((logp - ref_logp) * mask, 1))), rtol=1e-5)
  for key in ("loss", "pg_loss", "kl", "clip_frac"):
    np.testing.assert_allclose(float(m_own[key]), float(m_scored[key]), rtol=1e-5, atol=1e-7)
  for a, b in zip(jax.tree.leaves(own.params), jax.tree.leaves(scored.params)):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-6)


def test_a_batch_missing_what_the_step_reads_is_a_clear_error(tiny_model):
  _, graphdef, params = tiny_model
  tx = state_lib.make_optimizer(state_lib.OptimConfig(lr=1e-2, warmup_steps=0, total_steps=4))
  tokens = jnp.asarray(pad_prompts(VOCAB, ["count r in rr\n2\n"] * 2))
  ones = jnp.ones(tokens[:, 1:].shape)
  batch = pg.PGBatch(tokens, ones, ref_logp=0 * ones, advantages=ones, returns=ones)
  for cfg, field in ((pg.PGConfig(algo="ppo"), "old_values"),
                     (pg.PGConfig(tis_cap=2.0), "behavior_logp")):
    with pytest.raises(ValueError, match=field):
      pg.make_train_step(graphdef, tx, cfg)(state_lib.create(params, tx), batch)


@pytest.mark.parametrize("updates, off_policy, overrides, expected", [
    (1, False, {}, False), (2, False, {}, True), (1, True, {}, True),
    (1, False, {"algo": "ppo"}, True), (1, False, {"kl_in_reward": True}, True),
])
def test_scores_before_update_only_when_the_update_cannot_score_the_rollout_itself(
    updates, off_policy, overrides, expected):
  cfg = pg.PGConfig(**overrides)
  assert pg.scores_before_update(cfg, updates_per_rollout=updates,
                                 off_policy=off_policy) is expected


def test_dense_step_rewards_by_hand():
  """Two rows of one group, four generated tokens each; row 0's steps end at tokens 1 and 3
  (rewards 0.5, 1.0), row 1's at token 2 (reward 0.0)."""
  mask = jnp.ones((2, 4))
  step_rewards = jnp.array([[0, 0.5, 0, 1.0], [0, 0, 0.0, 0]])
  step_ends = jnp.array([[0, 1, 0, 1], [0, 0, 1, 0]], jnp.float32)
  zeros, outcome = jnp.zeros((2, 4)), jnp.zeros(2)
  # PPO, gamma = lambda = 1, values 0: each token's advantage is the rewards from it on.
  cfg = pg.PGConfig(algo="ppo", gamma=1.0, gae_lambda=1.0, kl_coef=0.0)
  adv, returns = pg.token_advantages(cfg, outcome, 2, mask, zeros, zeros, zeros,
                                     step_rewards=step_rewards, step_ends=step_ends)
  np.testing.assert_allclose(adv, [[1.5, 1.5, 1.0, 1.0], [0, 0, 0, 0]])
  np.testing.assert_allclose(returns, adv)
  # Process-supervised GRPO: the group's three step rewards (0.5, 1.0, 0.0) have mean 0.5 and
  # std sqrt(1/6); normalized 0, +1.2247, -1.2247; a token sums the steps ending at or after it.
  z = 0.5 / np.sqrt(1 / 6)
  cfg = pg.PGConfig(algo="grpo", kl_coef=0.0)
  adv, _ = pg.token_advantages(cfg, outcome, 2, mask, zeros, zeros, zeros,
                               step_rewards=step_rewards, step_ends=step_ends)
  np.testing.assert_allclose(adv, [[z, z, z, z], [-z, -z, -z, 0]], rtol=1e-5)
  # ...plus the outcome's group-relative advantage, on every token.
  adv, _ = pg.token_advantages(cfg, jnp.array([1.0, 0.0]), 2, mask, zeros, zeros, zeros,
                               step_rewards=step_rewards, step_ends=step_ends)
  np.testing.assert_allclose(adv, [[z + 1, z + 1, z + 1, z + 1], [-z - 1, -z - 1, -z - 1, -1]],
                             rtol=1e-4)
  # REINFORCE++: returns-to-go of the step rewards, whitened over the batch's tokens.
  cfg = pg.PGConfig(algo="reinforce_pp", gamma=1.0, kl_coef=0.0)
  adv, _ = pg.token_advantages(cfg, outcome, 2, mask, zeros, zeros, zeros,
                               step_rewards=step_rewards, step_ends=step_ends)
  togo = np.array([[1.5, 1.5, 1.0, 1.0], [0, 0, 0, 0]])
  np.testing.assert_allclose(adv, (togo - togo.mean()) / (togo.std() + 1e-6), rtol=1e-5)
  with pytest.raises(ValueError, match="dense step rewards need rl.algo"):
    pg.token_advantages(pg.PGConfig(algo="rloo"), outcome, 2, mask, zeros, zeros, zeros,
                        step_rewards=step_rewards, step_ends=step_ends)

"""Policy-gradient RL on chains of thought: advantage estimators, losses and a jitted step.

Everything is a plain function of arrays so each piece can be checked against a hand-computed
case. Per-token arrays are [B, T] and aligned with *predicted* tokens: entry t belongs to
token t+1 of the sequence (the logits at t predict it); `mask` is 1 on generated tokens.

Algorithms (`PGConfig.algo`):
  ppo        GAE(gamma, lambda) over tokens with the value head, clipped surrogate + clipped
             value loss (Schulman et al. 2017; Ouyang et al. 2022).
  grpo       group-normalized outcome rewards over G samples per prompt (Shao et al. 2024).
  rloo       leave-one-out baseline over the G samples (Ahmadian et al. 2024).
  reinforce  return minus a moving-average baseline (Williams 1992).
All use the clipped ratio objective, so several minibatch epochs per rollout are safe.
`negative_scale` < 1 shrinks negative advantages (0: update on successes only, with
`push_penalized` keeping them for answers the reward penalizes); Countdown's RL config uses 0.

KL to the frozen reference policy: estimators k1 = log r, k2 = (log r)^2 / 2,
k3 = exp(-log r) - 1 + log r with log r = logp - ref_logp (Schulman, "Approximating KL"), either
subtracted from the reward (`kl_in_reward`, the InstructGPT/PPO convention) or added as a loss
term (the GRPO convention). Default aggregation is token-level: every generated token in the
batch has equal weight, so long wrong answers are not under-penalized relative to short ones
(the length bias of per-sequence means noted by DAPO and Dr. GRPO); `sequence` is available.

The reasoning-RL recipes are options of the same step (configs/countdown_rl.py has each as a
variant):
  DAPO         decoupled clip-higher (`clip_eps_high` > `clip_eps`), dynamic sampling (the
               rollout keeps groups whose rewards differ: rollout.informative_rows), token-level
               loss, overlong shaping (rewards.overlong_penalty) (Yu et al. 2025).
  Dr. GRPO     no std normalization and no length normalization: token losses summed and divided
               by a constant (`aggregation='constant'`, `norm_length`) (Liu et al. 2025).
  GSPO         one importance ratio per sequence, the geometric mean of its token ratios
               (`importance='sequence'`), clipped at 3e-4/4e-4 (Zheng et al. 2025).
  CISPO        REINFORCE with a clipped, stop-gradient importance weight on every token
               (`objective='cispo'`): no token's gradient is dropped (MiniMax 2025; ScaleRL,
               Khatri et al. 2025).
  REINFORCE++  returns normalized over the whole batch's tokens, no critic, no groups
               (`algo='reinforce_pp'`) (Hu 2025).
  TIS          truncated importance weights min(pi_old / pi_behavior, `tis_cap`) for rollouts
               sampled by an older policy than the one the update starts from (Yao et al. 2025).
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax
import jax.numpy as jnp
from flax import nnx
import optax

from reasoning import model as model_lib
from reasoning.train.state import make_step

ALGOS = ("ppo", "grpo", "rloo", "reinforce", "reinforce_pp")
AGGREGATIONS = ("token", "sequence", "constant")


class PGBatch(NamedTuple):
  """One policy-gradient update's inputs. Per-token arrays are [B, W], aligned with the last W
  tokens (tokens[:, T-W:]): an RL rollout's W columns are its generated ones, so the output head
  skips the prompt; W = T-1 covers every predicted token. A pytree (slicing a minibatch is
  `jax.tree.map(lambda x: x[idx], batch)`); an absent field is None."""
  tokens: jax.Array      # [B, T] int32
  mask: jax.Array        # [B, W] 1 on the tokens trained on
  ref_logp: jax.Array    # [B, W] log-probs under the frozen reference
  advantages: jax.Array  # [B, W]
  returns: jax.Array     # [B, W] the value head's targets (PPO)
  old_logp: jax.Array | None = None    # the policy's log-probs scored before the update; None:
                                       # the update's own, gradient stopped (its only update)
  old_values: jax.Array | None = None  # the value head before the update (PPO's value clip)
  behavior_logp: jax.Array | None = None  # under the policy that sampled it (with tis_cap)


@dataclasses.dataclass(frozen=True)
class PGConfig:
  algo: str = "grpo"
  clip_eps: float = 0.2
  dual_clip: float = 0.0          # > 1 enables dual clip (Ye et al. 2020) for negative advantages
  value_clip: float = 0.2
  value_coef: float = 0.5
  entropy_coef: float = 0.0
  kl_coef: float = 0.05
  kl_estimator: str = "k3"        # 'k1' | 'k2' | 'k3'
  kl_in_reward: bool = False
  gamma: float = 1.0
  gae_lambda: float = 0.95
  aggregation: str = "token"      # 'token' | 'sequence' | 'constant' (sum / rows x norm_length)
  norm_length: int = 0            # 'constant' aggregation's length (Dr. GRPO: the max generation)
  normalize_std: bool = True      # GRPO: divide by the group's std
  negative_scale: float = 1.0     # multiplies negative advantages; 0 = learn from successes only
  push_penalized: bool = False    # ...except answers with a negative reward (false `none`)
  clip_eps_high: float = 0.0      # upper clip 1 + clip_eps_high (DAPO clip-higher); 0: clip_eps
  objective: str = "clip"         # 'clip' (PPO surrogate) | 'cispo' (clipped IS-weighted REINFORCE)
  importance: str = "token"       # 'token' | 'sequence' (GSPO: one length-normalized ratio)
  tis_cap: float = 0.0            # > 0: truncated IS weight on behavior-policy samples (TIS)

  def __post_init__(self):
    if self.algo not in ALGOS:
      raise ValueError(f"rl.algo must be one of {ALGOS}, got {self.algo!r}")
    if self.kl_estimator not in ("k1", "k2", "k3"):
      raise ValueError(f"rl.kl_estimator must be 'k1', 'k2' or 'k3', got {self.kl_estimator!r}")
    if self.aggregation not in AGGREGATIONS:
      raise ValueError(f"rl.aggregation must be one of {AGGREGATIONS}, got {self.aggregation!r}")
    if self.aggregation == "constant" and self.norm_length <= 0:
      raise ValueError("rl.aggregation='constant' needs rl.norm_length > 0 (the max generation "
                       f"length), got {self.norm_length}")
    if self.objective not in ("clip", "cispo"):
      raise ValueError(f"rl.objective must be 'clip' or 'cispo', got {self.objective!r}")
    if self.importance not in ("token", "sequence"):
      raise ValueError(f"rl.importance must be 'token' or 'sequence', got {self.importance!r}")
    if self.clip_eps <= 0 or self.clip_eps_high < 0:
      raise ValueError(f"rl.clip_eps must be > 0 and rl.clip_eps_high >= 0, got "
                       f"{self.clip_eps} and {self.clip_eps_high}")
    if self.tis_cap < 0:
      raise ValueError(f"rl.tis_cap must be 0 (off) or > 0, got {self.tis_cap}")
    if not 0.0 <= self.negative_scale <= 1.0:
      raise ValueError(f"rl.negative_scale must be in [0, 1], got {self.negative_scale}")
    if self.dual_clip and self.dual_clip <= 1.0:
      raise ValueError(f"rl.dual_clip must be 0 (off) or > 1, got {self.dual_clip}")


# ----------------------------------------------------------------------------- advantages


def gae(rewards, values, mask, *, gamma: float, lam: float):
  """Generalized advantage estimation over tokens. rewards, values, mask: [B, T].

  The episode ends after the last masked token (its next value is 0). Returns (advantages,
  returns), both [B, T] and zero where mask is 0.
  """
  next_values = jnp.concatenate([values[:, 1:] * mask[:, 1:], jnp.zeros_like(values[:, :1])], 1)
  deltas = (rewards + gamma * next_values - values) * mask

  def step(carry, x):
    delta, m = x
    adv = delta + gamma * lam * carry * m
    return adv * m + carry * (1 - m), adv * m

  _, adv = jax.lax.scan(step, jnp.zeros(rewards.shape[0]), (deltas.T, mask.T), reverse=True)
  advantages = adv.T
  return advantages, (advantages + values) * mask


def grpo_advantages(rewards, *, normalize_std: bool = True, eps: float = 1e-6):
  """rewards [N, G] (G samples per prompt) -> (r - mean) / (std + eps) within each group."""
  centered = rewards - rewards.mean(axis=1, keepdims=True)
  if not normalize_std:
    return centered
  return centered / (rewards.std(axis=1, keepdims=True) + eps)


def rloo_advantages(rewards):
  """rewards [N, G] -> r_i - mean of the other G-1 rewards of the same prompt (G >= 2)."""
  g = rewards.shape[1]
  if g < 2:
    raise ValueError("RLOO needs at least 2 samples per prompt (rl.samples_per_prompt)")
  return rewards - (rewards.sum(axis=1, keepdims=True) - rewards) / (g - 1)


def reinforce_advantages(rewards, baseline: float):
  """Plain returns minus a moving-average baseline (the caller updates it with `ema`)."""
  return rewards - baseline


def reinforce_pp_advantages(rewards, mask, kl_penalty, *, gamma: float = 1.0, eps: float = 1e-6):
  """REINFORCE++ (Hu 2025): the outcome reward [B] on each sequence's last generated token, a
  per-token KL penalty [B, T] subtracted from every token's reward, discounted returns-to-go, then
  normalized with the mean and std of all generated tokens in the batch (no critic, no groups).
  Zero where mask is 0."""
  last = (jnp.cumsum(mask[:, ::-1], 1)[:, ::-1] == 1) & (mask > 0)
  token_rewards = (rewards[:, None] * last - kl_penalty) * mask

  def step(carry, r):
    ret = r + gamma * carry
    return ret, ret

  _, returns = jax.lax.scan(step, jnp.zeros(rewards.shape[0]), token_rewards.T, reverse=True)
  returns = returns.T
  mean = aggregate(returns, mask)
  std = jnp.sqrt(aggregate((returns - mean) ** 2, mask))
  return (returns - mean) / (std + eps) * mask


def ema(baseline: float, rewards, decay: float = 0.9) -> float:
  return decay * baseline + (1 - decay) * float(jnp.mean(rewards))


# ----------------------------------------------------------------------------- losses


def aggregate(x, mask, mode: str = "token", norm_length: int = 0):
  """Masked mean of x [B, T]: over all tokens ('token'), of per-sequence means ('sequence'), or
  the masked sum over rows x `norm_length` ('constant': Dr. GRPO, every token weighs the same
  whatever the lengths in its batch)."""
  if mode == "token":
    return (x * mask).sum() / jnp.maximum(mask.sum(), 1.0)
  if mode == "constant":
    return (x * mask).sum() / (x.shape[0] * norm_length)
  per_seq = (x * mask).sum(1) / jnp.maximum(mask.sum(1), 1.0)
  has = (mask.sum(1) > 0).astype(x.dtype)
  return (per_seq * has).sum() / jnp.maximum(has.sum(), 1.0)


def kl_estimate(logp, ref_logp, kind: str = "k3"):
  """Per-token estimate of KL(pi || ref) from samples of pi: k1, k2 or k3 (always >= 0)."""
  log_ratio = logp - ref_logp
  if kind == "k1":
    return log_ratio
  if kind == "k2":
    return 0.5 * log_ratio**2
  return jnp.exp(-log_ratio) - 1.0 + log_ratio


def importance_log_ratio(logp, old_logp, mask, level: str = "token"):
  """log(pi / pi_old) per token [B, T], or ('sequence', GSPO) each sequence's mean token log ratio
  (the log of its length-normalized sequence ratio) broadcast over its tokens."""
  log_ratio = logp - old_logp
  if level == "token":
    return log_ratio
  per_seq = (log_ratio * mask).sum(1) / jnp.maximum(mask.sum(1), 1.0)
  return jnp.broadcast_to(per_seq[:, None], log_ratio.shape)


def ppo_loss(logp, old_logp, advantages, mask, *, clip_eps: float, clip_eps_high: float = 0.0,
             dual_clip: float = 0.0, aggregation: str = "token", norm_length: int = 0,
             objective: str = "clip", importance: str = "token", weights=None):
  """The policy loss and its diagnostics (loss, clip_fraction, approx_kl).

  objective 'clip': the clipped surrogate -min(r A, clip(r, 1-eps, 1+eps_high) A), with
  `clip_eps_high` (DAPO's clip-higher; 0: clip_eps) and optional dual clip for A < 0.
  objective 'cispo': -sg(clip(r, 1-eps, 1+eps_high)) A log pi, REINFORCE with a clipped
  importance weight that carries no gradient, so a clipped token still gets its update.
  `importance='sequence'` uses GSPO's sequence ratio for r. `weights` [B, T] (TIS: truncated
  behavior-policy importance weights) multiply each token's loss. approx_kl is the k3 estimate of
  KL(old || new) over masked tokens; clip_fraction the share of tokens whose ratio is outside
  the clip range.
  """
  high = clip_eps_high or clip_eps
  log_ratio = importance_log_ratio(logp, old_logp, mask, importance)
  ratio = jnp.exp(log_ratio)
  clipped_ratio = jnp.clip(ratio, 1 - clip_eps, 1 + high)
  if objective == "cispo":
    surrogate = jax.lax.stop_gradient(clipped_ratio) * advantages * logp
  else:
    surrogate = jnp.minimum(ratio * advantages, clipped_ratio * advantages)
    if dual_clip:
      surrogate = jnp.where(advantages < 0, jnp.maximum(surrogate, dual_clip * advantages),
                            surrogate)
  if weights is not None:
    surrogate = jax.lax.stop_gradient(weights) * surrogate
  loss = aggregate(-surrogate, mask, aggregation, norm_length)
  clipped = ((ratio < 1 - clip_eps) | (ratio > 1 + high)).astype(jnp.float32)
  token_log_ratio = logp - old_logp
  approx_kl = aggregate(jnp.exp(token_log_ratio) - 1 - token_log_ratio, mask, "token")
  return loss, aggregate(clipped, mask, "token"), approx_kl


def truncated_is_weights(old_logp, behavior_logp, cap: float):
  """TIS (Yao et al. 2025): min(pi_old / pi_behavior, cap) per token [B, T], the correction for
  samples drawn by a behavior policy (a step-stale copy, another engine or precision) that
  differs from the policy the update starts from; the cap bounds the variance."""
  return jnp.minimum(jnp.exp(old_logp - behavior_logp), cap)


def value_loss(values, old_values, returns, mask, *, clip: float, aggregation: str = "token",
               norm_length: int = 0):
  """0.5 * max((V - R)^2, (clip(V, V_old +- clip) - R)^2), masked mean."""
  clipped = old_values + jnp.clip(values - old_values, -clip, clip)
  loss = 0.5 * jnp.maximum((values - returns) ** 2, (clipped - returns) ** 2)
  return aggregate(loss, mask, aggregation, norm_length)


def sequence_logprobs(graphdef, params, tokens, start: int = 0):
  """(logp [B, T-1] of each next token under the policy, values [B, T-1], the policy's entropy
  at each position [B, T-1]); the policy never generates the model's pad and BOS ids. With
  `model.logits_chunk` the [B, T, V] logits are never materialized (model.next_token_stats).
  `start` (static): only the predictions of tokens[:, start + 1:], each array [B, T-1-start]."""
  cfg = nnx.merge(graphdef, params).cfg
  stats = model_lib.next_token_stats(graphdef, params, tokens, exclude=cfg.never_generated,
                                     start=start)
  return stats.logp, stats.value, stats.entropy


def sequence_kl(logp, ref_logp, mask):
  """The sequence KL of the sampling policy from the reference estimated on its own samples:
  the mean over rows of sum_t (log pi - log pi_ref) over the masked tokens (nats)."""
  return jnp.mean(jnp.sum((logp - ref_logp) * mask, axis=1))


def explained_variance(values, returns, mask):
  mean = aggregate(returns, mask)
  var_r = aggregate((returns - mean) ** 2, mask)
  var_e = aggregate((returns - values - aggregate(returns - values, mask)) ** 2, mask)
  return 1.0 - var_e / jnp.maximum(var_r, 1e-8)


# ----------------------------------------------------------------------------- the step


def make_train_step(graphdef, tx: optax.GradientTransformation, cfg: PGConfig, lora=None):
  """A jitted `train_step(state, batch: PGBatch) -> (state, metrics)`; the state is donated.

  PPO reads old_values, and `tis_cap` behavior_logp. A batch without old_logp is its rollout's
  only update, on-policy (scores_before_update): the old log-probs are the step's own with the
  gradient stopped (ratio 1), and the metrics add kl_start, the sequence KL of these parameters
  from the reference on the batch. With `lora` (state.make_step) the state
  holds the LoRA tree and the step takes the base parameters third.
  """

  def loss_fn(params, batch: PGBatch):
    start = batch.tokens.shape[1] - 1 - batch.mask.shape[1]  # static: the shapes
    logp, values, token_entropy = sequence_logprobs(graphdef, params, batch.tokens, start)
    mask = batch.mask
    old_logp = batch.old_logp
    if old_logp is None:
      old_logp = jax.lax.stop_gradient(logp)
    weights = None
    if cfg.tis_cap:
      if batch.behavior_logp is None:
        raise ValueError("tis_cap: the batch has no behavior_logp (the log-probs of the policy "
                         "that sampled it; an off-policy rollout carries them)")
      weights = truncated_is_weights(old_logp, batch.behavior_logp, cfg.tis_cap)
    pg, clip_frac, approx_kl = ppo_loss(
        logp, old_logp, batch.advantages, mask, clip_eps=cfg.clip_eps,
        clip_eps_high=cfg.clip_eps_high, dual_clip=cfg.dual_clip, aggregation=cfg.aggregation,
        norm_length=cfg.norm_length, objective=cfg.objective, importance=cfg.importance,
        weights=weights)
    kl = aggregate(kl_estimate(logp, batch.ref_logp, cfg.kl_estimator), mask, cfg.aggregation,
                   cfg.norm_length)
    ent = aggregate(token_entropy, mask, "token")
    loss = pg - cfg.entropy_coef * ent
    if not cfg.kl_in_reward:
      loss = loss + cfg.kl_coef * kl
    metrics = {"pg_loss": pg, "kl": kl, "entropy": ent, "clip_frac": clip_frac,
               "approx_kl": approx_kl}
    if batch.old_logp is None:
      metrics["kl_start"] = sequence_kl(jax.lax.stop_gradient(logp), batch.ref_logp, mask)
    if cfg.algo == "ppo":
      if batch.old_values is None:
        raise ValueError("algo 'ppo': the batch has no old_values (the value head's outputs "
                         "scored before the update)")
      vl = value_loss(values, batch.old_values, batch.returns, mask, clip=cfg.value_clip,
                      aggregation=cfg.aggregation, norm_length=cfg.norm_length)
      loss = loss + cfg.value_coef * vl
      metrics["value_loss"] = vl
      metrics["explained_variance"] = explained_variance(values, batch.returns, mask)
    metrics["loss"] = loss
    return loss, metrics

  return make_step(loss_fn, tx, lora)


def scores_before_update(cfg: PGConfig, *, updates_per_rollout: int, off_policy: bool) -> bool:
  """Whether a rollout must be scored under the policy before its update. Not when the rollout
  gets one update, on-policy, and the advantages need neither values (PPO) nor log-probs
  (kl_in_reward): the update's forward pass runs on the parameters that sampled the rollout, so
  its log-probs are the old ones (TRL's GRPOTrainer skips the pass likewise with one update per
  generation), and the step saves a forward pass over the batch."""
  return (updates_per_rollout > 1 or off_policy or cfg.algo == "ppo" or cfg.kl_in_reward)


def process_grpo_advantages(step_rewards, step_ends, mask, group_size: int, *,
                            normalize_std: bool = True, eps: float = 1e-6):
  """GRPO with process supervision (DeepSeekMath, Shao et al. 2024, section 4.1.3): each step's
  reward is normalized by the mean and std of every step reward in its group (G consecutive
  rows), and a token's advantage is the sum of the normalized rewards of the steps that end at
  or after it. step_rewards, step_ends (1 on a step's last token), mask: [B, T]."""
  shape = step_rewards.shape
  r = step_rewards.reshape(-1, group_size * shape[1])
  e = step_ends.reshape(r.shape)
  count = jnp.maximum(e.sum(1, keepdims=True), 1.0)
  mean = (r * e).sum(1, keepdims=True) / count
  centred = r - mean
  if normalize_std:
    centred = centred / (jnp.sqrt((centred ** 2 * e).sum(1, keepdims=True) / count) + eps)
  normalized = (centred * e).reshape(shape)
  return jnp.cumsum(normalized[:, ::-1], 1)[:, ::-1] * mask


DENSE_ALGOS = ("ppo", "reinforce_pp", "grpo")


def token_advantages(cfg: PGConfig, rewards, group_size: int, mask, values, logp, ref_logp,
                     baseline: float = 0.0, step_rewards=None, step_ends=None):
  """Per-token (advantages, returns) [B, T] for the configured algorithm.

  rewards: [B] outcome rewards, rows grouped by prompt (G = group_size consecutive rows).
  For PPO the outcome reward sits on the last generated token and GAE spreads it; REINFORCE++
  whitens its returns-to-go over the batch; for the others the sequence advantage is broadcast
  over every generated token. With kl_in_reward, -kl_coef * k-estimate is added to each token's
  reward (PPO, REINFORCE++) or to the outcome (others).

  step_rewards [B, T] (dense process rewards, each on the token that ends its step; step_ends 1
  there): PPO and REINFORCE++ add them to the token rewards, so GAE and the returns-to-go
  credit each step with the rewards from it on (Math-Shepherd's step-by-step PPO); GRPO adds
  process_grpo_advantages to the outcome's group-relative advantage.
  """
  dense = step_rewards is not None
  if dense and cfg.algo not in DENSE_ALGOS:
    raise ValueError(f"dense step rewards need rl.algo in {DENSE_ALGOS}, got {cfg.algo!r}")
  kl_tok = kl_estimate(logp, ref_logp, cfg.kl_estimator) * mask
  if cfg.algo == "ppo":
    last = (jnp.cumsum(mask[:, ::-1], 1)[:, ::-1] == 1) & (mask > 0)
    token_rewards = rewards[:, None] * last
    if dense:
      token_rewards = token_rewards + step_rewards * mask
    if cfg.kl_in_reward:
      token_rewards = token_rewards - cfg.kl_coef * kl_tok
    adv, returns = gae(token_rewards, values * mask, mask, gamma=cfg.gamma, lam=cfg.gae_lambda)
    return scale_negative(adv, rewards, cfg), returns
  if cfg.algo == "reinforce_pp":
    penalty = cfg.kl_coef * kl_tok if cfg.kl_in_reward else jnp.zeros_like(mask)
    if dense:
      penalty = penalty - step_rewards * mask
    adv = reinforce_pp_advantages(rewards, mask, penalty, gamma=cfg.gamma)
    return scale_negative(adv, rewards, cfg), adv
  shaped = rewards - cfg.kl_coef * kl_tok.sum(1) if cfg.kl_in_reward else rewards
  grouped = shaped.reshape(-1, group_size)
  if cfg.algo == "grpo":
    adv = grpo_advantages(grouped, normalize_std=cfg.normalize_std)
  elif cfg.algo == "rloo":
    adv = rloo_advantages(grouped)
  else:
    adv = reinforce_advantages(grouped, baseline)
  adv = adv.reshape(-1)[:, None] * mask
  if dense:
    adv = adv + process_grpo_advantages(step_rewards, step_ends, mask, group_size,
                                        normalize_std=cfg.normalize_std)
  adv = scale_negative(adv, rewards, cfg)
  return adv, adv


def scale_negative(advantages, rewards, cfg: PGConfig):
  """Negative advantages [B, T] times `cfg.negative_scale`. Below 1 the update leans on the
  successes: pushing down an honest failed attempt's tokens, most of which it shares with the
  successes of a peaked SFT policy, moves probability to unseen tokens rather than to the good
  answer (at 0 this is rejection-sampling fine-tuning inside PPO's trust region). With
  `cfg.push_penalized`, rows whose outcome reward [B] is below zero (an answer the reward
  penalizes outright: `none` to a solvable problem, a malformed one) keep their full negative
  advantage."""
  if cfg.negative_scale == 1.0:
    return advantages
  row_scale = jnp.full(rewards.shape, cfg.negative_scale)
  if cfg.push_penalized:
    row_scale = jnp.where(rewards < 0, 1.0, row_scale)
  return jnp.where(advantages < 0, row_scale[:, None] * advantages, advantages)

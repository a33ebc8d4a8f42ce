"""Quiet-STaR (Zelikman et al. 2024): a hidden thought before the next token, at many positions of
a text at once, learned from how much it helps predict the text that follows.

At each thought position i of a row (the K positions `at`), the model writes START, m sampled
thought tokens and END after the text's prefix x_0..x_i; after END it predicts x_{i+1}, and with
the true tokens x_{i+1}..x_{i+j-1} teacher-forced after END it predicts x_{i+j}, for j = 1 to
n_true (the non-myopic objective). A mixing head reads the hidden states of the plain prediction
and of the post-thought one and weighs their logits: mixed = w * post + (1 - w) * base.

All positions think in parallel in one sequence: the text's n tokens, then L = m + 1 + n_true
blocks of K tokens, block s holding token s of every position's thought block (START, t_1..t_m,
END, x_{i+1}..x_{i+n_true-1}). A block token of position k attends to the text up to `at[k]` and
to the earlier block tokens of position k only; its position id is pos(x_i) + 1 + s, as if the
thought were written right after x_i (`layout`). Sampling m tokens takes m passes over the
growing layout (`sample_thoughts`), and equals sampling each position's thought on its own
(tests/test_quiet_star.py). Each (row, position, step) draws its Gumbel noise from its own key.

Training (`loss`): the mixed log-likelihood of the n_true true tokens after each thought (NLL,
through the model, the thought's context and the mixing head), plus REINFORCE on the thought
tokens with reward = that log-likelihood, baselined by the mean over the `thoughts` copies of
the same row (G consecutive rows of the batch are one text). START and END are two token ids
(new embedding rows), learned with the rest; `with_meta_tokens` adds them to a pretrained model.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax

from reasoning import model as model_lib, sampling
from reasoning.train.state import make_step


@dataclasses.dataclass(frozen=True)
class QuietConfig:
  start_id: int               # the start-of-thought token
  end_id: int                 # the end-of-thought token
  thought_len: int = 8        # m sampled tokens between them
  n_true: int = 4             # true tokens each thought is scored on (teacher-forced)
  thoughts: int = 2           # G copies of each row: the REINFORCE baseline is their mean
  temperature: float = 1.0    # thought sampling
  policy_weight: float = 1.0  # the REINFORCE term's weight
  never: tuple[int, ...] = ()  # ids a thought never holds (padding, BOS, EOS, START, END)
  pad_id: int = 0             # the model's padding id

  @property
  def blocks(self) -> int:
    return self.thought_len + 1 + self.n_true


def with_meta_tokens(model_cfg, params, init_ids=()):
  """(model config, graphdef, params) of a pretrained model with two more token ids, START =
  `model_cfg.vocab_size` and END = START + 1: their embedding rows start at the mean embedding of
  `init_ids` (the paper starts them at the embedding of "---"; all rows when empty), their output
  columns (untied models) at zero. Only thoughts read them; neither is ever a target."""
  rows = params["embed"]["embedding"]
  ids = jnp.asarray(list(init_ids) or range(rows.shape[0]), jnp.int32)
  meta = jnp.broadcast_to(rows[ids].mean(0, keepdims=True), (2, rows.shape[1])).astype(rows.dtype)
  params = dict(params, embed={"embedding": jnp.concatenate([rows, meta])})
  if not model_cfg.tie_embeddings:
    kernel = params["lm_head"]["kernel"]
    params["lm_head"] = {"kernel": jnp.concatenate([kernel, jnp.zeros_like(kernel[:, :2])], 1)}
  cfg = dataclasses.replace(model_cfg, vocab_size=model_cfg.vocab_size + 2)
  return cfg, model_lib.abstract_init(cfg)[0], params


def thought_positions(loss_mask: np.ndarray, k: int) -> np.ndarray:
  """[B, K] positions whose next token is the first K trained tokens of each row (the positions
  that predict a completion); past the row's end they point at its last token (and score
  nothing)."""
  first = np.argmax(loss_mask > 0, axis=1) - 1
  last = loss_mask.shape[1] - 1
  return np.minimum(first[:, None] + np.arange(k)[None], last).astype(np.int32)


def layout(tokens: jax.Array, at: jax.Array, blocks: jax.Array, pad_id: int):
  """(ext [B, n + S*K], positions, mask [B, N, N]) for text `tokens` [B, n], thought positions
  `at` [B, K] and the first S blocks `blocks` [B, S, K] (block s: token s of every position's
  thought block)."""
  b, n = tokens.shape
  k = at.shape[1]
  s = blocks.shape[1]
  real = tokens != pad_id
  base_pos = jnp.maximum(jnp.cumsum(real, axis=1) - 1, 0)
  ext = jnp.concatenate([tokens, blocks.reshape(b, s * k)], axis=1)
  step = jnp.repeat(jnp.arange(s), k)                          # [S*K] block step of each token
  owner = jnp.tile(jnp.arange(k), s)                           # [S*K] its thought position
  at_of = at[:, owner]                                         # [B, S*K] its text position
  positions = jnp.concatenate([base_pos, jnp.take_along_axis(base_pos, at_of, 1) + 1 + step], 1)
  text_keys = jnp.arange(n)
  causal = text_keys[None, :, None] >= text_keys[None, None, :]             # [1, n, n]
  text_rows = jnp.concatenate([jnp.broadcast_to(causal, (b, n, n)),
                               jnp.zeros((b, n, s * k), bool)], axis=2)
  block_text = text_keys[None, None, :] <= at_of[:, :, None]                # [B, S*K, n]
  block_block = ((owner[:, None] == owner[None, :]) & (step[None, :] <= step[:, None]))
  block_rows = jnp.concatenate([block_text, jnp.broadcast_to(block_block[None],
                                                             (b, s * k, s * k))], axis=2)
  mask = jnp.concatenate([text_rows, block_rows], axis=1)
  key_real = jnp.concatenate([real, blocks.reshape(b, s * k) != pad_id], axis=1)
  return ext, positions, mask & key_real[:, None, :]


def _noise(key, rows: int, k: int, step: int, vocab: int):
  """Gumbel noise [rows, K, V] of thought step `step`, one key per (row, position, step): the
  sampler's row-keyed noise (sampling.row_noise) with the row's key for the positions."""
  return jax.vmap(lambda r: sampling.row_noise(jax.random.fold_in(key, r), jnp.arange(k),
                                               jnp.full((k,), step), vocab))(jnp.arange(rows))


def _choose(logits, key, rows, k, step, cfg: QuietConfig):
  logits = logits.at[..., jnp.array(cfg.never, jnp.int32)].set(-jnp.inf) if cfg.never else logits
  if cfg.temperature == 0:
    return jnp.argmax(logits, -1).astype(jnp.int32)
  noise = _noise(key, rows, k, step, logits.shape[-1])
  return jnp.argmax(logits / cfg.temperature + noise, -1).astype(jnp.int32)


def forced(tokens: jax.Array, at: jax.Array, n_true: int, pad_id: int) -> jax.Array:
  """[B, n_true - 1, K]: x_{at+1} .. x_{at+n_true-1}, PAD past the row's end."""
  n = tokens.shape[1]
  idx = at[:, None, :] + jnp.arange(1, n_true)[None, :, None]
  got = jnp.take_along_axis(tokens, jnp.minimum(idx, n - 1).reshape(tokens.shape[0], -1), 1)
  return jnp.where(idx < n, got.reshape(idx.shape), pad_id)


@functools.partial(jax.jit, static_argnames=("graphdef", "cfg"))
def sample_thoughts(graphdef, params, tokens: jax.Array, at: jax.Array, key, cfg: QuietConfig):
  """Thoughts [B, K, m] at the positions `at` [B, K] of `tokens` [B, n], all positions at once:
  m passes over the layout, each sampling one more token of every position's thought."""
  b, k = at.shape
  pad = cfg.pad_id
  blocks = jnp.full((b, 1, k), cfg.start_id, jnp.int32)
  n = tokens.shape[1]
  for s in range(1, cfg.thought_len + 1):
    ext, positions, mask = layout(tokens, at, blocks, pad)
    logits = model_lib.apply(graphdef, params, ext, positions=positions, mask=mask).logits
    last = logits[:, n + (s - 1) * k: n + s * k]
    token = _choose(last, key, b, k, s, cfg)
    blocks = jnp.concatenate([blocks, token[:, None]], axis=1)
  return jnp.transpose(blocks[:, 1:], (0, 2, 1))


def sample_thought_alone(graphdef, params, tokens: np.ndarray, row: int, i: int, k: int, key,
                         cfg: QuietConfig) -> list[int]:
  """The thought of position i (the k-th thought position) of row `row`, sampled on its own: the
  text up to x_i, START and the thought so far, through the plain causal model, with the noise
  of (row, k, step). The reference the parallel sampler is tested against. Every call runs the
  model on one padded length (the causal model's logits at a position do not read the positions
  after it), so the reference compiles once rather than once per prefix length."""
  seq = list(np.asarray(tokens[row, :i + 1])) + [cfg.start_id]
  length = tokens.shape[1] + cfg.thought_len + 1
  out = []
  for s in range(1, cfg.thought_len + 1):
    padded = jnp.asarray([seq + [0] * (length - len(seq))], jnp.int32)
    logits = model_lib.apply(graphdef, params, padded).logits[0, len(seq) - 1]
    if cfg.never:
      logits = logits.at[jnp.array(cfg.never, jnp.int32)].set(-jnp.inf)
    if cfg.temperature == 0:
      token = int(jnp.argmax(logits))
    else:
      noise = jax.random.gumbel(jax.random.fold_in(jax.random.fold_in(jax.random.fold_in(
          key, row), k), s), logits.shape)
      token = int(jnp.argmax(logits / cfg.temperature + noise))
    out.append(token)
    seq.append(token)
  return out


def init_mixer(key, d_model: int) -> dict:
  """The mixing head: [h_base; h_post] -> ReLU(d) -> weight logit, its bias starting at -2 so
  that a new mixer trusts the plain prediction (w ~ 0.12) until thoughts earn weight."""
  k1, k2 = jax.random.split(key)
  return {"w1": jax.random.normal(k1, (2 * d_model, d_model)) * (2 * d_model) ** -0.5,
          "b1": jnp.zeros((d_model,)),
          "w2": jax.random.normal(k2, (d_model, 1)) * d_model ** -0.5 * 0.1,
          "b2": jnp.full((1,), -2.0)}


def mix_weight(mixer: dict, h_base, h_post):
  h = jnp.concatenate([h_base, h_post], -1)
  return jax.nn.sigmoid(jax.nn.relu(h @ mixer["w1"] + mixer["b1"]) @ mixer["w2"] + mixer["b2"])[
      ..., 0]


def talk(graphdef, params, tokens, loss_mask, at, thoughts, cfg: QuietConfig) -> dict:
  """One pass over the full layout. params = {"model", "mixer"}. Returns, each [B, n_true, K]
  over (true token j after the thought, thought position): `mixed` and `plain` log p of the
  true token (with and without the thought), `mixed_hit` and `plain_hit` (it is the argmax),
  `valid` (a trained token inside the row), the mixing weight `w`; and `thought_logp` [B, K]."""
  b, n = tokens.shape
  k, m = at.shape[1], cfg.thought_len
  pad = cfg.pad_id
  start = jnp.full((b, 1, k), cfg.start_id, jnp.int32)
  end = jnp.full((b, 1, k), cfg.end_id, jnp.int32)
  blocks = jnp.concatenate([start, jnp.transpose(thoughts, (0, 2, 1)), end,
                            forced(tokens, at, cfg.n_true, pad)], axis=1)   # [B, L, K]
  ext, positions, mask = layout(tokens, at, blocks, pad)
  out = model_lib.apply(graphdef, params["model"], ext, positions=positions, mask=mask)
  logits, hidden = out.logits, out.hidden
  assert hidden is not None  # apply returns the final hidden states
  block_logits = logits[:, n:].reshape(b, cfg.blocks, k, -1)
  block_hidden = hidden[:, n:].reshape(b, cfg.blocks, k, -1)
  # The thought's log-prob: block step s - 1 predicts thought token s (at temperature 1).
  lp = jax.nn.log_softmax(block_logits[:, :m], -1)
  thought_logp = jnp.take_along_axis(lp, jnp.transpose(thoughts, (0, 2, 1))[..., None],
                                     -1)[..., 0].sum(1)                     # [B, K]
  j = jnp.arange(1, cfg.n_true + 1)
  target_idx = at[:, None, :] + j[None, :, None]                            # [B, n_true, K]
  inside = target_idx < n
  flat = lambda x: jnp.minimum(x, n - 1).reshape(b, -1)
  targets = jnp.take_along_axis(tokens, flat(target_idx), 1).reshape(target_idx.shape)
  valid = inside & (jnp.take_along_axis(loss_mask, flat(target_idx), 1).reshape(
      target_idx.shape) > 0)
  base_idx = flat(target_idx - 1)
  base_logits = jnp.take_along_axis(logits[:, :n], base_idx[..., None], 1).reshape(
      target_idx.shape + (-1,))
  base_hidden = jnp.take_along_axis(hidden[:, :n], base_idx[..., None], 1).reshape(
      target_idx.shape + (-1,))
  post_logits = block_logits[:, m + 1:]                                     # [B, n_true, K, V]
  post_hidden = block_hidden[:, m + 1:]
  w = mix_weight(params["mixer"], base_hidden, post_hidden)
  mixed = jax.nn.log_softmax(w[..., None] * post_logits + (1 - w[..., None]) * base_logits, -1)
  plain = jax.nn.log_softmax(base_logits, -1)
  pick = lambda lp: jnp.take_along_axis(lp, targets[..., None], -1)[..., 0]
  return {"mixed": pick(mixed), "plain": pick(plain), "valid": valid.astype(jnp.float32),
          "mixed_hit": jnp.argmax(mixed, -1) == targets,
          "plain_hit": jnp.argmax(plain, -1) == targets, "w": w, "thought_logp": thought_logp}


def loss(graphdef, params, batch, cfg: QuietConfig):
  """NLL of the mixed prediction of the n_true true tokens after every thought, plus REINFORCE
  on the thoughts with the group-mean baseline. batch: tokens, loss_mask [B, n], at [B, K],
  thoughts [B, K, m], with B = groups x G consecutive copies."""
  out = talk(graphdef, params, batch["tokens"], batch["loss_mask"], batch["at"],
             batch["thoughts"], cfg)
  true_logp, valid, thought_logp, w = out["mixed"], out["valid"], out["thought_logp"], out["w"]
  nll = -(true_logp * valid).sum() / jnp.maximum(valid.sum(), 1.0)
  reward = jax.lax.stop_gradient((true_logp * valid).sum(1))                # [B, K]
  grouped = reward.reshape(-1, cfg.thoughts, reward.shape[-1])
  advantage = (grouped - grouped.mean(1, keepdims=True)).reshape(reward.shape)
  scored = (valid.sum(1) > 0).astype(jnp.float32)
  policy = -(advantage * thought_logp * scored).sum() / jnp.maximum(scored.sum(), 1.0)
  total = nll + cfg.policy_weight * policy
  return total, {"loss": total, "nll": nll, "policy_loss": policy,
                 "mix_weight": (w * valid).sum() / jnp.maximum(valid.sum(), 1.0),
                 "advantage_abs": (jnp.abs(advantage) * scored).sum() / jnp.maximum(
                     scored.sum(), 1.0)}


def make_train_step(graphdef, tx: optax.GradientTransformation, cfg: QuietConfig):
  """A jitted `train_step(state, batch) -> (state, metrics)` on `loss` (state.make_step: the
  state, {"model", "mixer"} parameters and their optimizer state, is donated)."""
  return make_step(lambda params, batch: loss(graphdef, params, batch, cfg), tx)


@functools.partial(jax.jit, static_argnames=("graphdef", "cfg"))
def answer_scores(graphdef, params, tokens, loss_mask, at, key, cfg: QuietConfig) -> dict:
  """Per row, a thought sampled at every answer position (the K positions `at` cover the
  answer): the answer's log-likelihood and exact match (every answer token the argmax, teacher
  forced: what greedy decoding with thoughts writes), with the mixed prediction and with the
  plain one. {"mixed_logp", "plain_logp", "mixed_exact", "plain_exact"}: [B] each."""
  thoughts = sample_thoughts(graphdef, params["model"], tokens, at, key, cfg)
  out = talk(graphdef, params, tokens, loss_mask, at, thoughts, cfg)
  valid = out["valid"][:, 0] > 0  # next-token prediction (j = 1) at each answer position
  total = lambda x: jnp.where(valid, x, 0.0).sum(-1)
  exact = lambda hit: jnp.all(hit | ~valid, -1)
  return {"mixed_logp": total(out["mixed"][:, 0]), "plain_logp": total(out["plain"][:, 0]),
          "mixed_exact": exact(out["mixed_hit"][:, 0]),
          "plain_exact": exact(out["plain_hit"][:, 0]), "thoughts": thoughts}

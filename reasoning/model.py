"""A decoder-only transformer with three heads, in flax NNX used functionally.

  graphdef, params = init(config, key)           # params: a plain dict pytree
  out = apply(graphdef, params, tokens)          # Output(logits, value, reward, cache=None)
  cache = init_cache(config, batch, length)
  out = apply(graphdef, params, tokens, cache=cache)   # writes K/V, returns out.cache

RMSNorm, rotary positions, SwiGLU (or GELU) MLP, grouped-query causal attention, tied or untied
embeddings. Heads: `logits` [B, T, V] for the policy, `value` [B, T] for PPO's critic and MCTS
leaves, `reward` [B, T] for an ORM/PRM logit. Positions come from the padding mask, so left-padded
prompts and right-padded training sequences take the same path.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx, struct

from reasoning.text import BOS, PAD, VOCAB


ATTENTION = ("einsum", "xla", "cudnn")
REMAT = ("none", "full", "dots")


@dataclasses.dataclass(frozen=True)
class ModelConfig:
  vocab_size: int
  d_model: int = 128
  n_layers: int = 4
  n_heads: int = 4
  n_kv_heads: int = 4
  d_ff: int = 384
  max_len: int = 256
  mlp: str = "swiglu"  # 'swiglu' | 'gelu'
  tie_embeddings: bool = True
  rope_theta: float = 10_000.0
  # RoPE frequency scaling as sorted (name, value) pairs (hashable: the config is static in the
  # graphdef): () for none; (("factor", f), ("rope_type", "linear")); or Llama 3.1's
  # (("factor", 8.0), ("high_freq_factor", 4.0), ("low_freq_factor", 1.0),
  #  ("original_max_position_embeddings", 8192), ("rope_type", "llama3")).
  rope_scaling: tuple = ()
  norm_eps: float = 1e-6
  embed_scale: bool = True   # multiply embeddings by sqrt(d_model) (Llama/Qwen2 do not)
  attn_bias: bool = False    # biases on the q/k/v projections (Qwen2)
  # The id that marks padding: the character vocabulary's PAD, or text.NOT_A_TOKEN (-1) for a
  # real tokenizer, whose own pad token (often its EOS or end-of-turn token) appears inside chat
  # prompts and must be attended to like any other token.
  pad_id: int = PAD
  bos_id: int | None = BOS   # the prompt's first token (None: the model has none, e.g. Qwen2)
  eos_id: int | None = None  # the end token, always generable even where it is also BOS
  dtype: str = "float32"  # compute dtype: 'float32' | 'bfloat16'
  # The parameters' (and so the optimizer state's) dtype: 'bfloat16' halves their memory and
  # trains in pure bf16 (updates rounded to bf16); the computation follows `dtype`.
  param_dtype: str = "float32"
  # How attention is computed: 'einsum' (our kernel-free path, tuned for CPU decoding), or
  # jax.nn.dot_product_attention with implementation 'xla' or 'cudnn' (flash attention on GPU).
  attention: str = "einsum"
  # Gradient checkpointing of each block in full passes (training; decoding is unaffected):
  # 'none' keeps every activation for the backward pass; 'full' keeps each block's input and
  # recomputes the rest; 'dots' also keeps the matmul outputs
  # (jax.checkpoint_policies.dots_with_no_batch_dims_saveable).
  remat: str = "none"
  # Positions per chunk where a trainer computes next-token statistics (next_token_stats): the
  # [B, T, V] float32 logits are never materialized, only [B, chunk, V] at a time, recomputed in
  # the backward pass (a 152k vocabulary's logits are 10 GB at batch 32 x 512). 0: all at once.
  logits_chunk: int = 0

  def __post_init__(self):
    if self.d_model % self.n_heads:
      raise ValueError(f"model.d_model={self.d_model} is not divisible by n_heads={self.n_heads}")
    if self.n_heads % self.n_kv_heads:
      raise ValueError(f"model.n_heads={self.n_heads} is not a multiple of n_kv_heads={self.n_kv_heads}")
    if (self.d_model // self.n_heads) % 2:
      raise ValueError("model head dim d_model/n_heads must be even for rotary embeddings")
    if self.mlp not in ("swiglu", "gelu"):
      raise ValueError(f"model.mlp must be 'swiglu' or 'gelu', got {self.mlp!r}")
    if dict(self.rope_scaling).get("rope_type", "linear") not in ("linear", "llama3"):
      raise ValueError(f"model.rope_scaling={self.rope_scaling!r}: rope_type must be 'linear' or "
                       f"'llama3'")
    if self.dtype not in ("float32", "bfloat16"):
      raise ValueError(f"model.dtype must be 'float32' or 'bfloat16', got {self.dtype!r}")
    if self.param_dtype not in ("float32", "bfloat16"):
      raise ValueError(f"model.param_dtype must be 'float32' or 'bfloat16', got "
                       f"{self.param_dtype!r}")
    if self.attention not in ATTENTION:
      raise ValueError(f"model.attention must be one of {ATTENTION}, got {self.attention!r}")
    if self.remat not in REMAT:
      raise ValueError(f"model.remat must be one of {REMAT}, got {self.remat!r}")
    if self.logits_chunk < 0:
      raise ValueError(f"model.logits_chunk must be >= 0, got {self.logits_chunk}")

  @property
  def never_generated(self) -> tuple[int, ...]:
    """Token ids in the vocabulary the policy never emits: padding (where it is a vocabulary id,
    the character vocabulary's PAD) and BOS (see sampling.generate), but never EOS: Qwen2's BOS
    is its EOS, and its rows must still be able to end."""
    ids = {self.pad_id} | ({self.bos_id} if self.bos_id is not None else set())
    return tuple(sorted(i for i in ids - {self.eos_id} if 0 <= i < self.vocab_size))

  @property
  def head_dim(self) -> int:
    return self.d_model // self.n_heads

  @property
  def compute_dtype(self):
    return jnp.dtype(self.dtype)


@dataclasses.dataclass(frozen=True)
class Model:
  """A model used functionally: `apply(graphdef, params, ...)`, described by `cfg`, over the
  vocabulary `vocab` (the char vocabulary, or a real tokenizer: reasoning/tokenizer.py)."""
  graphdef: Any
  params: Any
  cfg: ModelConfig
  vocab: Any = VOCAB


@struct.dataclass
class Cache:
  """Preallocated K/V: k, v are tuples of L arrays [B, Hkv, S, Dh] (one buffer per layer, so XLA
  updates each in place inside the decode loop); valid: [B, S] slot holds a token; pos: [B] next
  position of each row; end: [] next free slot shared by all rows, or [B] one per row (rows that
  started at different times: sampling's slot engine refills a finished row with a new prompt)."""
  k: tuple
  v: tuple
  valid: jax.Array
  pos: jax.Array
  end: jax.Array


@struct.dataclass
class Output:
  logits: jax.Array  # [B, T, V] float32
  value: jax.Array   # [B, T] float32
  reward: jax.Array  # [B, T] float32 (a logit: sigmoid gives P(correct))
  cache: Cache | None = None
  hidden: jax.Array | None = None  # [B, T, D] the final normed hidden states (heads' input)


def rope_frequencies(head_dim: int, theta: float, scaling: tuple = ()) -> np.ndarray:
  """The inverse frequencies [head_dim/2] of the rotary embedding, float64 on the host (static),
  with 'linear' or Llama 3.1's 'llama3' scaling as transformers computes them."""
  half = head_dim // 2
  freq = theta ** (-np.arange(half, dtype=np.float64) / half)
  rope = dict(scaling)
  if not rope:
    return freq
  factor = float(rope["factor"])
  if rope.get("rope_type", "linear") == "linear":
    return freq / factor
  # llama3: long wavelengths slowed by `factor`, short ones kept, a smooth blend in between.
  old_len = float(rope["original_max_position_embeddings"])
  low, high = float(rope["low_freq_factor"]), float(rope["high_freq_factor"])
  wavelen = 2 * np.pi / freq
  scaled = np.where(wavelen > old_len / low, freq / factor, freq)
  smooth = (old_len / wavelen - low) / (high - low)
  blended = (1 - smooth) * scaled / factor + smooth * scaled
  medium = (wavelen >= old_len / high) & (wavelen <= old_len / low)
  return np.where(medium, blended, scaled)


def rope_angles(positions: jax.Array, head_dim: int, theta: float, scaling: tuple = ()):
  """(sin, cos) [B, 1, T, head_dim/2] of the rotary angles of positions [B, T], computed once per
  forward pass and shared by every layer."""
  freq = jnp.asarray(rope_frequencies(head_dim, theta, scaling), jnp.float32)
  angle = positions[:, None, :, None].astype(jnp.float32) * freq
  return jnp.sin(angle), jnp.cos(angle)


def rope(x: jax.Array, angles) -> jax.Array:
  """Rotary embedding of x [B, H, T, D] by `rope_angles` of its positions."""
  sin, cos = angles
  x1, x2 = jnp.split(x.astype(jnp.float32), 2, axis=-1)
  return jnp.concatenate([x1 * cos - x2 * sin, x2 * cos + x1 * sin], -1).astype(x.dtype)


class Attention(nnx.Module):
  def __init__(self, cfg: ModelConfig, rngs: nnx.Rngs):
    self.cfg = cfg
    dense = lambda i, o, bias=False: nnx.Linear(i, o, use_bias=bias, dtype=cfg.compute_dtype,
                                                rngs=rngs)
    self.q = dense(cfg.d_model, cfg.n_heads * cfg.head_dim, cfg.attn_bias)
    self.kv = dense(cfg.d_model, 2 * cfg.n_kv_heads * cfg.head_dim, cfg.attn_bias)
    self.o = dense(cfg.n_heads * cfg.head_dim, cfg.d_model)

  def __call__(self, x, angles, mask, cache=None):
    """x: [B, T, D]; angles: rope_angles of the positions; mask: [B, T, S] keys each query may
    see; cache: (k, v, end) with k, v
    [B, Hkv, S, Dh] of this layer, written at [:, :, end:end+T]. Returns (out, cache)."""
    cfg = self.cfg
    kvh, groups, hd = cfg.n_kv_heads, cfg.n_heads // cfg.n_kv_heads, cfg.head_dim
    dt = cfg.compute_dtype
    b, t, d = x.shape
    # Plain 2-D matmuls against the kernels as stored: XLA:CPU does not hoist loop-invariant code
    # out of a while loop, so a reshaped or sliced kernel (an einsum straight into head-major
    # layout made XLA transpose wq and wo, and k/v were slices of wkv) was copied again at every
    # decoded token (~15% of a batch-64 decode step). The heads are split from the activations
    # instead: at decode (T = 1) those transposes are free; in training the step time is unchanged.
    x2 = x.astype(dt).reshape(b * t, d)
    q = x2 @ self.q.kernel[...].astype(dt)
    kv = x2 @ self.kv.kernel[...].astype(dt)
    if cfg.attn_bias:
      q = q + self.q.bias[...].astype(dt)
      kv = kv + self.kv.bias[...].astype(dt)
    # q as [B, Hkv, G, T, Dh], k and v as [B, Hkv, T, Dh]: a head's keys and values rows are
    # contiguous, which makes decode attention (one query against the whole cache, memory-bound)
    # about 5x faster on CPU than [B, S, H, D].
    q = q.reshape(b, t, kvh, groups, hd).transpose(0, 2, 3, 1, 4)
    k, v = kv.reshape(b, t, 2, kvh, hd).transpose(2, 0, 3, 1, 4)
    q = rope(q, tuple(a[:, :, None] for a in angles)) / jnp.asarray(math.sqrt(hd), dt)
    k = rope(k, angles)
    if cache is not None:
      k_cache, v_cache, end = cache
      k, v = (_write(c, x.astype(c.dtype), end, 2) for c, x in ((k_cache, k), (v_cache, v)))
      cache = (k, v, end)
    k, v = k.astype(dt), v.astype(dt)
    if cfg.attention == "einsum":
      scores = jnp.einsum("bkgtd,bksd->bkgts", q, k).astype(jnp.float32)
      scores = jnp.where(mask[:, None, None], scores, -1e30)
      probs = jax.nn.softmax(scores, axis=-1).astype(dt)
      out = jnp.einsum("bkgts,bksd->bkgtd", probs, v).transpose(0, 3, 1, 2, 4)
    else:  # [B, T, N, Dh] queries, [B, S, K, Dh] keys: query head k*G + g reads kv head k
      out = jax.nn.dot_product_attention(
          q.transpose(0, 3, 1, 2, 4).reshape(b, t, kvh * groups, hd), k.transpose(0, 2, 1, 3),
          v.transpose(0, 2, 1, 3), mask=mask[:, None], scale=1.0, implementation=cfg.attention)
    out = out.reshape(b * t, -1)
    return (out @ self.o.kernel[...].astype(dt)).reshape(b, t, -1), cache


def _write(buffer: jax.Array, x: jax.Array, end: jax.Array, axis: int) -> jax.Array:
  """`buffer` [B, ...] with x written along `axis` from slot `end` on: one slot for every row
  (end []) or one per row (end [B])."""
  if end.ndim == 0:
    return jax.lax.dynamic_update_slice_in_dim(buffer, x, end, axis)
  return jax.vmap(lambda b, u, e: jax.lax.dynamic_update_slice_in_dim(b, u, e, axis - 1))(
      buffer, x, end)


@jax.custom_vjp
def swiglu(x: jax.Array, w_up: jax.Array, w_down: jax.Array) -> jax.Array:
  """(silu(x @ w_up[:, :F]) * (x @ w_up[:, F:])) @ w_down for x [N, D], w_up [D, 2F], w_down
  [F, D]: for many rows, two matmuls on the kernel's halves (splitting a [N, 2F] activation costs
  a copy); for decode-sized inputs, one.

  The backward pass is written by hand: autodiff's makes XLA:CPU emit the gate's gradient
  transposed from inside the silu-derivative fusion, and this one makes the default model's
  training step ~17% faster on CPU (measured A/B, same process; scripts/bench.py)."""
  return _swiglu_fwd(x, w_up, w_down)[0]


def _swiglu_fwd(x, w_up, w_down):
  f = w_up.shape[1] // 2
  if x.shape[0] <= 1024:
    # Few rows (decoding): one matmul, then split the small activation. Slicing the kernel's
    # halves is a copy of the kernel, which XLA:CPU would redo at every token of a decode loop.
    h = x @ w_up
    gate, up = h[:, :f], h[:, f:]
  else:
    gate, up = x @ w_up[:, :f], x @ w_up[:, f:]
  sig = jax.nn.sigmoid(gate)
  act = gate * sig * up
  return act @ w_down, (x, w_up, w_down, gate, up, sig, act)


def _swiglu_bwd(res, dy):
  x, w_up, w_down, gate, up, sig, act = res
  d_act = dy @ w_down.T
  d_gate = d_act * up * sig * (1 + gate * (1 - sig))  # silu'(g) = sig * (1 + g * (1 - sig))
  d_up = d_act * gate * sig
  d_h = jnp.concatenate([d_gate, d_up], axis=1)
  return d_h @ w_up.T, x.T @ d_h, act.T @ dy


swiglu.defvjp(_swiglu_fwd, _swiglu_bwd)


class MLP(nnx.Module):
  def __init__(self, cfg: ModelConfig, rngs: nnx.Rngs):
    self.gated = cfg.mlp == "swiglu"
    dense = lambda i, o: nnx.Linear(i, o, use_bias=False, dtype=cfg.compute_dtype, rngs=rngs)
    self.up = dense(cfg.d_model, (2 if self.gated else 1) * cfg.d_ff)
    self.down = dense(cfg.d_ff, cfg.d_model)

  def __call__(self, x):
    if self.gated:
      w = self.up.kernel[...].astype(self.up.dtype)
      y = swiglu(x.astype(w.dtype).reshape(-1, x.shape[-1]), w,
                 self.down.kernel[...].astype(w.dtype))
      return y.reshape(*x.shape[:-1], y.shape[-1])
    return self.down(jax.nn.gelu(self.up(x)))


class Block(nnx.Module):
  def __init__(self, cfg: ModelConfig, rngs: nnx.Rngs):
    norm = lambda: nnx.RMSNorm(cfg.d_model, epsilon=cfg.norm_eps, dtype=cfg.compute_dtype, rngs=rngs)
    self.attn_norm, self.attn = norm(), Attention(cfg, rngs)
    self.mlp_norm, self.mlp = norm(), MLP(cfg, rngs)

  def __call__(self, x, angles, mask, cache=None):
    h, cache = self.attn(self.attn_norm(x), angles, mask, cache)
    x = x + h
    return x + self.mlp(self.mlp_norm(x)), cache


class Transformer(nnx.Module):
  """One class for policy, value and reward models; which heads a trainer reads is its choice."""

  def __init__(self, cfg: ModelConfig, rngs: nnx.Rngs):
    self.cfg = cfg
    self.embed = nnx.Embed(cfg.vocab_size, cfg.d_model, dtype=cfg.compute_dtype, rngs=rngs,
                           embedding_init=nnx.initializers.normal(cfg.d_model**-0.5))
    # Named attributes rather than a list keep parameter paths plain strings for orbax.
    for i in range(cfg.n_layers):
      setattr(self, f"block_{i}", Block(cfg, rngs))
    self.final_norm = nnx.RMSNorm(cfg.d_model, epsilon=cfg.norm_eps, dtype=cfg.compute_dtype,
                                  rngs=rngs)
    if not cfg.tie_embeddings:
      self.lm_head = nnx.Linear(cfg.d_model, cfg.vocab_size, use_bias=False,
                                dtype=cfg.compute_dtype, rngs=rngs)
    self.value_head = nnx.Linear(cfg.d_model, 1, dtype=cfg.compute_dtype, rngs=rngs)
    self.reward_head = nnx.Linear(cfg.d_model, 1, dtype=cfg.compute_dtype, rngs=rngs)

  def __call__(self, tokens, positions, mask, cache: Cache | None = None):
    # Padding may be marked by an id outside the vocabulary (NOT_A_TOKEN): it reads row 0, and
    # the mask keeps every real position from attending to it.
    x = self.embed(jnp.where(tokens == self.cfg.pad_id, 0, tokens))
    if self.cfg.embed_scale:
      x = x * jnp.asarray(math.sqrt(self.cfg.d_model), self.cfg.compute_dtype)
    new_k, new_v = [], []
    angles = rope_angles(positions, self.cfg.head_dim, self.cfg.rope_theta, self.cfg.rope_scaling)
    for i in range(self.cfg.n_layers):
      block = getattr(self, f"block_{i}")
      if cache is None and self.cfg.remat != "none":
        x, layer_cache = _rematted(self.cfg.remat)(block, x, angles, mask)
        continue
      layer_cache = None if cache is None else (cache.k[i], cache.v[i], cache.end)
      x, layer_cache = block(x, angles, mask, layer_cache)
      if layer_cache is not None:
        new_k.append(layer_cache[0])
        new_v.append(layer_cache[1])
    x = self.final_norm(x)
    logits = self.unembed(x)
    value = self.value_head(x)[..., 0].astype(jnp.float32)
    reward = self.reward_head(x)[..., 0].astype(jnp.float32)
    return logits, value, reward, (tuple(new_k), tuple(new_v)), x

  def unembed(self, x):
    """Logits of final hidden states x [..., D] (the output head, or the tied embedding)."""
    return (self.embed.attend(x) if self.cfg.tie_embeddings else self.lm_head(x)).astype(jnp.float32)


def _rematted(kind: str):
  """A block call `(block, x, angles, mask) -> (x, None)` under gradient checkpointing."""
  policy = None if kind == "full" else jax.checkpoint_policies.dots_with_no_batch_dims_saveable
  return nnx.remat(lambda block, x, angles, mask: block(x, angles, mask), policy=policy)


def init(cfg: ModelConfig, key: jax.Array):
  """Returns (graphdef, params): params is a plain nested dict of `cfg.param_dtype` arrays."""
  graphdef, state = nnx.split(Transformer(cfg, nnx.Rngs(params=key)))
  return graphdef, cast_params(nnx.to_pure_dict(state), cfg)


def abstract_init(cfg: ModelConfig):
  """(graphdef, params) with params as jax.ShapeDtypeStructs: the shapes a checkpoint restores
  into, without spending the memory and time of a random initialization (a 7B model's 28 GB)."""
  graphdef, state = nnx.split(nnx.eval_shape(lambda: Transformer(cfg, nnx.Rngs(params=0))))
  params = nnx.to_pure_dict(state)
  dtype = jnp.dtype(cfg.param_dtype)
  return graphdef, jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, dtype), params)


def cast_params(params, cfg: ModelConfig):
  """`params` in `cfg.param_dtype` (a no-op for float32 parameters of a float32 model)."""
  dtype = jnp.dtype(cfg.param_dtype)
  return jax.tree.map(lambda x: x if x.dtype == dtype else x.astype(dtype), params)


def init_cache(cfg: ModelConfig, batch: int, length: int, dtype=None) -> Cache:
  if length > cfg.max_len:
    raise ValueError(f"cache length {length} exceeds model.max_len={cfg.max_len}")
  shape = (batch, cfg.n_kv_heads, length, cfg.head_dim)
  dtype = dtype or cfg.compute_dtype
  zeros = tuple(jnp.zeros(shape, dtype) for _ in range(cfg.n_layers))
  return Cache(k=zeros, v=zeros,
               valid=jnp.zeros((batch, length), bool), pos=jnp.zeros((batch,), jnp.int32),
               end=jnp.zeros((), jnp.int32))


@functools.partial(jax.jit, static_argnums=0)
def apply(graphdef, params, tokens: jax.Array, *, cache: Cache | None = None,
          segments: jax.Array | None = None, positions: jax.Array | None = None,
          mask: jax.Array | None = None) -> Output:
  """Runs the model on tokens [B, T] int32; positions holding config.pad_id are padding, masked
  out everywhere (an id no text encodes to: PAD, or NOT_A_TOKEN for real tokenizers, so a
  prompt may hold the model's EOS or end-of-turn token anywhere).

  Without a cache: full causal attention over the T tokens. With a cache: the T tokens go to
  slots [cache.end, cache.end + T) and attend to every earlier valid slot; the updated cache is
  returned in `Output.cache`. `segments` [B, T] (no cache) packs several sequences in a row:
  tokens attend only within their segment (ids > 0, contiguous; 0 = padding) and positions
  restart at each segment, so a packed row computes what its sequences would alone.
  `positions` [B, T] and `mask` [B, T, T] (no cache, no segments) give each token's position
  and the keys each query attends to outright: layouts beyond one causal sequence, such as a
  thought at every position (reasoning/train/quiet_star.py).

  Jitted with the graphdef static: called eagerly (tests, scripts, references) the pass compiles
  once per shape rather than running op by op; inside another jit it is traced into the caller.
  """
  model = nnx.merge(graphdef, params)
  real = tokens != model.cfg.pad_id
  t = tokens.shape[1]
  if (positions is None) != (mask is None) or (mask is not None and (
      cache is not None or segments is not None)):
    raise ValueError("apply: positions and mask go together, in a full pass without segments")
  if mask is not None:
    pass
  elif cache is None and segments is not None:
    index = jnp.arange(t)
    starts = jnp.concatenate([jnp.ones_like(segments[:, :1], bool),
                              segments[:, 1:] != segments[:, :-1]], axis=1)
    positions = index - jax.lax.cummax(jnp.where(starts, index, 0), axis=1)
    same = (segments[:, :, None] == segments[:, None, :]) & (segments[:, None, :] > 0)
    mask = jnp.tril(jnp.ones((t, t), bool))[None] & same
  elif cache is None:
    positions = jnp.maximum(jnp.cumsum(real, axis=1) - 1, 0)
    causal = jnp.tril(jnp.ones((t, t), bool))
    mask = causal[None] & real[:, None, :]
  else:
    if segments is not None:
      raise ValueError("apply: segments (packing) is for full passes, not cached decoding")
    positions = cache.pos[:, None] + jnp.maximum(jnp.cumsum(real, axis=1) - 1, 0)
    valid = _write(cache.valid, real, cache.end, 1)
    slots = jnp.arange(cache.valid.shape[1])
    query_slots = cache.end.reshape(-1, 1) + jnp.arange(t)  # [1 or B, T]
    mask = (slots <= query_slots[:, :, None]) & valid[:, None, :]
  # A PAD query may see no key at all; the finite -1e30 mask keeps its softmax well defined and
  # its outputs are never used.
  logits, value, reward, kv, hidden = model(tokens, positions, mask, cache)
  new_cache = None
  if cache is not None:
    new_cache = Cache(k=kv[0], v=kv[1], valid=valid,
                      pos=cache.pos + real.sum(axis=1).astype(jnp.int32), end=cache.end + t)
  return Output(logits, value, reward, new_cache, hidden)


class TokenStats(NamedTuple):
  """Next-token statistics of a full pass, each [B, T-1] at position t (predicting t+1)."""
  logp: jax.Array     # log p(tokens[:, t+1] | tokens[:, :t+1])
  entropy: jax.Array  # entropy of the next-token distribution
  argmax: jax.Array   # int32: the most likely next token
  value: jax.Array    # the value head at t


def next_token_stats(graphdef, params, tokens: jax.Array, *, segments: jax.Array | None = None,
                     exclude: tuple[int, ...] = (), start: int = 0) -> TokenStats:
  """TokenStats of tokens [B, T] under the model, with the ids in `exclude` removed from the
  distribution (a policy's never-generated tokens). With `cfg.logits_chunk` = c in (0, T-1)
  the logits are computed c positions at a time from the final hidden states inside a
  rematerialized `lax.map`, so neither the forward nor the backward pass holds more than
  [B, c, V] of them; the statistics are the same (tested). `start` > 0 (static): only the
  predictions of tokens[:, start + 1:] ([B, T-1-start]; an RL batch's generated tokens after
  its prompt), so the output head never runs on the positions before (transformers'
  `logits_to_keep`: with a large vocabulary the head is a large share of a forward pass)."""
  out = apply(graphdef, params, tokens, segments=segments)
  hidden = out.hidden
  assert hidden is not None  # apply returns the final hidden states
  model = nnx.merge(graphdef, params)
  targets = jnp.where(tokens[:, 1:] == model.cfg.pad_id, 0, tokens[:, 1:])  # padding: id 0
  targets = targets[:, start:]

  def stats(logits, y):
    if exclude:
      logits = logits.at[..., jnp.array(exclude, jnp.int32)].set(-1e30)
    logp = jax.nn.log_softmax(logits)
    chosen = jnp.take_along_axis(logp, y[..., None], axis=-1)[..., 0]
    entropy = -(jnp.exp(logp) * logp).sum(-1)
    return chosen, entropy, jnp.argmax(logits, -1).astype(jnp.int32)

  b, t = targets.shape
  chunk = model.cfg.logits_chunk
  if (not chunk or chunk >= t) and not start:
    logp, entropy, argmax = stats(out.logits[:, :-1], targets)
  elif not chunk or chunk >= t:  # under jit the full logits above are never computed
    logp, entropy, argmax = stats(model.unembed(hidden[:, start:-1]), targets)
  else:
    n = -(-t // chunk)
    split = lambda x: jnp.pad(x, [(0, 0), (0, n * chunk - t)] + [(0, 0)] * (x.ndim - 2)).reshape(
        (b, n, chunk) + x.shape[2:]).swapaxes(0, 1)
    body = jax.checkpoint(lambda h, y: stats(model.unembed(h), y))
    parts = jax.lax.map(lambda a: body(*a), (split(hidden[:, start:-1]), split(targets)))
    logp, entropy, argmax = (x.swapaxes(0, 1).reshape(b, n * chunk)[:, :t] for x in parts)
  return TokenStats(logp, entropy, argmax, out.value[:, start:-1])


def count_params(params) -> int:
  return sum(x.size for x in jax.tree.leaves(params))


def favoring(params, token: int, logit_gap: float):
  """Params of the same shapes (the same compute per token) whose next token, after any input,
  has a logit `logit_gap` above every other token's, all others equal: the blocks output zero,
  so the final hidden state is the normalized all-ones embedding, every token's logit is d_model
  (tied embeddings) and `token`'s row, scaled by 1 + gap / d_model, adds the gap."""
  params = jax.tree.map(lambda x: x, params)
  for name, block in params.items():
    if name.startswith("block_"):
      block["attn"]["o"]["kernel"] = jnp.zeros_like(block["attn"]["o"]["kernel"])
      block["mlp"]["down"]["kernel"] = jnp.zeros_like(block["mlp"]["down"]["kernel"])
  emb = jnp.ones_like(params["embed"]["embedding"])
  params["embed"]["embedding"] = emb.at[token].multiply(1 + logit_gap / emb.shape[1])
  return params

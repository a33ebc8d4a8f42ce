"""Jitted batched generation with a preallocated KV cache: prefill, then one `lax.while_loop`.

  samples = generate(graphdef, params, prompts, key, max_new=64, stop="answer", temperature=1.0)

`prompts` are left-padded ([PAD..., BOS, prompt], see text.pad_prompts) so every row writes the
same cache slot each step. A row stops after it emits EOS (stop="answer") or, with stop="step",
also after a newline: searchers extend a prefix one reasoning step at a time. The loop ends when
every row is done or after `max_new` tokens; finished rows emit PAD.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from flax import nnx, struct
from jax.sharding import PartitionSpec as P

from reasoning import mesh as mesh_lib, model as model_lib
from reasoning.text import VOCAB, Specials


@struct.dataclass
class Samples:
  tokens: jax.Array    # [B, max_new] int32, PAD after the stop token
  logprobs: jax.Array  # [B, max_new] float32: log pi(token) under the model at temperature 1,
                       # with PAD and BOS (never generated) removed from its support
  lengths: jax.Array   # [B] int32 tokens emitted, the stop token included
  done: jax.Array      # [B] bool: stopped by EOS (or newline for stop="step"), not by max_new


def filter_logits(logits: jax.Array, *, temperature: float, top_k: int, top_p: float) -> jax.Array:
  """Logits [B, V] of the sampling distribution: temperature, then top-k, then top-p (nucleus)."""
  logits = logits / temperature
  if top_k > 0:
    kth = jax.lax.top_k(logits, top_k)[0][:, -1:]
    logits = jnp.where(logits < kth, -jnp.inf, logits)
  if top_p < 1.0:
    sorted_logits = jnp.sort(logits, axis=-1)[:, ::-1]
    probs = jax.nn.softmax(sorted_logits, axis=-1)
    # Keep the smallest prefix whose mass reaches top_p: a token is kept if the mass before it < p.
    keep = jnp.cumsum(probs, axis=-1) - probs < top_p
    cutoff = jnp.min(jnp.where(keep, sorted_logits, jnp.inf), axis=-1, keepdims=True)
    logits = jnp.where(logits < cutoff, -jnp.inf, logits)
  return logits


def next_tokens(logits, key, *, temperature: float, top_k: int, top_p: float,
                rows: tuple | None = None) -> jax.Array:
  """tokens [B] from logits [B, V]; temperature 0 is greedy. `rows` = (first, total): these B
  rows are rows [first, first + B) of a batch of `total` split over devices; each takes its own
  rows of the whole batch's Gumbel noise, so the tokens equal the unsplit batch's
  (jax.random.categorical is the argmax of logits plus that noise)."""
  if temperature == 0.0:
    return jnp.argmax(logits, axis=-1).astype(jnp.int32)
  filtered = filter_logits(logits, temperature=temperature, top_k=top_k, top_p=top_p)
  if rows is None:
    return jax.random.categorical(key, filtered).astype(jnp.int32)
  first, total = rows
  noise = jax.random.gumbel(key, (total, logits.shape[1]), filtered.dtype)
  noise = jax.lax.dynamic_slice_in_dim(noise, first, logits.shape[0], 0)
  return jnp.argmax(filtered + noise, axis=-1).astype(jnp.int32)


def generate(graphdef, params, prompts: jax.Array, key: jax.Array, *, max_new: int,
             stop: str = "answer", temperature: float = 1.0, top_k: int = 0,
             top_p: float = 1.0, specials: Specials = VOCAB.specials) -> Samples:
  """Samples up to `max_new` tokens after `prompts` [B, P] int32. The key is consumed.

  `specials` names the pad/BOS/EOS/step-end ids (the char vocabulary's by default; a real
  tokenizer's `.specials` otherwise); its pad must be the model's `pad_id`. With params placed
  on a mesh (`reasoning/mesh.py`) the rows split over its data axes (`mesh.split_like`): each
  device decodes its share instead of the whole batch. With params replicated on that mesh
  (data parallelism), each device runs its own decode loop over its rows (`jax.shard_map`), and
  stops when they are done, instead of agreeing with every other device at each token whether
  all rows are (a cross-device all-reduce per token under GSPMD); the tokens are the same."""
  prompts = mesh_lib.split_like(params, prompts)
  settings = dict(max_new=max_new, stop=stop, temperature=temperature, top_k=top_k, top_p=top_p,
                  specials=specials)
  mesh = mesh_lib.replicated_over(params, prompts)
  if mesh is None:
    return _generate(graphdef, params, prompts, key, **settings)
  return _generate_per_device(graphdef, params, prompts, key, mesh=mesh, **settings)


_STATIC = ("graphdef", "max_new", "stop", "temperature", "top_k", "top_p", "specials")


@functools.partial(jax.jit, static_argnames=_STATIC + ("mesh",))
def _generate_per_device(graphdef, params, prompts, key, *, mesh, **settings) -> Samples:
  axes, total = mesh_lib.ROW_AXES, prompts.shape[0]

  def local(params, part, key):  # part: this device's rows of the prompts
    first = jax.lax.axis_index(axes) * part.shape[0]
    return _decode(graphdef, params, part, key, rows=(first, total), **settings)

  return jax.shard_map(local, mesh=mesh, in_specs=(P(), P(axes), P()), out_specs=P(axes),
                       check_vma=False)(params, prompts, key)


@functools.partial(jax.jit, static_argnames=_STATIC)
def _generate(graphdef, params, prompts, key, **settings) -> Samples:
  return _decode(graphdef, params, prompts, key, rows=None, **settings)


def _decode(graphdef, params, prompts, key, *, max_new, stop, temperature, top_k, top_p,
            specials, rows) -> Samples:
  if stop not in ("answer", "step"):
    raise ValueError(f"stop must be 'answer' or 'step', got {stop!r}")
  if temperature < 0 or not 0 < top_p <= 1 or top_k < 0:
    raise ValueError(f"bad sampling settings temperature={temperature} top_k={top_k} top_p={top_p}")
  cfg = nnx.merge(graphdef, params).cfg  # trace-time only
  if (specials.pad, specials.bos) != (cfg.pad_id, cfg.bos_id):
    raise ValueError(f"generate: specials pad={specials.pad}, bos={specials.bos} differ from the "
                     f"model's pad_id={cfg.pad_id}, bos_id={cfg.bos_id}")
  never = jnp.array(cfg.never_generated, jnp.int32)
  step_ends = jnp.array(specials.step_ends or (-1,), jnp.int32)
  batch, prompt_len = prompts.shape
  cache = model_lib.init_cache(cfg, batch, prompt_len + max_new)
  out = model_lib.apply(graphdef, params, prompts, cache=cache)

  def cond(carry):
    i, _, _, _, done, *_ = carry
    return (i < max_new) & ~jnp.all(done)

  def body(carry):
    i, logits, cache, key, done, tokens, logprobs, lengths = carry
    logits = logits.at[:, never].set(-1e30)  # never generated
    key, sub = jax.random.split(key)
    token = next_tokens(logits, sub, temperature=temperature, top_k=top_k, top_p=top_p,
                        rows=rows)
    token = jnp.where(done, specials.pad, token)
    logprob = jnp.take_along_axis(jax.nn.log_softmax(logits), token[:, None], axis=-1)[:, 0]
    tokens = tokens.at[:, i].set(token)
    logprobs = logprobs.at[:, i].set(jnp.where(done, 0.0, logprob))
    lengths = lengths + (~done).astype(jnp.int32)
    stopped = token == specials.eos
    if stop == "step":
      stopped = stopped | jnp.isin(token, step_ends)
    done = done | stopped
    step_out = model_lib.apply(graphdef, params, token[:, None], cache=cache)
    return i + 1, step_out.logits[:, -1], step_out.cache, key, done, tokens, logprobs, lengths

  init = (jnp.int32(0), out.logits[:, -1], out.cache, key, jnp.zeros((batch,), bool),
          jnp.full((batch, max_new), specials.pad, jnp.int32),
          jnp.zeros((batch, max_new), jnp.float32),
          jnp.zeros((batch,), jnp.int32))
  _, _, _, _, done, tokens, logprobs, lengths = jax.lax.while_loop(cond, body, init)
  return Samples(tokens, logprobs, lengths, done)

"""Jitted batched generation with a preallocated KV cache: prefill, then one `lax.while_loop`.

  samples = generate(graphdef, params, prompts, key, max_new=64, stop="answer", temperature=1.0)
  samples = generate(..., group=8)      # rows in groups of 8 copies of a prompt: prefill it once
  samples = generate(..., slots=64)     # the slot engine: 64 rows decode, finished ones refill

`prompts` are left-padded ([PAD..., BOS, prompt], see text.pad_prompts) so every row writes the
same cache slot each step. A row stops after it emits EOS (stop="answer") or, with stop="step",
also after a newline: searchers extend a prefix one reasoning step at a time. The loop ends when
every row is done or after `max_new` tokens; finished rows emit PAD.

The static batch decodes every row until the batch's longest is done: with long-tailed lengths
most of its row-steps are spent on finished rows. The slot engine (`slots` < rows) decodes a
fixed number of slots; when `chunk` of them have finished, the next `chunk` waiting prompts are
prefilled and take their places (per-row cache ends, model.Cache), so no more than `chunk - 1`
slots idle while prompts wait. Its samples are returned in prompt order and equal the static
sampler's with `row_keys=True`: every row draws its noise from the key folded with its row index
and token index, so a row's tokens do not depend on which slot, batch or device decoded it.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
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


def row_noise(key: jax.Array, rows: jax.Array, steps: jax.Array, vocab: int) -> jax.Array:
  """Gumbel noise [B, V] for rows `rows` [B] at token index `steps` [B]: a pure function of
  (key, row, step), whichever batch or slot the row is decoded in."""
  return jax.vmap(lambda r, t: jax.random.gumbel(
      jax.random.fold_in(jax.random.fold_in(key, r), t), (vocab,)))(rows, steps)


def generate(graphdef, params, prompts: jax.Array | np.ndarray, key: jax.Array, *, max_new: int,
             stop: str = "answer", temperature: float = 1.0, top_k: int = 0,
             top_p: float = 1.0, specials: Specials = VOCAB.specials, group: int = 1,
             slots: int = 0, chunk: int = 0, row_keys: bool = False,
             cache_dtype: str | None = None) -> Samples:
  """Samples up to `max_new` tokens after `prompts` [B, P] int32. The key is consumed.

  `specials` names the pad/BOS/EOS/step-end ids (the char vocabulary's by default; a real
  tokenizer's `.specials` otherwise); its pad must be the model's `pad_id`. `group` > 1: the rows
  come in groups of that many copies of one prompt (GRPO's samples, best-of-N), whose prompt is
  prefilled once and its cache rows shared. `slots` in (0, B): the slot engine (module doc),
  refilling `chunk` slots at a time (0: a quarter of the slots, rounded to whole groups); it
  implies `row_keys`. `cache_dtype` ('bfloat16', 'float32'; None: the compute dtype) stores the
  KV cache in that dtype.

  With params placed on a mesh (`reasoning/mesh.py`) the rows split over its data axes
  (`mesh.split_like`): each device decodes its share instead of the whole batch. With params
  replicated on that mesh (data parallelism), each device runs its own decode loop over its rows
  (`jax.shard_map`), and stops when they are done, instead of agreeing with every other device at
  each token whether all rows are (a cross-device all-reduce per token under GSPMD); the tokens
  are the same."""
  batch = prompts.shape[0]
  if group < 1 or batch % group:
    raise ValueError(f"generate: group={group} must divide the batch of {batch} rows")
  if slots < 0 or (slots and slots % group):
    raise ValueError(f"generate: slots={slots} must be a positive multiple of group={group}")
  prompts = mesh_lib.split_like(params, prompts)
  mesh = mesh_lib.replicated_over(params, prompts)
  local_rows = batch // (1 if mesh is None else math.prod(mesh.shape[a] for a in
                                                          mesh_lib.ROW_AXES))
  if local_rows % group:  # a device's share would cut a group: prefill every row
    group = 1
  row_keys = row_keys or slots > 0  # kept when the slots cover the batch: the same samples
  if slots >= local_rows:
    slots = 0
  if slots:
    chunk = chunk or max(group, slots // 4 // group * group)
    if chunk % group or not 0 < chunk <= slots:
      raise ValueError(f"generate: chunk={chunk} must be a multiple of group={group} in "
                       f"(0, slots={slots}]")
  settings = dict(max_new=max_new, stop=stop, temperature=temperature, top_k=top_k, top_p=top_p,
                  specials=specials, group=group, slots=slots, chunk=chunk,
                  row_keys=row_keys, cache_dtype=cache_dtype)
  if mesh is None:
    return _generate(graphdef, params, prompts, key, **settings)
  return _generate_per_device(graphdef, params, prompts, key, mesh=mesh, **settings)


_STATIC = ("graphdef", "max_new", "stop", "temperature", "top_k", "top_p", "specials", "group",
           "slots", "chunk", "row_keys", "cache_dtype")


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


class _Sampler:
  """What a decode step needs besides the model: the next token of each row from its logits."""

  def __init__(self, cfg, key, *, temperature, top_k, top_p, specials, stop, row_keys, rows):
    if stop not in ("answer", "step"):
      raise ValueError(f"stop must be 'answer' or 'step', got {stop!r}")
    if temperature < 0 or not 0 < top_p <= 1 or top_k < 0:
      raise ValueError(f"bad sampling settings temperature={temperature} top_k={top_k} "
                       f"top_p={top_p}")
    if (specials.pad, specials.bos) != (cfg.pad_id, cfg.bos_id):
      raise ValueError(f"generate: specials pad={specials.pad}, bos={specials.bos} differ from "
                       f"the model's pad_id={cfg.pad_id}, bos_id={cfg.bos_id}")
    self.never = jnp.array(cfg.never_generated, jnp.int32)
    self.step_ends = jnp.array(specials.step_ends or (-1,), jnp.int32)
    self.key, self.temperature, self.top_k, self.top_p = key, temperature, top_k, top_p
    self.specials, self.stop, self.row_keys, self.rows = specials, stop, row_keys, rows
    self.first = 0 if rows is None else rows[0]

  def __call__(self, logits, done, row_ids, steps, key):
    """(token [B], its log-prob at temperature 1, whether it stops the row) for live rows;
    PAD for `done` rows. `row_ids`/`steps` [B]: each row's index in the whole batch and its
    token index (the noise of `row_keys`); `key` the batch's key for this step otherwise."""
    logits = logits.at[:, self.never].set(-1e30)  # never generated
    if self.temperature == 0.0:
      token = jnp.argmax(logits, axis=-1).astype(jnp.int32)
    elif self.row_keys:
      filtered = filter_logits(logits, temperature=self.temperature, top_k=self.top_k,
                               top_p=self.top_p)
      noise = row_noise(self.key, row_ids, steps, logits.shape[1])
      token = jnp.argmax(filtered + noise, axis=-1).astype(jnp.int32)
    else:
      token = next_tokens(logits, key, temperature=self.temperature, top_k=self.top_k,
                          top_p=self.top_p, rows=self.rows)
    token = jnp.where(done, self.specials.pad, token)
    logprob = jnp.take_along_axis(jax.nn.log_softmax(logits), token[:, None], axis=-1)[:, 0]
    stopped = token == self.specials.eos
    if self.stop == "step":
      stopped = stopped | jnp.isin(token, self.step_ends)
    return token, jnp.where(done, 0.0, logprob), stopped & ~done


def _prefill(graphdef, params, cfg, prompts, group, length, cache_dtype):
  """(last-position logits [B, V], cache) of prompts [B, P] whose rows come in groups of `group`
  copies: each group's prompt runs once and its logits and cache rows are repeated."""
  unique = prompts[::group]
  cache = model_lib.init_cache(cfg, unique.shape[0], length,
                               None if cache_dtype is None else jnp.dtype(cache_dtype))
  out = model_lib.apply(graphdef, params, unique, cache=cache)
  # The head on the last position only: the pass's [B, P, V] logits go unused and are dropped
  # from the compiled prefill (2.3 GB and a fifth of a 135M model's prefill FLOPs at 256 x 45).
  logits, cache = nnx.merge(graphdef, params).unembed(out.hidden[:, -1]), out.cache
  if group > 1:
    repeat = lambda x: jnp.repeat(x, group, axis=0)
    logits = repeat(logits)
    cache = cache.replace(k=tuple(map(repeat, cache.k)), v=tuple(map(repeat, cache.v)),
                          valid=repeat(cache.valid), pos=repeat(cache.pos))
  return logits, cache


def _decode(graphdef, params, prompts, key, *, max_new, stop, temperature, top_k, top_p,
            specials, group, slots, chunk, row_keys, cache_dtype, rows) -> Samples:
  cfg = nnx.merge(graphdef, params).cfg  # trace-time only
  sampler = _Sampler(cfg, key, temperature=temperature, top_k=top_k, top_p=top_p,
                     specials=specials, stop=stop, row_keys=row_keys, rows=rows)
  if slots:
    return _decode_slots(graphdef, params, cfg, prompts, sampler, max_new=max_new, group=group,
                         slots=slots, chunk=chunk, cache_dtype=cache_dtype)
  batch, prompt_len = prompts.shape
  logits, cache = _prefill(graphdef, params, cfg, prompts, group, prompt_len + max_new,
                           cache_dtype)
  row_ids = sampler.first + jnp.arange(batch)

  def cond(carry):
    i, _, _, _, done, *_ = carry
    return (i < max_new) & ~jnp.all(done)

  def body(carry):
    i, logits, cache, key, done, tokens, logprobs, lengths = carry
    key, sub = jax.random.split(key)
    token, logprob, stopped = sampler(logits, done, row_ids, jnp.full((batch,), i), sub)
    tokens = tokens.at[:, i].set(token)
    logprobs = logprobs.at[:, i].set(logprob)
    lengths = lengths + (~done).astype(jnp.int32)
    done = done | stopped
    step_out = model_lib.apply(graphdef, params, token[:, None], cache=cache)
    return i + 1, step_out.logits[:, -1], step_out.cache, key, done, tokens, logprobs, lengths

  init = (jnp.int32(0), logits, cache, key, jnp.zeros((batch,), bool),
          jnp.full((batch, max_new), specials.pad, jnp.int32),
          jnp.zeros((batch, max_new), jnp.float32),
          jnp.zeros((batch,), jnp.int32))
  _, _, _, _, done, tokens, logprobs, lengths = jax.lax.while_loop(cond, body, init)
  return Samples(tokens, logprobs, lengths, done)


def _decode_slots(graphdef, params, cfg, prompts, sampler, *, max_new, group, slots, chunk,
                  cache_dtype) -> Samples:
  """The slot engine (module doc). Slot state: `row` (the prompt row it decodes; n = none),
  `step` (tokens it has emitted), `done`; the outputs are written in place at [row, step], with
  row n a scratch row that absorbs the writes of empty slots."""
  n, prompt_len = prompts.shape
  length = prompt_len + max_new
  # Rows past the end (the last chunk's tail) are all-PAD prompts that go to scratch row n.
  padded = jnp.concatenate([prompts, jnp.full((chunk, prompt_len), cfg.pad_id, prompts.dtype)])

  def fill(first_row, size):
    rows = first_row + jnp.arange(size)
    part = jax.lax.dynamic_slice_in_dim(padded, first_row, size, 0)
    logits, cache = _prefill(graphdef, params, cfg, part, group, length, cache_dtype)
    return jnp.minimum(rows, n), logits, cache.replace(end=jnp.full((size,), prompt_len))

  row, logits, cache = fill(0, slots)  # slots < n (generate)
  state = dict(row=row, step=jnp.zeros((slots,), jnp.int32), done=row >= n, logits=logits,
               cache=cache, next=jnp.int32(slots),
               tokens=jnp.full((n + 1, max_new), sampler.specials.pad, jnp.int32),
               logprobs=jnp.zeros((n + 1, max_new), jnp.float32),
               lengths=jnp.zeros((n + 1,), jnp.int32), stopped=jnp.zeros((n + 1,), bool))

  def refill(s):
    rows, logits, cache = fill(s["next"], chunk)
    # The first free slots take the new rows; a past-the-end row takes no slot (index `slots`
    # is dropped), so a short last chunk never displaces a live row.
    target = jnp.argsort(~s["done"], stable=True)[:chunk]
    target = jnp.where(rows < n, target, slots)
    put = lambda old, new: old.at[target].set(new, mode="drop")
    c = s["cache"]
    s = dict(s, row=put(s["row"], rows), step=put(s["step"], jnp.zeros_like(rows)),
             done=put(s["done"], rows >= n), logits=put(s["logits"], logits),
             next=s["next"] + chunk)
    s["cache"] = c.replace(k=tuple(map(put, c.k, cache.k)), v=tuple(map(put, c.v, cache.v)),
                           valid=put(c.valid, cache.valid), pos=put(c.pos, cache.pos),
                           end=put(c.end, cache.end))
    return s

  def cond(s):
    return ~jnp.all(s["done"]) | (s["next"] < n)

  def body(s):
    live = ~s["done"]
    token, logprob, stopped = sampler(s["logits"], s["done"], sampler.first + s["row"],
                                      s["step"], None)
    out_row = jnp.where(live, s["row"], n)
    step = s["step"] + live.astype(jnp.int32)
    finished = stopped | (live & (step >= max_new))
    s = dict(s, tokens=s["tokens"].at[out_row, s["step"]].set(token, mode="drop"),
             logprobs=s["logprobs"].at[out_row, s["step"]].set(logprob, mode="drop"),
             lengths=s["lengths"].at[out_row].set(step),
             stopped=s["stopped"].at[out_row].set(stopped), step=step,
             done=s["done"] | finished)
    out = model_lib.apply(graphdef, params, token[:, None], cache=s["cache"])
    # A finished slot keeps stepping (on PAD) until it is refilled: its end stays in the cache.
    s["cache"] = out.cache.replace(end=jnp.minimum(out.cache.end, length - 1))
    s["logits"] = out.logits[:, -1]
    free, waiting = jnp.sum(s["done"]), n - s["next"]
    return jax.lax.cond((waiting > 0) & (free >= jnp.minimum(chunk, waiting)), refill,
                        lambda s: s, s)

  s = jax.lax.while_loop(cond, body, state)
  return Samples(s["tokens"][:n], s["logprobs"][:n], s["lengths"][:n], s["stopped"][:n])

"""Throughput benchmarks on whatever backend JAX finds; writes JSON.

  python scripts/bench.py [--out bench.json] [--quick] [--no-peers]
  python scripts/bench.py --preset qwen2.5-0.5b --dtype bfloat16   # a real-model shape, random weights
  python scripts/bench.py --memory qwen2.5-0.5b [--memory-batch 4 --memory-seq 1024] [--no-run]

Reports: measured f32 matmul peak and memory bandwidth; training step tokens/s and achieved
GFLOP/s (and the share of the matmul peak, the MFU against this machine's own matmul) for the
default model and two larger ones; sampler tokens/s at batch 1, 64, 256 (and 64 with a bfloat16
KV cache, whose logit error against float32 is reported), each decode step against its roofline
bound (decode_roofline: weights + cache bytes over the bandwidth, FLOPs over the peak); attention
through jax.nn.dot_product_attention against the einsum path; an RL rollout (32 prompts x 8
samples, long-tailed lengths) as a static batch, with shared prefill, and with the slot engine,
in useful tokens/s; MCTS simulations/s (64 problems, 32 simulations, one
jitted call); verifier throughput (completions/s) for every task; and, when the optional `peers`
extra is installed (`make bench` installs it), the same model and weights in Hugging Face
transformers / PyTorch: `generate` against our sampler and the PyTorch training step against ours
(scripts/peers.py). Every figure carries the device kind it ran on.

`--memory PRESET`: the memory an RL step (policy and reference log-probs, then a GRPO update)
of that shape needs at batch x seq, with and without the memory settings (model.remat,
model.logits_chunk): XLA's buffer assignment for each compiled call (no execution), and, with
real arrays, the measured peak resident memory of one step in a fresh process per setting
(skipped where the estimate exceeds the memory available).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from experiments.cli import tune_xla_cpu
tune_xla_cpu()  # what every entrypoint does at start: the bench measures the same process
import peers  # noqa: E402  (scripts/peers.py)
from reasoning import (compute, lora as lora_lib, mesh as mesh_lib, model as model_lib,  # noqa: E402
                       sampling)
from reasoning.search import mcts  # noqa: E402
from reasoning.tasks import TASKS, get_task, reference_completion  # noqa: E402
from reasoning.model import favoring  # noqa: E402
from reasoning.text import VOCAB  # noqa: E402
from reasoning.train import pg, sft, state as state_lib  # noqa: E402

DEFAULT: dict[str, Any] = dict(d_model=128, n_layers=4, n_heads=4, n_kv_heads=4, d_ff=384, max_len=256)
LARGER: dict[str, Any] = dict(d_model=256, n_layers=4, n_heads=4, n_kv_heads=4, d_ff=768, max_len=256)
LARGE: dict[str, Any] = dict(d_model=512, n_layers=4, n_heads=8, n_kv_heads=8, d_ff=1536, max_len=256)


class Timing(float):
  """Median seconds per call, with the fastest (`low`) and slowest (`high`) of the calls timed:
  a ratio of two timings is reported with the range the calls allow (peers.ratio_range)."""
  low: float
  high: float


def timed(fn, *, repeats: int, warmup: int = 2) -> Timing:
  """Median seconds per call of fn() (which must block until its result is ready)."""
  for _ in range(warmup):
    fn()
  times = []
  for _ in range(repeats):
    t = time.perf_counter()
    fn()
    times.append(time.perf_counter() - t)
  out = Timing(np.median(times))
  out.low, out.high = float(min(times)), float(max(times))
  return out


# Dense bf16 tensor-core peaks from the vendors' data sheets (TFLOP/s), for MFU against the chip's
# nominal figure; matched against jax's device_kind, first match wins.
NOMINAL_BF16_TFLOPS = (("H100 PCIe", 756.0), ("H100", 989.4), ("H200", 989.4), ("A100", 312.0),
                       ("L4", 121.0), ("TPU v4", 275.0), ("TPU v5 lite", 197.0),
                       ("TPU v5e", 197.0), ("TPU v5", 459.0), ("TPU v6", 918.0))


def nominal_peak_gflops(device_kind: str) -> float | None:
  for name, tflops in NOMINAL_BF16_TFLOPS:
    if name.lower() in device_kind.lower():
      return tflops * 1e3
  return None


def matmul_peak(n: int = 2048, dtype: str = "float32") -> float:
  a = jnp.ones((n, n), dtype)
  f = jax.jit(lambda x: x @ x)
  return 2 * n**3 / timed(lambda: f(a).block_until_ready(), repeats=5) / 1e9


def memory_bandwidth(mbytes: float = 1024) -> float:
  """Measured memory bandwidth (GB/s): an f32 array of `mbytes` read and written in place once
  (x * c, the buffer donated). A working set that fits in the CPU's caches streams faster than
  DRAM: the roofline measures it at each decode step's own bytes."""
  x = jnp.ones((max(1024, int(mbytes * 2**20) // 4),), jnp.float32)
  f = jax.jit(lambda x: x * 1.0001, donate_argnums=0)
  holder = [x]

  def run():
    holder[0] = f(holder[0])
    holder[0].block_until_ready()

  return 2 * x.nbytes / timed(run, repeats=10) / 1e9


def decode_roofline(cfg: model_lib.ModelConfig, batch: int, cache_len: int, cache_bytes: int,
                    step_s: float, peak_gflops: float, bandwidth_gbs: float | None = None
                    ) -> dict:
  """How far one decode step (one token for each of `batch` rows) is from this machine's limit:
  it must read every weight and the whole KV cache (`cache_len` slots of `cache_bytes` per
  element, as our sampler attends over the preallocated cache) and do the forward FLOPs of a
  token attending to `cache_len` slots per row (compute.forward_flops_per_token). The bound is
  the larger of bytes / bandwidth (measured at that many bytes unless given) and FLOPs / matmul
  peak; `vs_bound` = measured step time / bound."""
  weights = (model_lib.count_params(model_lib.abstract_init(cfg)[1])
             * jnp.dtype(cfg.dtype).itemsize)
  cache = (batch * cfg.n_layers * 2 * cfg.n_kv_heads * cfg.head_dim * cache_len * cache_bytes)
  flops = batch * compute.forward_flops_per_token(cfg, cache_len)
  if bandwidth_gbs is None:
    bandwidth_gbs = memory_bandwidth((weights + cache) / 2**20)
  memory_s, compute_s = (weights + cache) / bandwidth_gbs / 1e9, flops / peak_gflops / 1e9
  bound = max(memory_s, compute_s)
  return {"bytes": weights + cache, "flops": flops, "bandwidth_gbs": bandwidth_gbs,
          "memory_bound_s": memory_s,
          "compute_bound_s": compute_s, "limit": "memory" if memory_s >= compute_s else "compute",
          "step_s": step_s, "vs_bound": step_s / bound}


def cache_error(shape: dict, batch: int = 16, prompt_len: int = 32) -> dict:
  """Logit error of a bfloat16 KV cache against float32: prefill `prompt_len - 1` tokens into
  each cache, decode the last one, compare the logits (max |difference|, and the max logit's
  scale for reference)."""
  cfg = _config(shape)
  graphdef, params = model_lib.init(cfg, jax.random.key(0))
  tokens = jnp.asarray(np.random.default_rng(0).integers(3, cfg.vocab_size, (batch, prompt_len)),
                       jnp.int32)
  out = {}
  for dtype in ("float32", "bfloat16"):
    cache = model_lib.init_cache(cfg, batch, prompt_len, jnp.dtype(dtype))
    cache = model_lib.apply(graphdef, params, tokens[:, :-1], cache=cache).cache
    out[dtype] = model_lib.apply(graphdef, params, tokens[:, -1:], cache=cache).logits[:, 0]
  err = float(jnp.abs(out["bfloat16"] - out["float32"]).max())
  return {"max_abs_logit_error": err, "max_abs_logit": float(jnp.abs(out["float32"]).max())}


def _config(shape: dict) -> model_lib.ModelConfig:
  return model_lib.ModelConfig(**{"vocab_size": VOCAB.size, **shape})


def bench_train(shape: dict, batch: int, seq: int, repeats: int) -> dict:
  cfg = _config(shape)
  graphdef, params = model_lib.init(cfg, jax.random.key(0))
  tx = state_lib.make_optimizer(state_lib.OptimConfig(total_steps=1000))
  step = sft.make_train_step(graphdef, tx)
  rng = np.random.default_rng(0)
  data = {"tokens": jnp.asarray(rng.integers(3, cfg.vocab_size, (batch, seq)), jnp.int32),
          "loss_mask": jnp.ones((batch, seq), jnp.float32)}
  state, data = data_parallel(state_lib.create(params, tx), data)
  holder = [state]

  def run():
    holder[0], metrics = step(holder[0], data)
    jax.block_until_ready(metrics)

  dt = timed(run, repeats=repeats)
  flops = compute.train_flops(cfg, [seq] * batch)
  return {"params_M": model_lib.count_params(params) / 1e6, "batch": batch, "seq": seq,
          "step_s": dt, "tokens_per_s": batch * seq / dt, "gflops_per_s": flops / dt / 1e9}


def data_parallel(state, data: dict):
  """(state, data) placed as experiments.sft places them on a mesh of every device: the state
  replicated, the batch's rows split (data parallelism; e.g. the 2 cores as 2 host devices with
  XLA_FLAGS=--xla_force_host_platform_device_count=2). Unchanged on one device or when the rows
  do not split evenly."""
  state = on_all_devices(state, next(iter(data.values())).shape[0])
  return state, {k: mesh_lib.split_like(state, v) for k, v in data.items()}


def on_all_devices(params, batch: int):
  """params replicated over a data mesh of every device, so the sampler splits its `batch` rows
  over them (sampling.generate): data-parallel decoding, e.g. over the host devices of a CPU run
  with XLA_FLAGS=--xla_force_host_platform_device_count=2. Unchanged on one device or when the
  rows do not split evenly (a replicated call would repeat the whole batch on every device)."""
  if jax.device_count() == 1 or batch % jax.device_count():
    return params
  mesh = mesh_lib.make_mesh(mesh_lib.MeshConfig(data=-1))
  return jax.device_put(params, mesh_lib.state_shardings(mesh, params))


def bench_sampler(shape: dict, batch: int, prompt_len: int, max_new: int, repeats: int,
                  cache_dtype: str | None = None) -> dict:
  cfg = _config(shape)
  graphdef, params = model_lib.init(cfg, jax.random.key(0))
  params = on_all_devices(params, batch)
  prompts = jnp.asarray(np.random.default_rng(0).integers(3, cfg.vocab_size, (batch, prompt_len)),
                        jnp.int32)
  lengths: list[int] = []
  steps: list[float] = []

  def run():
    out = sampling.generate(graphdef, params, prompts, jax.random.key(len(lengths)),
                            max_new=max_new, temperature=1.0, cache_dtype=cache_dtype)
    got = jax.device_get(out.lengths)
    lengths.append(int(got.sum()))
    steps.append(int(got.max()))  # decode steps the loop ran

  dt = timed(run, repeats=repeats)
  return {"batch": batch, "prompt_len": prompt_len, "max_new": max_new, "call_s": dt,
          "cache_dtype": cache_dtype or cfg.dtype, "step_s": dt / float(np.median(steps)),
          "tokens_per_s": float(np.median(lengths)) / dt,
          "flops_per_s": compute.generation_flops(cfg, [prompt_len] * batch,
                                                  [np.median(lengths) / batch] * batch) / dt}


def geometric_lengths_params(params, mean_length: float):
  """Params of the same shapes whose next token is EOS with probability 1/mean_length after any
  input, every other token equally likely (testing.favoring): sampled lengths are geometric, the
  long tail of a reasoning model's chains of thought. The gap c solves
  e^c / (e^c + V - 3) = 1 / mean_length (PAD and BOS are never sampled)."""
  vocab = params["embed"]["embedding"].shape[0]
  p = 1.0 / mean_length
  return favoring(params, VOCAB.specials.eos, float(np.log(p * (vocab - 3) / (1 - p))))


def bench_rollout(shape: dict, prompts: int, samples: int, prompt_len: int, max_new: int,
                  mean_length: float, slot_counts, repeats: int) -> dict:
  """An RL rollout's generation (`prompts` x `samples` rows at temperature 1, geometric lengths
  of mean `mean_length` capped at max_new): the static batch as RL ran it, the static batch
  with each group's prompt prefilled once, and the slot engine at each slot count. Useful tokens
  per second = generated tokens (the stop token included) / seconds; the engine's tokens equal
  the static batch's with row keys (tests/test_sampling.py)."""
  cfg = _config(shape)
  graphdef, params = model_lib.init(cfg, jax.random.key(0))
  params = geometric_lengths_params(params, mean_length)
  unique = np.random.default_rng(0).integers(3, cfg.vocab_size, (prompts, prompt_len))
  rows = jnp.asarray(np.repeat(unique, samples, axis=0), jnp.int32)
  variants = {"static": {}, "static_shared_prefill": {"group": samples}}
  variants.update({f"slots_{s}": {"group": samples, "slots": s} for s in slot_counts})
  out: dict = {"prompts": prompts, "samples": samples, "prompt_len": prompt_len, "max_new": max_new,
               "mean_length": mean_length}
  for name, kw in variants.items():
    got = []

    def run():
      r = sampling.generate(graphdef, params, rows, jax.random.key(1), max_new=max_new,
                            temperature=1.0, **kw)
      got.append(int(jax.device_get(r.lengths).sum()))

    dt = timed(run, repeats=repeats)
    out[name] = {"call_s": dt, "call_s_range": [dt.low, dt.high], "tokens": got[-1],
                 "useful_tokens_per_s": got[-1] / dt, "_timing": dt}
  base = out["static"]
  for name in variants:
    tokens = out[name]["tokens"] / base["tokens"]
    out[name]["speedup"] = out[name]["useful_tokens_per_s"] / base["useful_tokens_per_s"]
    low, high = peers.ratio_range(base["_timing"], out[name]["_timing"]) or (np.nan, np.nan)
    out[name]["speedup_range"] = [tokens * low, tokens * high]
  for name in variants:
    del out[name]["_timing"]
  return out


def bench_mcts(shape: dict, batch: int, num_simulations: int, num_candidates: int,
               step_tokens: int, repeats: int) -> dict:
  """One gumbel-MuZero move (num_simulations expansions, each sampling K candidate steps and
  scoring the child with the value head) for `batch` problems in one jitted call."""
  cfg = model_lib.ModelConfig(vocab_size=VOCAB.size, **shape)
  graphdef, params = model_lib.init(cfg, jax.random.key(0))
  search = mcts.make_search(mcts.policy_proposer(graphdef, num_candidates, step_tokens),
                            mcts.value_evaluator(graphdef), num_simulations=num_simulations,
                            max_moves=1)
  prompts = np.random.default_rng(0).integers(3, VOCAB.size, (batch, 24))
  roots = jnp.asarray(np.pad(prompts, ((0, 0), (step_tokens * 4, 0))), jnp.int32)  # room to grow
  dt = timed(lambda: jax.block_until_ready(search((params, params), roots, jax.random.key(0))),
             repeats=repeats)
  return {"batch": batch, "num_simulations": num_simulations, "num_candidates": num_candidates,
          "step_tokens": step_tokens, "call_s": dt, "simulations_per_s": batch * num_simulations / dt}


def bench_verifiers(n: int = 10_000) -> dict:
  out = {}
  for name in TASKS:
    task = get_task(name)
    problems = task.sample(np.random.default_rng(0), 100, 2)
    pairs = [(p, reference_completion(task, p)) for p in problems] * (n // 100)
    t = time.perf_counter()
    for p, c in pairs:
      task.verify(p, c)
    out[name] = {"completions": n, "seconds": time.perf_counter() - t}
  return out


def run_peers(repeats: int) -> dict:
  import torch
  import transformers
  out: dict = {"torch": torch.__version__, "transformers": transformers.__version__,
               "torch_threads": torch.get_num_threads(), "sampler": {}, "train": {}}
  for batch in (1, 64):
    r = peers.bench_sampler(DEFAULT, VOCAB.size, timed, batch=batch, prompt_len=32, max_new=64,
                            repeats=repeats, place=on_all_devices)
    out["sampler"][f"batch_{batch}"] = r
    print(f"peer sampler batch {batch} (greedy, same weights, same_tokens={r['same_tokens']}): "
          f"ours {r['ours_tokens_per_s']:.0f} tok/s, transformers.generate "
          f"{r['transformers_tokens_per_s']:.0f} tok/s: {r['speedup']:.2f}x "
          f"[{r['speedup_range'][0]:.2f}, {r['speedup_range'][1]:.2f}]", flush=True)
  for name, shape in (("default", DEFAULT), ("large", LARGE)):
    r = peers.bench_train(shape, VOCAB.size, timed, batch=64, seq=96, repeats=repeats,
                          place=data_parallel)
    out["train"][name] = r
    print(f"peer train {name} ({r['params_M']:.2f}M, batch 64 x 96): ours "
          f"{r['ours_tokens_per_s']:.0f} tok/s, PyTorch eager {r['torch_tokens_per_s']:.0f} tok/s: "
          f"{r['speedup']:.2f}x [{r['speedup_range'][0]:.2f}, {r['speedup_range'][1]:.2f}]",
          flush=True)
  return out


# Real-model shapes with random weights (no download): `--preset` measures one of these instead
# of the tiny models, e.g. on a GPU with `--dtype bfloat16`.
PRESETS: dict[str, dict[str, Any]] = {
    "qwen2.5-0.5b": dict(vocab_size=151_936, d_model=896, n_layers=24, n_heads=14, n_kv_heads=2,
                         d_ff=4864, max_len=4096, tie_embeddings=True, attn_bias=True,
                         embed_scale=False, rope_theta=1e6, norm_eps=1e-6),
}


def run_preset(name: str, dtype: str, args) -> dict:
  """Training step (batch x 512 tokens) and sampler (prompt 128, 128 new tokens) throughput of a
  real-model shape with random weights, and the training step's MFU against the matmul peak."""
  shape = dict(PRESETS[name], dtype=dtype)
  out: dict = {"train": bench_train(shape, batch=args.preset_batch, seq=512, repeats=args.repeats),
               "sampler": bench_sampler(shape, batch=args.preset_batch, prompt_len=128, max_new=128,
                                        repeats=args.repeats)}
  cfg = model_lib.ModelConfig(**shape)
  for batch in (args.preset_batch, 256):
    r = out["sampler"] if batch == args.preset_batch else bench_sampler(
        shape, batch=batch, prompt_len=128, max_new=128, repeats=args.repeats)
    r["roofline"] = decode_roofline(cfg, batch, 256, jnp.dtype(r["cache_dtype"]).itemsize,
                                    r["step_s"], args.peak)
    out[f"sampler_batch_{batch}"] = r
    print(f"preset sampler batch {batch}: {r['tokens_per_s']:.0f} tok/s, "
          f"{r['roofline']['vs_bound']:.1f}x its {r['roofline']['limit']} bound", flush=True)
  r = out["train"]
  print(f"preset {name} ({r['params_M'] / 1e3:.2f}B parameters, {dtype}) train batch "
        f"{args.preset_batch} x 512: {r['tokens_per_s']:.0f} tok/s, {r['gflops_per_s']:.0f} "
        f"GFLOP/s", flush=True)
  print(f"preset sampler batch {args.preset_batch}: {out['sampler']['tokens_per_s']:.0f} tok/s",
        flush=True)
  return out


# The settings --memory compares: none, each lever alone, both, both with LoRA (rank 16 on the
# attention and MLP kernels: the optimizer state covers the adapters only), and both with bf16
# parameters and optimizer state.
MEMORY_SETTINGS: dict[str, dict] = {"plain": {}, "logits_chunk": {"logits_chunk": 128},
                                    "remat": {"remat": "full"}, "both": {"remat": "full", "logits_chunk": 128},
                                    "both_lora16": {"remat": "full", "logits_chunk": 128, "lora_rank": 16},
                                    "both_bf16_params": {"remat": "full", "logits_chunk": 128,
                                                         "param_dtype": "bfloat16"}}


def _rl_step_parts(shape: dict, settings: dict, batch: int, seq: int):
  """(graphdef, params shapes, state shapes, batch shapes, score fn, GRPO train step, LoRA
  config): with settings' lora_rank the state holds the LoRA tree and the step takes the base."""
  settings = dict(settings)
  lora_cfg = lora_lib.LoraConfig(rank=settings.pop("lora_rank", 0))
  cfg = model_lib.ModelConfig(**shape, **settings)
  graphdef, params = model_lib.abstract_init(cfg)
  tx = state_lib.make_optimizer(state_lib.OptimConfig(total_steps=1000))
  trainable = params if not lora_cfg.on else jax.eval_shape(
      lambda p: lora_lib.init(p, lora_cfg, jax.random.key(0)), params)
  state = jax.eval_shape(lambda p: state_lib.create(p, tx), trainable)
  f32 = lambda: jnp.zeros((batch, seq - 1), jnp.float32)
  data = jax.eval_shape(lambda: pg.PGBatch(  # shapes only: nothing is allocated
      jnp.zeros((batch, seq), jnp.int32), f32(), ref_logp=f32(), advantages=f32(),
      returns=f32(), old_logp=f32(), old_values=f32()))
  score = jax.jit(lambda p, t: pg.sequence_logprobs(graphdef, p, t)[0])
  step = pg.make_train_step(graphdef, tx, pg.PGConfig(algo="grpo"), lora_cfg)
  return graphdef, params, state, data, score, step, lora_cfg


def rl_step_memory(shape: dict, settings: dict, batch: int, seq: int) -> dict:
  """XLA's buffer assignment for an RL step's calls, in GB: the resident policy state and
  reference parameters, each call's temporaries, and their peak (resident + the larger call's
  temporaries and non-aliased outputs). Compiles; allocates nothing."""
  _, params, state, data, score, step, lora_cfg = _rl_step_parts(shape, settings, batch, seq)
  gb = lambda n: n / 1e9
  size = lambda tree: sum(x.size * x.dtype.itemsize for x in jax.tree.leaves(tree))
  t0 = time.perf_counter()
  frozen = (params,) if lora_cfg.on else ()
  calls = {"score": score.lower(params, data.tokens).compile().memory_analysis(),
           "train_step": step.lower(state, data, *frozen).compile().memory_analysis()}
  # The policy state, the reference parameters and, with LoRA, nothing more: the base is the
  # reference, and the policy the scoring call sees is merged from it.
  out = {"compile_s": time.perf_counter() - t0,
         "trainable_M": sum(x.size for x in jax.tree.leaves(state.params)) / 1e6,
         "resident_gb": gb(size(state) + size(params))}
  extra = 0
  for name, m in calls.items():
    out[f"{name}_temp_gb"] = gb(m.temp_size_in_bytes)
    extra = max(extra, m.temp_size_in_bytes + m.output_size_in_bytes - m.alias_size_in_bytes)
  out["peak_gb"] = out["resident_gb"] + gb(extra)
  return out


def rl_step_run(shape: dict, settings: dict, batch: int, seq: int) -> dict:
  """One RL step with real arrays (random weights): score under the policy and the reference,
  then update. Returns its time and this process's peak resident memory (run it in a fresh
  process: the peak is the process's)."""
  import resource
  graphdef, _, _, data, score, step, lora_cfg = _rl_step_parts(shape, settings, batch, seq)
  model_settings = {k: v for k, v in settings.items() if k != "lora_rank"}
  _, params = model_lib.init(model_lib.ModelConfig(**shape, **model_settings), jax.random.key(0))
  tx = state_lib.make_optimizer(state_lib.OptimConfig(total_steps=1000))
  if lora_cfg.on:  # the base is the reference; the policy is merged from it
    ref, frozen = params, (params,)
    state = state_lib.create(lora_lib.init(params, lora_cfg, jax.random.key(1)), tx)
    policy = jax.jit(lambda t: lora_lib.merge(params, t, lora_cfg))(state.params)
  else:
    ref, frozen = jax.tree.map(jnp.copy, params), ()
    state = state_lib.create(params, tx)
    policy = state.params
  rng = np.random.default_rng(0)
  tokens = jnp.asarray(rng.integers(3, shape["vocab_size"], (batch, seq)), jnp.int32)
  t0 = time.perf_counter()
  logp, ref_logp = score(policy, tokens), score(ref, tokens)
  jax.block_until_ready((logp, ref_logp))  # the update's time below is the update's alone
  del policy
  zeros = jnp.zeros((batch, seq - 1))
  advantages = jnp.asarray(rng.standard_normal((batch, 1)), jnp.float32) * jnp.ones(seq - 1)
  batch_data = pg.PGBatch(tokens, jnp.ones((batch, seq - 1)), ref_logp=ref_logp,
                          advantages=advantages, returns=zeros, old_logp=logp, old_values=zeros)
  t1 = time.perf_counter()
  state, metrics = step(state, batch_data, *frozen)
  jax.block_until_ready(metrics)
  t2 = time.perf_counter()
  return {"step_s": t2 - t0, "update_s": t2 - t1, "loss": float(metrics["loss"]),
          "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9}


def run_memory(name: str, args) -> dict:
  """rl_step_memory for each of MEMORY_SETTINGS and, unless --no-run, rl_step_run of each in a
  subprocess where the estimate fits in the memory available."""
  import os
  import subprocess
  shape = dict(PRESETS[name], dtype=args.dtype)
  out = {"preset": name, "dtype": args.dtype, "batch": args.memory_batch, "seq": args.memory_seq,
         "settings": {}}
  available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 1e9
  chosen = args.memory_settings.split(",") if args.memory_settings else list(MEMORY_SETTINGS)
  for label in chosen:
    settings = MEMORY_SETTINGS[label]
    r = rl_step_memory(shape, settings, args.memory_batch, args.memory_seq)
    r["settings"] = settings
    print(f"memory {name} RL step {args.memory_batch} x {args.memory_seq}, {label} "
          f"({r['trainable_M']:.1f}M trainable): XLA peak "
          f"{r['peak_gb']:.1f} GB (resident {r['resident_gb']:.1f}, score temporaries "
          f"{r['score_temp_gb']:.1f}, train-step temporaries {r['train_step_temp_gb']:.1f})",
          flush=True)
    if not args.no_run and r["peak_gb"] < 0.85 * available:
      cmd = [sys.executable, __file__, "--memory-run", json.dumps(
          {"preset": name, "dtype": args.dtype, "settings": settings,
           "batch": args.memory_batch, "seq": args.memory_seq})]
      done = subprocess.run(cmd, capture_output=True, text=True)
      if done.returncode == 0:
        r["measured"] = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"  measured: peak resident {r['measured']['peak_rss_gb']:.1f} GB, step "
              f"{r['measured']['step_s']:.0f} s (update {r['measured']['update_s']:.0f} s)",
              flush=True)
      else:
        r["measured"] = f"failed: {done.stderr.strip().splitlines()[-1:]}"
    elif not args.no_run:
      r["measured"] = f"skipped: the estimate exceeds 85% of the {available:.0f} GB available"
    out["settings"][label] = r
  return out


def main():
  if len(sys.argv) == 3 and sys.argv[1] == "--memory-run":  # one measured step, own process
    spec = json.loads(sys.argv[2])
    print(json.dumps(rl_step_run(dict(PRESETS[spec["preset"]], dtype=spec["dtype"]),
                                 spec["settings"], spec["batch"], spec["seq"])))
    return
  args = parse_args()
  if args.memory:
    return _write({"backend": jax.default_backend(), "device": str(jax.devices()[0].device_kind),
                   "memory": run_memory(args.memory, args)}, args.out)
  args.repeats = repeats = 2 if args.quick else 5
  result = machine(args)
  if args.preset:
    return _write(preset_report(result, args), args.out)
  train_and_decode(result, repeats)
  rollout_and_search(result, repeats)
  if args.no_peers or not peers.available():
    result["peers"] = "skipped: " + ("--no-peers" if args.no_peers else
                                     "torch/transformers not installed (pip install -e '.[peers]')")
    print(f"peers {result['peers']}", flush=True)
  else:
    result["peers"] = run_peers(repeats)
  result["verifiers"] = bench_verifiers()
  for name, r in result["verifiers"].items():
    print(f"verify {name}: {r['completions']} completions in {r['seconds']:.3f}s", flush=True)
  _write(result, args.out)


def parse_args():
  parser = argparse.ArgumentParser()
  parser.add_argument("--out", default="bench.json")
  parser.add_argument("--quick", action="store_true", help="fewer repeats (smoke test)")
  parser.add_argument("--no-peers", action="store_true", help="skip the transformers/PyTorch peers")
  parser.add_argument("--preset", choices=sorted(PRESETS),
                      help="measure only this real-model shape (random weights)")
  parser.add_argument("--dtype", default="float32", choices=("float32", "bfloat16"))
  parser.add_argument("--preset-batch", type=int, default=8)
  parser.add_argument("--memory", choices=sorted(PRESETS),
                      help="only the RL step's memory with and without remat / chunked logits")
  parser.add_argument("--memory-batch", type=int, default=4)
  parser.add_argument("--memory-seq", type=int, default=1024)
  parser.add_argument("--no-run", action="store_true", help="--memory: XLA's estimates only")
  parser.add_argument("--memory-settings", default="",
                      help=f"--memory: a comma-separated subset of {sorted(MEMORY_SETTINGS)}")
  return parser.parse_args()


def machine(args) -> dict:
  """The backend, devices, measured matmul peak and memory bandwidth every ratio refers to."""
  size = 1024 if args.quick else 2048 if jax.default_backend() == "cpu" else 8192
  result: dict = {"backend": jax.default_backend(), "device": str(jax.devices()[0].device_kind),
                  "devices": jax.device_count(), "machine": platform.machine(),
                  "matmul_peak_gflops": matmul_peak(size, args.dtype)}
  result["nominal_bf16_peak_gflops"] = nominal_peak_gflops(result["device"])
  result["memory_bandwidth_gbs"] = memory_bandwidth(256 if args.quick else 1024)
  print(f"matmul peak ({args.dtype}): {result['matmul_peak_gflops']:.1f} GFLOP/s; memory "
        f"bandwidth {result['memory_bandwidth_gbs']:.1f} GB/s", flush=True)
  return result


def preset_report(result: dict, args) -> dict:
  """A real model's shape alone: its train step's MFU against the measured peak (and the data
  sheet's bf16 peak where known)."""
  args.peak = result["matmul_peak_gflops"]
  result["preset"] = {args.preset: run_preset(args.preset, args.dtype, args)}
  r = result["preset"][args.preset]["train"]
  r["share_of_peak"] = r["gflops_per_s"] / result["matmul_peak_gflops"]
  print(f"preset train MFU vs the measured matmul peak: {100 * r['share_of_peak']:.0f}%")
  if result["nominal_bf16_peak_gflops"] and args.dtype == "bfloat16":
    r["mfu_nominal"] = r["gflops_per_s"] / result["nominal_bf16_peak_gflops"]
    print(f"preset train MFU vs the data-sheet bf16 peak: {100 * r['mfu_nominal']:.0f}%")
  return result


def train_and_decode(result: dict, repeats: int) -> None:
  """Training steps at three sizes, greedy decode at four batch settings against their
  rooflines, the bf16 cache's error, and the XLA attention path."""
  result["train"] = {}
  for name, shape in (("default", DEFAULT), ("larger", LARGER), ("large", LARGE)):
    r = bench_train(shape, batch=64, seq=96, repeats=repeats)
    r["share_of_peak"] = r["gflops_per_s"] / result["matmul_peak_gflops"]
    result["train"][name] = r
    print(f"train {name} ({r['params_M']:.2f}M): {r['tokens_per_s']:.0f} tok/s, "
          f"{r['gflops_per_s']:.1f} GFLOP/s = {100 * r['share_of_peak']:.0f}% of peak", flush=True)
  result["sampler"] = {}
  cfg = _config(DEFAULT)
  for batch, cache_dtype in ((1, None), (64, None), (64, "bfloat16"), (256, None)):
    r = bench_sampler(DEFAULT, batch=batch, prompt_len=32, max_new=64, repeats=repeats,
                      cache_dtype=cache_dtype)
    itemsize = jnp.dtype(r["cache_dtype"]).itemsize
    r["roofline"] = decode_roofline(cfg, batch, 32 + 64, itemsize, r["step_s"],
                                    result["matmul_peak_gflops"])
    name = f"batch_{batch}" + ("_bf16_cache" if cache_dtype else "")
    result["sampler"][name] = r
    print(f"sampler {name}: {r['tokens_per_s']:.0f} tok/s, {1e3 * r['step_s']:.2f} ms per token "
          f"step = {r['roofline']['vs_bound']:.1f}x its {r['roofline']['limit']} bound", flush=True)
  result["cache_bf16_error"] = cache_error(DEFAULT)
  print(f"bf16 KV cache: max |logit error| {result['cache_bf16_error']['max_abs_logit_error']:.4f} "
        f"(max |logit| {result['cache_bf16_error']['max_abs_logit']:.1f})", flush=True)
  xla = dict(DEFAULT, attention="xla")
  result["attention_xla"] = {"train": bench_train(xla, batch=64, seq=96, repeats=repeats),
                             "sampler_batch_64": bench_sampler(xla, batch=64, prompt_len=32,
                                                               max_new=64, repeats=repeats)}
  print(f"attention via jax.nn.dot_product_attention (xla): train "
        f"{result['attention_xla']['train']['tokens_per_s']:.0f} tok/s, sampler batch 64 "
        f"{result['attention_xla']['sampler_batch_64']['tokens_per_s']:.0f} tok/s", flush=True)


def rollout_and_search(result: dict, repeats: int) -> None:
  """The slot engine against a static batch on an RL rollout, and MCTS simulations per second."""
  r = bench_rollout(DEFAULT, prompts=32, samples=8, prompt_len=24, max_new=64, mean_length=16,
                    slot_counts=(32, 64), repeats=repeats)
  result["rollout"] = r
  for name in ("static_shared_prefill", "slots_32", "slots_64"):
    print(f"rollout 32 x 8, geometric lengths (mean 16, max_new 64) {name}: "
          f"{r[name]['useful_tokens_per_s']:.0f} useful tok/s = {r[name]['speedup']:.2f}x "
          f"[{r[name]['speedup_range'][0]:.2f}, {r[name]['speedup_range'][1]:.2f}] the "
          f"static batch's {r['static']['useful_tokens_per_s']:.0f}", flush=True)
  r = bench_mcts(DEFAULT, batch=64, num_simulations=32, num_candidates=4, step_tokens=16,
                 repeats=max(1, repeats // 2))
  result["mcts"] = r
  print(f"mcts batch {r['batch']} x {r['num_simulations']} simulations: "
        f"{r['simulations_per_s']:.0f} simulations/s ({r['call_s']:.2f} s per call)", flush=True)


def _write(result: dict, path: str) -> None:
  with open(path, "w") as f:
    json.dump(result, f, indent=2)
  print(f"wrote {path}")


if __name__ == "__main__":
  main()

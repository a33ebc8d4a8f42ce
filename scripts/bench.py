"""Throughput benchmarks on whatever backend JAX finds; writes JSON.

  python scripts/bench.py [--out bench.json] [--quick] [--no-peers]

Reports: measured f32 matmul peak; training step tokens/s and achieved GFLOP/s (and the share of
the matmul peak, the MFU against this machine's own matmul) for the default model and two larger
ones; sampler tokens/s at batch 1, 64, 256; MCTS simulations/s (64 problems, 32 simulations, one
jitted call); verifier throughput (completions/s) for every task; and, when the optional `peers`
extra is installed (`make bench` installs it), the same model and weights in Hugging Face
transformers / PyTorch: `generate` against our sampler and the PyTorch training step against ours
(scripts/peers.py). Every figure carries the device kind it ran on.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, ".")
sys.path.insert(0, "scripts")
import peers  # noqa: E402  (scripts/peers.py)
from reasoning import compute, model as model_lib, sampling  # noqa: E402
from reasoning.search import mcts  # noqa: E402
from reasoning.tasks import TASKS, get_task, reference_completion  # noqa: E402
from reasoning.text import VOCAB  # noqa: E402
from reasoning.train import sft, state as state_lib  # noqa: E402

DEFAULT = dict(d_model=128, n_layers=4, n_heads=4, n_kv_heads=4, d_ff=384, max_len=256)
LARGER = dict(d_model=256, n_layers=4, n_heads=4, n_kv_heads=4, d_ff=768, max_len=256)
LARGE = dict(d_model=512, n_layers=4, n_heads=8, n_kv_heads=8, d_ff=1536, max_len=256)


def timed(fn, *, repeats: int, warmup: int = 2) -> float:
  """Median seconds per call of fn() (which must block until its result is ready)."""
  for _ in range(warmup):
    fn()
  times = []
  for _ in range(repeats):
    t = time.perf_counter()
    fn()
    times.append(time.perf_counter() - t)
  return float(np.median(times))


def matmul_peak(n: int = 2048) -> float:
  a = jnp.ones((n, n), jnp.float32)
  f = jax.jit(lambda x: x @ x)
  return 2 * n**3 / timed(lambda: f(a).block_until_ready(), repeats=5) / 1e9


def bench_train(shape: dict, batch: int, seq: int, repeats: int) -> dict:
  cfg = model_lib.ModelConfig(vocab_size=VOCAB.size, **shape)
  graphdef, params = model_lib.init(cfg, jax.random.key(0))
  tx = state_lib.make_optimizer(state_lib.OptimConfig(total_steps=1000))
  holder = [state_lib.create(params, tx)]
  step = sft.make_train_step(graphdef, tx)
  rng = np.random.default_rng(0)
  data = {"tokens": jnp.asarray(rng.integers(3, VOCAB.size, (batch, seq)), jnp.int32),
          "loss_mask": jnp.ones((batch, seq), jnp.float32)}

  def run():
    holder[0], metrics = step(holder[0], data)
    jax.block_until_ready(metrics)

  dt = timed(run, repeats=repeats)
  flops = compute.train_flops(cfg, [seq] * batch)
  return {"params_M": model_lib.count_params(params) / 1e6, "batch": batch, "seq": seq,
          "step_s": dt, "tokens_per_s": batch * seq / dt, "gflops_per_s": flops / dt / 1e9}


def bench_sampler(shape: dict, batch: int, prompt_len: int, max_new: int, repeats: int) -> dict:
  cfg = model_lib.ModelConfig(vocab_size=VOCAB.size, **shape)
  graphdef, params = model_lib.init(cfg, jax.random.key(0))
  prompts = jnp.asarray(np.random.default_rng(0).integers(3, VOCAB.size, (batch, prompt_len)),
                        jnp.int32)
  lengths = []

  def run():
    out = sampling.generate(graphdef, params, prompts, jax.random.key(len(lengths)),
                            max_new=max_new, temperature=1.0)
    lengths.append(int(out.lengths.sum()))

  dt = timed(run, repeats=repeats)
  return {"batch": batch, "prompt_len": prompt_len, "max_new": max_new, "call_s": dt,
          "tokens_per_s": float(np.median(lengths)) / dt,
          "flops_per_s": compute.generation_flops(cfg, [prompt_len] * batch,
                                                  [np.median(lengths) / batch] * batch) / dt}


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
  out = {"torch": torch.__version__, "transformers": transformers.__version__,
         "torch_threads": torch.get_num_threads(), "sampler": {}, "train": {}}
  for batch in (1, 64):
    r = peers.bench_sampler(DEFAULT, VOCAB.size, timed, batch=batch, prompt_len=32, max_new=64,
                            repeats=repeats)
    out["sampler"][f"batch_{batch}"] = r
    print(f"peer sampler batch {batch} (greedy, same weights, same_tokens={r['same_tokens']}): "
          f"ours {r['ours_tokens_per_s']:.0f} tok/s, transformers.generate "
          f"{r['transformers_tokens_per_s']:.0f} tok/s: {r['speedup']:.1f}x", flush=True)
  for name, shape in (("default", DEFAULT), ("large", LARGE)):
    r = peers.bench_train(shape, VOCAB.size, timed, batch=64, seq=96, repeats=repeats)
    out["train"][name] = r
    print(f"peer train {name} ({r['params_M']:.2f}M, batch 64 x 96): ours "
          f"{r['ours_tokens_per_s']:.0f} tok/s, PyTorch eager {r['torch_tokens_per_s']:.0f} tok/s: "
          f"{r['speedup']:.2f}x", flush=True)
  return out


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("--out", default="bench.json")
  parser.add_argument("--quick", action="store_true", help="fewer repeats (smoke test)")
  parser.add_argument("--no-peers", action="store_true", help="skip the transformers/PyTorch peers")
  args = parser.parse_args()
  repeats = 2 if args.quick else 5
  result = {"backend": jax.default_backend(), "device": str(jax.devices()[0].device_kind),
            "devices": jax.device_count(), "machine": platform.machine(),
            "matmul_peak_gflops": matmul_peak(1024 if args.quick else 2048)}
  print(f"matmul peak: {result['matmul_peak_gflops']:.1f} GFLOP/s", flush=True)
  result["train"] = {}
  for name, shape in (("default", DEFAULT), ("larger", LARGER), ("large", LARGE)):
    r = bench_train(shape, batch=64, seq=96, repeats=repeats)
    r["share_of_peak"] = r["gflops_per_s"] / result["matmul_peak_gflops"]
    result["train"][name] = r
    print(f"train {name} ({r['params_M']:.2f}M): {r['tokens_per_s']:.0f} tok/s, "
          f"{r['gflops_per_s']:.1f} GFLOP/s = {100 * r['share_of_peak']:.0f}% of peak", flush=True)
  result["sampler"] = {}
  for batch in (1, 64, 256):
    r = bench_sampler(DEFAULT, batch=batch, prompt_len=32, max_new=64, repeats=repeats)
    result["sampler"][f"batch_{batch}"] = r
    print(f"sampler batch {batch}: {r['tokens_per_s']:.0f} tok/s", flush=True)
  r = bench_mcts(DEFAULT, batch=64, num_simulations=32, num_candidates=4, step_tokens=16,
                 repeats=max(1, repeats // 2))
  result["mcts"] = r
  print(f"mcts batch {r['batch']} x {r['num_simulations']} simulations: "
        f"{r['simulations_per_s']:.0f} simulations/s ({r['call_s']:.2f} s per call)", flush=True)
  if args.no_peers or not peers.available():
    result["peers"] = "skipped: " + ("--no-peers" if args.no_peers else
                                     "torch/transformers not installed (pip install -e '.[peers]')")
    print(f"peers {result['peers']}", flush=True)
  else:
    result["peers"] = run_peers(repeats)
  result["verifiers"] = bench_verifiers()
  for name, r in result["verifiers"].items():
    print(f"verify {name}: {r['completions']} completions in {r['seconds']:.3f}s", flush=True)
  with open(args.out, "w") as f:
    json.dump(result, f, indent=2)
  print(f"wrote {args.out}")


if __name__ == "__main__":
  main()

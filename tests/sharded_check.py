"""Run by tests/test_mesh.py in a subprocess with 8 fake CPU devices: SFT and RL steps on a
2x2x2 (data, fsdp, tensor) mesh against the same steps on one device. Prints one JSON line."""

import json
import os

assert "--xla_force_host_platform_device_count=8" in os.environ.get("XLA_FLAGS", "")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

from reasoning import mesh as mesh_lib  # noqa: E402
from support import sharding_check_steps  # noqa: E402
from reasoning.text import VOCAB  # noqa: E402
from reasoning.train import state as state_lib  # noqa: E402

graphdef, params, tx, steps, prompts = sharding_check_steps()
mesh = mesh_lib.make_mesh(mesh_lib.MeshConfig(data=2, fsdp=2, tensor=2))
report = {"devices": jax.device_count()}
for name, (step, batch) in steps.items():
  fresh = lambda: state_lib.create(jax.tree.map(jnp.copy, params), tx)  # steps donate states
  single = fresh()
  sharded = jax.device_put(fresh(), mesh_lib.state_shardings(mesh, fresh()))
  for _ in range(2):
    single, m1 = step(single, batch)
    sharded, m2 = step(sharded, mesh_lib.shard_batch(mesh, batch))
  diff = max(float(jnp.max(jnp.abs(a - b))) for a, b in
             zip(jax.tree.leaves(single.params), jax.tree.leaves(sharded.params)))
  up = sharded.params["block_0"]["mlp"]["up"]["kernel"]
  report[name] = {"loss": [float(m1["loss"]), float(m2["loss"])], "max_param_diff": diff,
                  "up_spec": list(up.sharding.spec), "up_shards": len(up.addressable_shards),
                  "up_shard_shape": list(up.addressable_shards[0].data.shape)}
# The sampler: the same jitted generate on sharded params; the prompts are passed as a plain
# array and generate splits them over the params' data axes (mesh.split_like).
from reasoning import sampling  # noqa: E402
from reasoning.text import pad_prompts  # noqa: E402
prompt_tokens = pad_prompts(VOCAB, prompts, 32)
greedy = lambda p, t: sampling.generate(graphdef, p, t, jax.random.key(1), max_new=12,
                                        temperature=0.0)
one = greedy(params, jnp.asarray(prompt_tokens))
many = greedy(jax.device_put(params, mesh_lib.state_shardings(mesh, params)),
              jnp.asarray(prompt_tokens))
report["sampler"] = {"same_tokens": bool((one.tokens == many.tokens).all()),
                     "max_logprob_diff": float(jnp.max(jnp.abs(one.logprobs - many.logprobs))),
                     "token_shards": len(many.tokens.addressable_shards),
                     "rows_per_shard": many.tokens.addressable_shards[0].data.shape[0]}
# Pure data parallelism: params replicated on a data mesh of all 8 devices, so each device runs
# its own decode loop over its row (shard_map) instead of a collective per token; sampled (not
# only greedy) tokens must equal one device's.
data_mesh = mesh_lib.make_mesh(mesh_lib.MeshConfig(data=-1))
replicated = jax.device_put(params, mesh_lib.state_shardings(data_mesh, params))
sample = lambda p: sampling.generate(graphdef, p, jnp.asarray(prompt_tokens), jax.random.key(2),
                                     max_new=12, temperature=1.0, top_k=20)
one, many = sample(params), sample(replicated)
split = mesh_lib.split_like(replicated, jnp.asarray(prompt_tokens))
report["data_parallel_sampler"] = {
    "per_device_loops": mesh_lib.replicated_over(replicated, split) is data_mesh,
    "same_tokens": bool((one.tokens == many.tokens).all()),
    "same_lengths": bool((one.lengths == many.lengths).all()),
    "max_logprob_diff": float(jnp.max(jnp.abs(one.logprobs - many.logprobs))),
    "rows_per_shard": many.tokens.addressable_shards[0].data.shape[0]}
# The experiments end to end on the mesh: tiny SFT, then RL from it (rollouts, scoring against
# the reference policy, minibatch steps), the same entrypoints as on one device.
import runpy  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from experiments import rl, sft as sft_exp  # noqa: E402

with tempfile.TemporaryDirectory() as tmp:
  sft_config = runpy.run_path(os.path.join(ROOT, "configs/countdown_sft.py"))["get_config"]("tiny")
  rl_config = runpy.run_path(os.path.join(ROOT, "configs/countdown_rl.py"))["get_config"]("tiny")
  for c in (sft_config, rl_config):
    c.mesh.update({"data": 2, "fsdp": 2, "tensor": 2})
  sft_exp.run(sft_config, os.path.join(tmp, "sft"))
  rl_config.init_from = os.path.join(tmp, "sft")
  out = rl.run(rl_config, os.path.join(tmp, "rl"))
  up = out["params"]["block_0"]["mlp"]["up"]["kernel"]
  report["experiments"] = {"rl_greedy_all": out["metrics"]["greedy/all"],
                           "rl_up_shards": len({str(s.index) for s in up.addressable_shards})}
print(json.dumps(report))

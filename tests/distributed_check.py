"""Run by tests/test_mesh.py: SFT and PPO steps on a (data=2, fsdp=2) mesh of 4 CPU devices,
either in one process or in `num_processes` processes joined by `jax.distributed` (CPU
collectives over gloo), each holding its share of the devices. Every process computes the same
host batch (data is a function of the seed and step) and `mesh.shard_batch` places its rows.
Process 0 prints one JSON line: the losses and the parameters' sums after the steps.

  python tests/distributed_check.py PROCESS_ID NUM_PROCESSES PORT
"""

import json
import os
import sys

process_id, num_processes, port = (int(x) for x in sys.argv[1:4])
devices_here = 4 // num_processes
os.environ["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices_here}"
os.environ["JAX_PLATFORMS"] = "cpu"

import jax  # noqa: E402

if num_processes > 1:
  jax.config.update("jax_cpu_collectives_implementation", "gloo")
  jax.distributed.initialize(f"localhost:{port}", num_processes=num_processes,
                             process_id=process_id)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from jax.experimental import multihost_utils  # noqa: E402

from reasoning import mesh as mesh_lib, model  # noqa: E402
from reasoning.text import VOCAB, pad_examples  # noqa: E402
from reasoning.train import pg, sft, state as state_lib  # noqa: E402

assert jax.device_count() == 4 and jax.local_device_count() == devices_here
cfg = model.ModelConfig(vocab_size=VOCAB.size, d_model=32, n_layers=2, n_heads=4, n_kv_heads=2,
                        d_ff=64, max_len=64)
graphdef, params = model.init(cfg, jax.random.key(0))
tx = state_lib.make_optimizer(state_lib.OptimConfig(lr=1e-2, warmup_steps=0, total_steps=10))
prompts = [f"countdown {i} {i + 1} 3 to {2 * i + 4}\n" for i in range(8)]
completions = [f"{i + 1}+{i}={2 * i + 1}\n{2 * i + 1}+3={2 * i + 4}\nANSWER: {2 * i + 4}\n"
               for i in range(8)]
tokens, loss_mask = pad_examples(VOCAB, prompts, completions, 56)
rng = np.random.default_rng(0)
mask = (tokens[:, 1:] != 0).astype(np.float32)
rl_batch = {"tokens": tokens, "mask": mask,
            "old_logp": -rng.random(mask.shape).astype(np.float32),
            "ref_logp": -rng.random(mask.shape).astype(np.float32),
            "advantages": rng.standard_normal(mask.shape).astype(np.float32),
            "returns": rng.random(mask.shape).astype(np.float32),
            "old_values": rng.random(mask.shape).astype(np.float32)}
steps = {"sft": (sft.make_train_step(graphdef, tx), {"tokens": tokens, "loss_mask": loss_mask}),
         "rl": (pg.make_train_step(graphdef, tx, pg.PGConfig(algo="ppo")), rl_batch)}

mesh = mesh_lib.make_mesh(mesh_lib.MeshConfig(data=2, fsdp=2, tensor=1))
report = {"processes": jax.process_count()}
for name, (step, batch) in steps.items():
  state = state_lib.create(jax.tree.map(jnp.copy, params), tx)
  state = jax.device_put(state, mesh_lib.state_shardings(mesh, state))
  losses = []
  for _ in range(2):
    state, metrics = step(state, mesh_lib.shard_batch(mesh, batch))
    losses.append(float(multihost_utils.process_allgather(metrics["loss"])))
  leaves = [np.asarray(multihost_utils.process_allgather(x, tiled=True))
            for x in jax.tree.leaves(state.params)]
  report[name] = {"loss": losses, "param_sums": [float(x.astype(np.float64).sum()) for x in leaves],
                  "param_bytes_crc": int(sum(np.frombuffer(x.tobytes(), np.uint8).sum(dtype=np.int64)
                                             for x in leaves))}
if process_id == 0:
  print(json.dumps(report), flush=True)

"""Run by tests/test_mesh.py: SFT and PPO steps on a (data=2, fsdp=2) mesh of 4 CPU devices,
either in one process or in `num_processes` processes joined by `jax.distributed` (CPU
collectives over gloo), each holding its share of the devices. Every process computes the same
host batch (data is a function of the seed and step) and `mesh.shard_batch` places its rows.
Process 0 prints one JSON line (the losses) and saves the parameters after the steps to OUT.npz.

  python tests/distributed_check.py PROCESS_ID NUM_PROCESSES PORT OUT
"""

import json
import os
import sys

process_id, num_processes, port = (int(x) for x in sys.argv[1:4])
out = sys.argv[4]
devices_here = 4 // num_processes
os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "")
                           + f" --xla_force_host_platform_device_count={devices_here}")
os.environ["JAX_PLATFORMS"] = "cpu"

import jax  # noqa: E402

if num_processes > 1:
  jax.config.update("jax_cpu_collectives_implementation", "gloo")
  jax.distributed.initialize(f"localhost:{port}", num_processes=num_processes,
                             process_id=process_id)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from jax.experimental import multihost_utils  # noqa: E402

from reasoning import mesh as mesh_lib  # noqa: E402
from support import sharding_check_steps  # noqa: E402
from reasoning.train import state as state_lib  # noqa: E402

assert jax.device_count() == 4 and jax.local_device_count() == devices_here
graphdef, params, tx, steps, _ = sharding_check_steps()
mesh = mesh_lib.make_mesh(mesh_lib.MeshConfig(data=2, fsdp=2, tensor=1))
report, arrays = {"processes": jax.process_count()}, {}
for name, (step, batch) in steps.items():
  state = state_lib.create(jax.tree.map(jnp.copy, params), tx)
  state = jax.device_put(state, mesh_lib.state_shardings(mesh, state))
  losses = []
  for _ in range(2):
    state, metrics = step(state, mesh_lib.shard_batch(mesh, batch))
    losses.append(float(metrics["loss"].addressable_data(0)))  # replicated: any copy
  leaves = [np.asarray(multihost_utils.process_allgather(x, tiled=True))
            for x in jax.tree.leaves(state.params)]
  report[name] = losses
  arrays.update({f"{name}_{i}": x for i, x in enumerate(leaves)})
if process_id == 0:
  np.savez(out, **arrays)
  print(json.dumps(report), flush=True)

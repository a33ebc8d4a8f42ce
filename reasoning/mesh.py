"""One code path from one CPU to a pod: a `Mesh` with axes (data, fsdp, tensor) and the
`NamedSharding`s of parameters, optimizer state and batches. Trainers and samplers stay plain
jitted functions; arrays placed with these shardings make XLA (GSPMD) partition them.

  mesh = make_mesh(MeshConfig(data=-1, fsdp=2, tensor=2))   # -1: the remaining devices
  state = jax.device_put(state, state_shardings(mesh, state))
  batch = jax.device_put(batch, batch_sharding(mesh))
  state, metrics = train_step(state, batch)                   # the same step as on one device

Parameter rules (Megatron-style, by the parameter's name; a dimension that does not divide by
its mesh axes stays replicated):
  attention q/kv, MLP up kernels [in, out]   in -> fsdp, out -> tensor (column parallel)
  attention o, MLP down kernels [in, out]    in -> tensor, out -> fsdp (row parallel)
  embedding [vocab, d]                       vocab -> tensor, d -> fsdp
  norms, heads' biases, scalars              replicated
Optimizer moments follow their parameter (their paths end with the same names). Batches split
their leading axis over data x fsdp. Multi-process (several hosts, or several processes on one):
every process runs the same program after `jax.distributed.initialize` (experiments.common does
it from `--num_processes`, `--process_id`, `--coordinator_address`); the mesh then spans every
process's devices, and every process computes the same host batch, of which `shard_batch` places
the rows its devices hold.
"""

from __future__ import annotations

import dataclasses

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

AXES = ("data", "fsdp", "tensor")
ROW_AXES = ("data", "fsdp")  # what a batch's rows split over
_ROW_PARALLEL = ("o", "down")


@dataclasses.dataclass(frozen=True)
class MeshConfig:
  data: int = -1
  fsdp: int = 1
  tensor: int = 1


def make_mesh(cfg: MeshConfig, devices=None) -> Mesh:
  """A (data, fsdp, tensor) mesh over `devices` (default: all); one size may be -1."""
  devices = list(devices if devices is not None else jax.devices())
  sizes = [cfg.data, cfg.fsdp, cfg.tensor]
  if sizes.count(-1) > 1 or any(s == 0 or s < -1 for s in sizes):
    raise ValueError(f"mesh: sizes must be positive with at most one -1, got {dict(zip(AXES, sizes))}")
  known = int(np.prod([s for s in sizes if s != -1]))
  if -1 in sizes:
    if len(devices) % known:
      raise ValueError(f"mesh: {len(devices)} devices do not divide into {dict(zip(AXES, sizes))}")
    sizes[sizes.index(-1)] = len(devices) // known
  if int(np.prod(sizes)) != len(devices):
    raise ValueError(f"mesh: {dict(zip(AXES, sizes))} needs {int(np.prod(sizes))} devices, "
                     f"have {len(devices)}")
  return Mesh(np.array(devices).reshape(sizes), AXES)


def _fits(mesh: Mesh, dim: int, axes) -> bool:
  axes = (axes,) if isinstance(axes, str) else axes
  return dim % int(np.prod([mesh.shape[a] for a in axes])) == 0


def param_spec(mesh: Mesh, path: tuple[str, ...], shape: tuple[int, ...]) -> P:
  """The PartitionSpec of a parameter (or its optimizer moment) from its path and shape."""
  if len(shape) != 2:
    return P()
  want: tuple[str | None, str | None]
  if path and path[-1] == "embedding":
    want = ("tensor", "fsdp")
  elif path and path[-1] == "kernel":
    module = path[-2] if len(path) > 1 else ""
    want = ("tensor", "fsdp") if module in _ROW_PARALLEL else ("fsdp", "tensor")
    if shape[1] <= 2:  # value / reward heads: [d, 1]
      want = (None, None)
  else:
    want = (None, None)
  return P(*[a if a and _fits(mesh, d, a) else None for a, d in zip(want, shape)])


def _names(path) -> tuple[str, ...]:
  out = []
  for k in path:
    name = getattr(k, "key", getattr(k, "name", getattr(k, "idx", None)))
    out.append(str(name))
  return tuple(out)


def state_shardings(mesh: Mesh, tree):
  """NamedShardings for any pytree of parameters, optimizer state or TrainState."""
  return jax.tree_util.tree_map_with_path(
      lambda path, x: NamedSharding(mesh, param_spec(mesh, _names(path), np.shape(x))), tree)


def batch_sharding(mesh: Mesh) -> NamedSharding:
  """Leading (batch) axis over data x fsdp; the rest replicated."""
  return NamedSharding(mesh, P(ROW_AXES))


def shard_batch(mesh: Mesh, batch):
  """device_put every array of a batch with its leading axis split over data x fsdp."""
  sharding = batch_sharding(mesh)
  return jax.tree.map(lambda x: jax.device_put(x, sharding), batch)


def _mesh_of(params, batch) -> Mesh | None:
  """The mesh of more than one device that `params` live on; None on one device, for arrays
  that are not placed with a NamedSharding, and inside a trace (the caller's jit decides)."""
  leaf = jax.tree.leaves(params)[0]
  if isinstance(batch, jax.core.Tracer) or isinstance(leaf, jax.core.Tracer):
    return None
  sharding = getattr(leaf, "sharding", None)
  if not isinstance(sharding, NamedSharding) or sharding.mesh.size == 1:
    return None
  return sharding.mesh if isinstance(sharding.mesh, Mesh) else None


def split_like(params, batch):
  """`batch` (an array) with its leading axis split over data x fsdp of the mesh that `params`
  live on, so a jitted call on (params, batch) runs data-parallel instead of repeating the whole
  batch on every device that holds a replica. Unchanged when the params are on one device, when
  the batch does not divide, or inside a trace (the caller's jit then decides)."""
  mesh = _mesh_of(params, batch)
  if mesh is None or batch.shape[0] % (mesh.shape["data"] * mesh.shape["fsdp"]):
    return batch
  return jax.device_put(batch, batch_sharding(mesh))


def replicated_over(params, batch) -> Mesh | None:
  """The mesh when `params` are whole on each of its (more than one) devices and `batch` is
  split over its rows' axes (`split_like`): pure data parallelism, where each device can run
  its own loop over its rows (sampling.generate); None otherwise, and inside a trace."""
  mesh = _mesh_of(params, batch)
  if mesh is None or getattr(batch, "sharding", None) != batch_sharding(mesh):
    return None
  whole = lambda x: (isinstance(getattr(x, "sharding", None), NamedSharding)
                     and x.sharding.mesh == mesh and x.sharding.is_fully_replicated)
  return mesh if all(whole(x) for x in jax.tree.leaves(params)) else None


def is_first_process() -> bool:
  """Whether this process writes a run's files (config, metrics, plots, the workdir's lock):
  the only process of a run, or the first of a multi-process one."""
  return jax.process_index() == 0


def to_host(tree):
  """numpy copies of a pytree of arrays, gathered from every process where an array spans
  devices of other processes (a multi-process run); `jax.device_get` otherwise."""
  def get(x):
    if isinstance(x, jax.Array) and not x.is_fully_addressable:
      from jax.experimental import multihost_utils
      return np.asarray(multihost_utils.process_allgather(x, tiled=True))
    return jax.device_get(x)
  return jax.tree.map(get, tree)

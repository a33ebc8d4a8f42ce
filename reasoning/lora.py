"""LoRA (Hu et al. 2021) as a transform of the parameters: train a low-rank update of each chosen
kernel and nothing else of the base model.

  adapters = lora.init(params, cfg, key)          # {"block_0/attn/q": {"a": [in, r], "b": [r, out]}, ...}
  merged = lora.merge(params, adapters, cfg)      # W + alpha / r * a @ b: plain parameters
  model.apply(graphdef, merged, tokens)           # the model, the sampler and hf.save unchanged

The model is used functionally (`apply(graphdef, params, ...)`), so an adapter is a function of
the parameters rather than a change to the modules: the forward pass, the sampler, the KV cache
and export read merged parameters, and `b` starts at zero, so the merged model starts as the base
exactly. The trainable set is the adapters plus the value and reward heads (d_model + 1 each,
so PPO's critic still learns); the optimizer state is kept for those alone. Merging costs one
[in, r] x [r, out] product per kernel per step, small next to any batch of tokens.

Why not qwix (Tunix's LoRA): qwix attaches adapters by intercepting the dot_generals inside a
module's `__call__`, which our SwiGLU's hand-written backward (a custom_vjp over the raw kernels)
hides from it, and it keeps LoRA weights as module state; a parameter transform needs neither.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp

from reasoning.runs import names

# Kernels an adapter can target, by the name of the block part that holds them.
PARTS = {"attn": ("q", "kv", "o"), "mlp": ("up", "down")}
HEADS = ("value_head", "reward_head")  # trained in full alongside the adapters


@dataclasses.dataclass(frozen=True)
class LoraConfig:
  rank: int = 0                            # 0: off (full fine-tuning)
  alpha: float = 16.0                      # the update is alpha / rank * a @ b
  targets: tuple[str, ...] = ("attn", "mlp")

  def __post_init__(self):
    if self.rank < 0:
      raise ValueError(f"lora.rank must be >= 0, got {self.rank}")
    unknown = sorted(set(self.targets) - set(PARTS))
    if unknown:
      raise ValueError(f"lora.targets: {unknown[0]!r} is not one of {sorted(PARTS)}")

  @property
  def on(self) -> bool:
    return self.rank > 0

  @classmethod
  def from_config(cls, block) -> "LoraConfig":
    """From a config's `lora` block ({"rank", "alpha", "targets": ("attn", "mlp")}); off if None.
    A target may arrive as a comma string ("attn,mlp", from the command line or a saved run)."""
    if block is None:
      return cls()
    return cls(rank=int(block.get("rank", 0)), alpha=float(block.get("alpha", 16.0)),
               targets=tuple(names(block.get("targets", ("attn", "mlp")))))


def kernels(params, cfg: LoraConfig) -> list[str]:
  """The '/'-joined paths of the kernels `cfg` puts adapters on, in a stable order."""
  paths = []
  for name in sorted(params):
    if not name.startswith("block_"):
      continue
    for part in cfg.targets:
      for leaf in PARTS[part]:
        if leaf in params[name].get(part, {}):
          paths.append(f"{name}/{part}/{leaf}")
  return paths


def _kernel(params, path: str):
  node = params
  for key in path.split("/"):
    node = node[key]
  return node["kernel"]


def init(params, cfg: LoraConfig, key: jax.Array) -> dict:
  """The trainable tree: {"adapters": {path: {"a", "b"}}, "heads": the value and reward heads
  (copies)}. `a` is Kaiming-uniform over the kernel's input, `b` is zero."""
  adapters = {}
  for i, path in enumerate(kernels(params, cfg)):
    fan_in, fan_out = _kernel(params, path).shape
    bound = math.sqrt(6.0 / fan_in)
    adapters[path] = {
        "a": jax.random.uniform(jax.random.fold_in(key, i), (fan_in, cfg.rank), jnp.float32,
                                -bound, bound),
        "b": jnp.zeros((cfg.rank, fan_out), jnp.float32)}
  heads = {h: jax.tree.map(jnp.array, params[h]) for h in HEADS if h in params}
  return {"adapters": adapters, "heads": heads}


def merge(params, trainable: dict, cfg: LoraConfig):
  """Plain parameters: each targeted kernel W + alpha / rank * a @ b (in W's dtype), the heads
  replaced by the trained ones, everything else the base's (shared, not copied)."""
  out = dict(params)
  scale = cfg.alpha / cfg.rank
  for path, ab in trainable["adapters"].items():
    node_in, node_out = params, out
    for key in path.split("/"):  # copy each dict on the way down once; the base is left alone
      if node_out[key] is node_in[key]:
        node_out[key] = dict(node_in[key])
      node_in, node_out = node_in[key], node_out[key]
    w = node_in["kernel"]
    node_out["kernel"] = (w + scale * (ab["a"] @ ab["b"])).astype(w.dtype)
  out.update(trainable["heads"])
  return out


def merger(cfg: LoraConfig):
  """A jitted `(base, trainable) -> the parameters the model runs with`: `merge` when LoRA is
  on, else the trainable parameters themselves (full fine-tuning trains the base)."""
  if not cfg.on:
    return lambda base, trainable: trainable
  return jax.jit(lambda base, trainable: merge(base, trainable, cfg))


def count(trainable: dict) -> int:
  return sum(x.size for x in jax.tree.leaves(trainable))

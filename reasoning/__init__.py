"""The library: tasks, models, sampling, trainers, reward models and search (README.md maps it)."""

import os as _os


def _tune_xla_cpu() -> None:
  """XLA:CPU (jaxlib 0.10, the pinned one) lets YNNPACK fuse reductions and elementwise ops as
  well as matmuls; on x86 those reduction fusions (the softmax's backward above all) run the
  default model's training step ~12% slower than XLA's own loops (interleaved A/B, 2 cores).
  Keep YNNPACK for matmuls only. Takes effect if set before jax starts its CPU client; an
  XLA_FLAGS that names the option already wins; other jaxlib versions, which may not know the
  flag (an unknown XLA flag is fatal), are left alone."""
  flags = _os.environ.get("XLA_FLAGS", "")
  if "xla_cpu_experimental_ynn_fusion_type" in flags:
    return
  try:
    from jaxlib import version
  except ImportError:
    return
  if version.__version__.startswith("0.10."):
    _os.environ["XLA_FLAGS"] = (flags + " --xla_cpu_experimental_ynn_fusion_type=individual_dot"
                                ).strip()


_tune_xla_cpu()

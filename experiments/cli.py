"""The command line every entrypoint shares: the --config/--workdir flags and main(), which
reports any bad input as one line on standard error, holds one writer per workdir, starts a
multi-process run and applies the process-level XLA:CPU tuning."""

from __future__ import annotations

import datetime
import os
import time

from absl import flags
from ml_collections import config_flags

CONFIG = config_flags.DEFINE_config_file(
    "config", None, "Config file, e.g. configs/countdown_sft.py (optionally :variant).",
    lock_config=True)
WORKDIR = flags.DEFINE_string(
    "workdir", None, "Output directory; default runs/<experiment>/<timestamp>. Reusing one resumes.")
# Several processes (hosts) run the same command, each with its own --process_id; on TPU pods and
# SLURM, --num_processes=-1 lets jax.distributed find them in the environment.
NUM_PROCESSES = flags.DEFINE_integer("num_processes", 1, "Processes of a multi-process run.")
PROCESS_ID = flags.DEFINE_integer("process_id", 0, "This process's index in a multi-process run.")
COORDINATOR = flags.DEFINE_string("coordinator_address", None,
                                  "host:port of process 0 in a multi-process run.")


def workdir_for(experiment: str, seed=None) -> str:
  """--workdir, or runs/<experiment>/<time>-seed<seed>-<pid>: two runs started in the same second
  (a seed sweep) never share a default workdir."""
  if WORKDIR.value:
    return WORKDIR.value
  if NUM_PROCESSES.value != 1:
    raise ValueError("--workdir: a multi-process run needs one, the same for every process")
  stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
  seed = "" if seed is None else f"-seed{seed}"
  return os.path.join("runs", experiment, f"{stamp}{seed}-{os.getpid()}")


def labelled(item: str) -> tuple[str, str]:
  """The argparse type of the scripts' LABEL=VALUE arguments: (label, value), or a usage error
  naming the item."""
  import argparse
  label, sep, value = item.partition("=")
  if not (label and sep and value):
    raise argparse.ArgumentTypeError(f"{item!r}: expected LABEL=VALUE")
  return label, value


def tune_xla_cpu() -> None:
  """Process-level XLA:CPU tuning, applied where an entrypoint starts (before jax starts its CPU
  client), never on import of the library.

  XLA:CPU (jaxlib 0.10, the pinned one) lets YNNPACK fuse reductions and elementwise ops as well
  as matmuls; on x86 those reduction fusions (the softmax's backward above all) run the default
  model's training step ~12% slower than XLA's own loops (interleaved A/B, 2 cores). This keeps
  YNNPACK for matmuls only. An XLA_FLAGS that names the option already wins; other jaxlib
  versions, which may not know the flag (an unknown XLA flag is fatal), are left alone. Where
  the CPU is the only device it also keeps jax.checkpoint's barriers (_cpu_only)."""
  flags_now = os.environ.get("XLA_FLAGS", "")
  if _cpu_only() and "xla_disable_hlo_passes" not in flags_now:
    flags_now += " --xla_disable_hlo_passes=cse_barrier_expander"
  if "xla_cpu_experimental_ynn_fusion_type" not in flags_now:
    try:
      from jaxlib import version as jaxlib_version
      jaxlib = jaxlib_version.__version__
    except ImportError:
      jaxlib = ""
    if jaxlib.startswith("0.10."):
      flags_now += " --xla_cpu_experimental_ynn_fusion_type=individual_dot"
  os.environ["XLA_FLAGS"] = flags_now.strip()


def _cpu_only() -> bool:
  """No accelerator plugin (CUDA, ROCm, TPU) is installed, or JAX_PLATFORMS asks for the CPU.

  Where the CPU is the device, XLA's `cse_barrier_expander` pass removes the optimization
  barriers jax.checkpoint puts around a rematerialized block before CSE runs, and CSE then merges
  the backward pass's recomputation with the forward values: gradient checkpointing
  (model.remat) saves nothing (an 8-layer model's gradient: 905 MB of temporaries with or
  without it). With the pass off the barriers stay and remat works (121 MB, 'dots' 265 MB);
  nothing else in the code uses them."""
  import importlib.util
  if os.environ.get("JAX_PLATFORMS", "").strip().lower() == "cpu":
    return True
  return not any(importlib.util.find_spec(m) for m in ("jax_plugins", "libtpu"))


def _config_path_and_overrides(argv: list[str]) -> tuple[str | None, list[str]]:
  path, overrides = None, []
  for i, arg in enumerate(argv):
    if arg.startswith("--config="):
      path = arg.split("=", 1)[1]
    elif arg == "--config" and i + 1 < len(argv):
      path = argv[i + 1]
    elif arg.startswith("--config."):
      overrides.append(arg[len("--config."):].split("=", 1)[0])
  return path, overrides


def check_overrides(argv: list[str]) -> None:
  """Raises ValueError, one line, for a config file that does not load (missing, an unknown
  variant, a get_config that raises) and for an unknown `--config.a.b` field, before absl turns
  either into a traceback or an opaque KeyError."""
  import runpy
  path, overrides = _config_path_and_overrides(argv)
  if path is None:
    return
  file, _, arg = path.partition(":")
  if not os.path.isfile(file):
    raise ValueError(f"--config: no such config file {file!r}")
  try:
    config = runpy.run_path(file)["get_config"](arg or None)
  except Exception as e:  # the file's own error, named with the file
    message = str(e) if str(e).startswith(file) else f"{file}: {type(e).__name__}: {e}"
    raise ValueError(f"--config: {message}") from None
  for dotted in overrides:
    node = config
    for i, key in enumerate(dotted.split(".")):
      if not hasattr(node, "keys") or key not in node:
        known = ", ".join(sorted(node.keys())) if hasattr(node, "keys") else "(not a group)"
        where = ".".join(dotted.split(".")[:i]) or "the top level"
        raise ValueError(f"--config.{dotted}: unknown field {key!r} at {where} of {file}; "
                         f"known fields: {known}")
      node = node[key]


def initialize_processes() -> None:
  """jax.distributed.initialize for a multi-process run (a no-op for one process). CPU devices
  talk through gloo, so several processes on one machine make a test of a multi-host run."""
  if NUM_PROCESSES.value == 1:
    return
  import jax
  if os.environ.get("JAX_PLATFORMS", "") == "cpu":
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
  if NUM_PROCESSES.value == -1:
    jax.distributed.initialize()
  else:
    jax.distributed.initialize(COORDINATOR.value, num_processes=NUM_PROCESSES.value,
                               process_id=PROCESS_ID.value)


def lock_workdir(workdir: str):
  """Takes the workdir's lock (an flock on <workdir>/.lock, released by the OS when the process
  ends, however it ends, so it is never stale) and returns the open lock file, which must stay
  open for the run's life. A workdir in use by another process is a ValueError naming both."""
  import fcntl
  import socket
  if os.path.exists(workdir) and not os.path.isdir(workdir):
    raise ValueError(f"--workdir {workdir}: a file, not a directory; pass a directory")
  try:
    os.makedirs(workdir, exist_ok=True)
    f = open(os.path.join(workdir, ".lock"), "a+")
  except OSError as e:
    raise ValueError(f"--workdir {workdir}: cannot be written ({e.strerror}); pass a directory "
                     f"you can write") from None
  try:
    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
  except BlockingIOError:
    f.seek(0)
    other = f.read().strip() or "another process"
    f.close()
    raise ValueError(f"{workdir}: in use by {other}; wait for that run to end, or pass another "
                     f"--workdir") from None
  f.seek(0)
  f.truncate()
  f.write(f"pid {os.getpid()} on {socket.gethostname()}, started "
          f"{datetime.datetime.now():%Y-%m-%d %H:%M:%S}\n")
  f.flush()
  return f


_STDERR = None  # the process's standard error as main() found it (a duplicate descriptor)


def _silence_stderr() -> None:
  """Under main(): standard error to /dev/null from here on (the failure is reported on the
  descriptor main() kept). A failed read of another run's checkpoint leaves orbax's reader
  threads printing hundreds of `Event loop is closed` tracebacks until the process ends."""
  if _STDERR is not None:
    import sys
    sys.stderr.flush()
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)


def _exit_with(message: str) -> None:
  """Exits with status 1 after `message`, one line on the standard error main() found, and
  nothing after it."""
  import sys
  sys.stdout.flush()
  sys.stderr.flush()
  os.write(_STDERR if _STDERR is not None else 2, (message + "\n").encode())
  _silence_stderr()
  sys.exit(1)


def main(run_fn, experiment: str) -> None:
  """absl main for `run_fn(config, workdir)`: clear errors for unknown config fields, one writer
  per workdir, and a one-line error (no traceback) for bad input or a run that went non-finite."""
  import shutil
  import sys
  from absl import app

  from reasoning import loop
  global _STDERR
  _STDERR = os.dup(2)
  tune_xla_cpu()
  try:
    check_overrides(sys.argv[1:])
  except ValueError as e:
    sys.exit(f"error: {e}")

  def _main(argv):
    from absl import logging
    logging.set_verbosity(logging.WARNING)  # orbax logs every file it writes at INFO
    if len(argv) > 1:
      raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    start = time.perf_counter()
    from reasoning import mesh
    initialize_processes()
    try:
      workdir = workdir_for(experiment, CONFIG.value.get("seed"))
      fresh = not os.path.exists(workdir)
      # The first process holds the workdir for all of them (its index, not the flag: with
      # --num_processes=-1 jax.distributed finds the indices in the environment).
      lock = lock_workdir(workdir) if mesh.is_first_process() else None
    except ValueError as e:
      sys.exit(f"error: {e}")
    try:
      run_fn(CONFIG.value, workdir)  # app.run would exit with a returned value
    except (ValueError, loop.NonFinite) as e:
      if fresh and os.listdir(workdir) == [".lock"]:  # a rejected start leaves nothing behind
        shutil.rmtree(workdir, ignore_errors=True)
      _exit_with(f"error: {e}")
    finally:
      if lock is not None:
        lock.close()
    print(f"{experiment}: done in {time.perf_counter() - start:.0f} s", flush=True)

  app.run(_main)

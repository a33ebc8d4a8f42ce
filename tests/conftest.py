"""Shared test setup: run from the repository root so config paths resolve as in the README."""

import os
import pathlib
import tempfile

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]

# One persistent XLA compilation cache for the test run's processes (both pytest workers and the
# entrypoints the tests start): the tiny models' steps and samplers compile once instead of in
# every process. It changes nothing that is computed, only when it is compiled.
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR",
                      os.path.join(tempfile.gettempdir(), "reasoning-tests-xla-cache"))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")

# PyTorch (the transformers parity tests) runs one intra-op thread. With two pytest workers on two
# cores, its OpenMP threads otherwise spin against the other worker's work: transformers' greedy
# generate of SmolLM2 (3 prompts, 64 tokens) took 64.6 s on 2 threads and 5.7 s on 1 beside a busy
# process. Its logits on the chat prompts are the same on one thread as on two.
os.environ.setdefault("OMP_NUM_THREADS", "1")

# The tests' models are tiny, so compiling takes most of a test's time and running it little:
# XLA:CPU's backend optimizations and LLVM's expensive passes are off (compiling a cold suite
# takes a quarter less), and fusions go through XLA's older IR emitters rather than its MLIR
# fusion emitters (a third less again: tests/test_sampling.py, test_pg.py and test_train_sft.py
# in 62 s against 93 s, one process, cold cache). Every compared quantity in a test is computed
# under the same flags, in the test's process and in the entrypoints it starts; an XLA_FLAGS that
# names them wins.
_FAST_COMPILE = {"--xla_backend_optimization_level": "0",
                 "--xla_llvm_disable_expensive_passes": "true",
                 "--xla_cpu_use_fusion_emitters": "false"}
_flags = os.environ.get("XLA_FLAGS", "")
os.environ["XLA_FLAGS"] = " ".join(
    [_flags] + [f"{k}={v}" for k, v in _FAST_COMPILE.items() if k not in _flags]).strip()


@pytest.fixture(autouse=True, scope="session")
def _repo_root_cwd():
  old = os.getcwd()
  os.chdir(REPO)
  yield
  os.chdir(old)


@pytest.fixture(scope="session")
def tiny_model():
  """(config, graphdef, params) of the tiny transformer, built once per test run."""
  import jax

  from reasoning import model
  from support import TINY
  graphdef, params = model.init(TINY, jax.random.key(0))
  return TINY, graphdef, params


# The longest test (every stage of `make reproduce` at the smoke scale, minutes) runs first.
_LONGEST = "test_reproduce_smoke_scale_draws_every_figure"


def pytest_collection_modifyitems(items):
  """The end-to-end (`slow`) tests run first, the longest of them before the rest: with two
  workers, a minute-long test that starts last leaves one core idle at the end of the run."""
  items.sort(key=lambda item: (item.get_closest_marker("slow") is None, item.name != _LONGEST))

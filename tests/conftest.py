"""Shared test setup: run from the repository root so config paths resolve as in the README."""

import os
import pathlib

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]


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
  from reasoning.testing import TINY
  graphdef, params = model.init(TINY, jax.random.key(0))
  return TINY, graphdef, params

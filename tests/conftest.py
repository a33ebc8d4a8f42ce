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

"""Pulse tests: each entrypoint's run(config, workdir) on its tiny config, and flag errors."""

import json
import subprocess
import sys

import pytest

from experiments import common, tasks_demo


def _config(path, variant="tiny"):
  import runpy
  return runpy.run_path(path)["get_config"](variant)


def test_tasks_demo_pulse(tmp_path, capsys):
  table = tasks_demo.run(_config("configs/tasks_demo.py"), str(tmp_path))
  assert json.loads((tmp_path / "tasks_table.json").read_text()) == table
  assert json.loads((tmp_path / "config.json").read_text())["seed"] == 0
  assert {k.split("/")[0] for k in table} == {"countdown", "arithmetic", "letters"}
  assert all(row["verified"] == 1.0 for row in table.values())
  out = capsys.readouterr().out
  assert "countdown/1" in out and "ANSWER:" in out


def test_unknown_config_field_is_a_clear_error():
  with pytest.raises(ValueError, match=r"--config.bogus: unknown field 'bogus'.*known fields: "):
    common.check_overrides(["--config", "configs/tasks_demo.py", "--config.bogus=1"])
  with pytest.raises(ValueError, match="no such config file"):
    common.check_overrides(["--config=configs/nope.py", "--config.seed=1"])
  common.check_overrides(["--config=configs/tasks_demo.py:tiny", "--config.seed=1"])  # fine
  with pytest.raises(ValueError, match="unknown variant 'huge'"):
    _config("configs/tasks_demo.py", "huge")


def test_entrypoint_rejects_unknown_field_in_a_subprocess():
  proc = subprocess.run(
      [sys.executable, "-m", "experiments.tasks_demo", "--config", "configs/tasks_demo.py:tiny",
       "--config.trap_sahre=0.2"], capture_output=True, text=True, timeout=120)
  assert proc.returncode != 0
  assert "unknown field 'trap_sahre'" in proc.stderr

"""docs/extending.md's worked task, run as the page shows it: registered, checked as every task
is, and trained on by the SFT entrypoint."""

import json
import re

import numpy as np
import pytest

from reasoning import tasks
from reasoning.tasks import reference_completion


def _digit_sum_class():
  text = open("docs/extending.md").read()
  block = re.search(r"## Adding a task.*?```python\n(.*?)```", text, re.S).group(1)
  namespace = {"__name__": "digit_sum"}
  exec(compile(block, "docs/extending.md", "exec"), namespace)
  return namespace["DigitSum"]


@pytest.fixture
def digit_sum(monkeypatch):
  cls = _digit_sum_class()
  monkeypatch.setitem(tasks.TASKS, "digit_sum", cls)
  return cls


def test_the_worked_task_keeps_the_task_contract(digit_sum):
  task = tasks.get_task("digit_sum", trap_share=0.3)
  problems = task.sample(np.random.default_rng(0), 40, 2)
  assert any(p.is_trap for p in problems) and not all(p.is_trap for p in problems)
  assert [p.prompt for p in problems] == [
      p.prompt for p in task.sample(np.random.default_rng(0), 40, 2)]
  for p in problems:
    completion = reference_completion(task, p)
    lines = completion.rstrip("\n").split("\n")
    assert task.verify(p, completion) == 1.0 and task.step_labels(p, lines) == [1] * len(lines)
    assert len(p.meta["digits"]) == (0 if p.is_trap else 4)
    if not p.is_trap:
      wrong = lines[:-1] + [f"ANSWER: {int(p.answer) + 1}"]
      assert task.verify(p, "\n".join(wrong) + "\n") == 0.0
      assert task.step_labels(p, ["99"] + lines[1:]) == [0] * len(lines)
  assert task.verify(problems[0], "\x00 garbage") == 0.0
  with pytest.raises(ValueError, match="trap_share"):
    tasks.get_task("digit_sum", trap_share=2.0)
  with pytest.raises(ValueError, match="task.width is not an option of digit_sum"):
    tasks.get_task("digit_sum", width=3)


@pytest.mark.slow
def test_sft_trains_on_the_worked_task(digit_sum, tmp_path):
  from configs import countdown_sft
  from experiments import sft
  config = countdown_sft.get_config("tiny")
  config.task = {"name": "digit_sum", "trap_share": 0.1}
  config.train_difficulties = config.eval_difficulties = (1,)
  out = sft.run(config, str(tmp_path))
  assert "greedy/d1" in out["metrics"]
  records = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
  losses = [r["loss"] for r in records if "loss" in r]
  assert losses[-1] < losses[0]

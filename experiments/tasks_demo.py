"""Prints sampled problems of each task family with solver solutions and oracle step labels, and
a table of solvable vs trap shares and mean solution length per difficulty.

  python -m experiments.tasks_demo --config configs/tasks_demo.py
"""

from __future__ import annotations

import json
import os

import numpy as np

from experiments import cli
from reasoning import runs as runs_lib
from reasoning.logging import write_scalar_summary
from reasoning.tasks import get_task, reference_completion


def summarize(task, problems) -> dict:
  completions = [reference_completion(task, p) for p in problems]
  lengths = [c.count("\n") for c in completions]
  return {
      "n": len(problems),
      "trap_share": float(np.mean([p.is_trap for p in problems])),
      "mean_lines": float(np.mean(lengths)),
      "mean_chars": float(np.mean([len(p.prompt) + len(c) for p, c in zip(problems, completions)])),
      "verified": float(np.mean([task.verify(p, c) for p, c in zip(problems, completions)])),
  }


def run(config, workdir: str) -> dict:
  runs_lib.save_config(config, workdir)
  rng = np.random.default_rng(config.seed)
  table = {}
  for name in runs_lib.names(config.tasks):
    task = get_task(name, trap_share=config.trap_share)
    print(f"\n=== {name} ===")
    for p in task.sample(rng, config.examples_per_task, task.difficulties[0]):
      lines = reference_completion(task, p).rstrip("\n").split("\n")
      print(p.prompt, end="")
      for line, label in zip(lines, task.step_labels(p, lines)):
        print(f"  [{label}] {line}")
    for d in task.difficulties:
      table[f"{name}/{d}"] = summarize(task, task.sample(rng, config.problems_per_difficulty, d))
  print(f"\n{'task/difficulty':<16}{'n':>6}{'traps':>8}{'lines':>8}{'chars':>8}{'verified':>10}")
  for key, row in table.items():
    print(f"{key:<16}{row['n']:>6}{row['trap_share']:>8.3f}{row['mean_lines']:>8.1f}"
          f"{row['mean_chars']:>8.1f}{row['verified']:>10.3f}")
  with open(os.path.join(workdir, "tasks_table.json"), "w") as f:
    json.dump(table, f, indent=2)
  scalars: dict[str, list] = {}  # per family and column, the value against difficulty
  for key, row in table.items():
    family, difficulty = key.split("/")
    for column in ("trap_share", "mean_lines", "verified"):
      scalars.setdefault(f"{family}/{column}", []).append((int(difficulty), row[column]))
  write_scalar_summary(workdir, scalars)
  print(f"\nwrote {os.path.join(workdir, 'tasks_table.json')}")
  return table


if __name__ == "__main__":
  cli.main(run, "tasks_demo")

"""Task families with verifiable answers and exact per-step oracle labels."""

import dataclasses

from reasoning.tasks.arithmetic import Arithmetic
from reasoning.tasks.base import (NONE_ANSWER, Problem, Task, extract_answer, hint_of,
                                  hint_template, reference_completion, split_completion,
                                  with_hint)
from reasoning.tasks.countdown import Countdown
from reasoning.tasks.letters import Letters
from reasoning.tasks.math_jsonl import MathJsonl

__all__ = ["Arithmetic", "Countdown", "DATASET_TASKS", "Letters", "MathJsonl", "NONE_ANSWER",
           "Problem", "TASKS", "Task", "extract_answer", "get_task", "hint_of", "hint_template",
           "reference_completion", "split_completion", "with_hint"]

# Synthetic families (generated, exact solver and step oracle) and dataset-backed ones.
TASKS = {"countdown": Countdown, "arithmetic": Arithmetic, "letters": Letters}
DATASET_TASKS = {"math_jsonl": MathJsonl}


def get_task(name: str, **options) -> Task:
  """The task `name` built with `options` (its dataclass fields); clear errors for bad input."""
  known = {**TASKS, **DATASET_TASKS}
  if name not in known:
    raise ValueError(f"task.name={name!r} is not one of {sorted(known)}")
  cls = known[name]
  fields = {f.name for f in dataclasses.fields(cls) if f.name not in ("name",)}
  unknown = set(options) - fields
  if unknown:
    raise ValueError(f"task.{sorted(unknown)[0]} is not an option of {name}; "
                     f"expected some of {sorted(fields)}")
  return cls(**options)

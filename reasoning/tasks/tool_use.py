"""A task answered with a tool: the wrapped task's problems, the environment's `calc` tool
(reasoning/tools.py), and SFT traces that call it.

  task = ToolUse(Arithmetic(ops="*", trap_share=0.0), trace_share=0.5)

A tool trace for `compute 4821*37` is

  call calc 4821*37      <- the model writes the call
  result 178377          <- the environment's line: read, never trained on
  ANSWER: 178377

and `trace_share` of the SFT examples are tool traces, the rest the answer alone (`ANSWER: v`,
a policy that does not call). `verify` checks the stated answer only: the chain holds the
environment's lines, not a scratchpad to compare with a reference. With `available` False every
call gets `result error: no tools here`: the same policy measured without its tool.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Sequence

import numpy as np

from reasoning import tools
from reasoning.tasks import base


@dataclasses.dataclass(frozen=True)
class ToolUse(base.Wrapper):
  task: base.Task
  trace_share: float = 1.0      # SFT examples that call the tool (the rest: the answer alone)
  max_calls: int = 4            # calls per answer; the next one gets the tool's error
  available: bool = True        # False: every call is answered `error: no tools here`
  has_step_oracle: bool = False

  def __post_init__(self):
    base.check_share("task.tools.trace_share", self.trace_share)
    if self.max_calls < 1:
      raise ValueError(f"task.tools.max_calls must be >= 1, got {self.max_calls}")

  @property
  def respond(self):
    """The environment: respond(line, calls_so_far) -> its line or None (tools.respond)."""
    return functools.partial(tools.respond, max_calls=self.max_calls, available=self.available)

  def sample(self, rng: np.random.Generator, n: int, difficulty: int) -> list[base.Problem]:
    return self.task.sample(rng, n, difficulty)

  def calls_of(self, problem: base.Problem) -> list[str]:
    """The calls a tool trace makes: one `calc a op b` for a binary-operation problem."""
    meta = problem.meta
    if not {"a", "b", "op"} <= set(meta):
      raise ValueError(f"task {self.name}: its problems have no a, op, b to call calc with; tool "
                       f"traces are written for arithmetic")
    return [f"calc {meta['a']}{meta['op']}{meta['b']}"]

  def solve(self, problem: base.Problem, rng: np.random.Generator | None = None):
    """The tool trace's lines, environment lines included (its text, for display)."""
    if problem.is_trap:
      return None
    lines = []
    for call in self.calls_of(problem):
      lines.append(tools.CALL_PREFIX + call)
      lines.append(self.respond(lines[-1], len(lines) // 2).rstrip("\n"))
    return lines + [base.answer_line(problem.answer)]

  def trace_pieces(self, problem: base.Problem, use_tool: bool) -> list[tuple[str, bool]]:
    """An SFT completion as (text, in_loss) pieces (text.pad_examples): the calls and the answer
    trained, the environment's lines read only; or the answer alone."""
    lines = self.solve(problem) if use_tool else None
    if lines is None:
      return [(base.answer_line(problem.answer) + "\n", True)]
    return [(line + "\n", not line.startswith(tools.RESULT_PREFIX)) for line in lines]

  def stated_answer(self, completion: str) -> str | None:
    return base.extract_answer(completion)

  def verify(self, problem: base.Problem, completion: str) -> float:
    return float(base.extract_answer(completion) == problem.answer)

  def step_labels(self, problem: base.Problem, steps: Sequence[str]) -> list[int]:
    raise ValueError(f"task {self.name} with tools has no step oracle")


def calls_made(completion: str) -> int:
  """The tool calls in a completion's text."""
  return sum(line.startswith(tools.CALL_PREFIX) for line in completion.split("\n"))

"""A task posed to an instruct model in its own words: the question rendered through the model's
chat template, the answer read from the model's natural reply.

  task = ChatFormat(Arithmetic(trap_share=0.0), template=tok.chat_template,
                    special_tokens=tok.special_tokens, question="What is {a} {op} {b}?",
                    instruction="Answer with just the number.")

`sample` draws the wrapped task's problems and replaces each prompt with the rendered chat (an
optional system message, then the user message `question` filled from the problem's meta plus
`instruction`, then the assistant's header); `verify` reads the reply's answer, the number (or
word) after the last `answer:` (any case) or, failing that, the last number in the reply, and
compares it with the problem's answer. Like every verifier it never raises: a reply with no
answer scores 0. The wrapped task's scratchpad is not required, so there are no step labels
(`has_step_oracle` is False); `solve` stays the wrapped task's, whose last line `ANSWER: ...`
the parser reads too.

With `scratchpad=True` the model is taught to reply with the wrapped task's scratchpad (SFT on
`solve`'s lines through the chat template): the reply is then judged as the wrapped task judges
a completion, `verify` and `step_labels` are its, and a task with an exact step oracle keeps it
(a PRM trains on oracle labels; searchers score the reply line by line).
"""

from __future__ import annotations

import dataclasses
import re
from typing import Sequence

import numpy as np

from reasoning.tasks import base

_ANSWER = re.compile(r"answer\s*(?:is)?\s*[:=]?\s*\**\s*(-?[0-9]+|none)\b", re.ASCII | re.IGNORECASE)
_NUMBER = re.compile(r"-?[0-9]+", re.ASCII)


def natural_answer(reply: str) -> str | None:
  """The answer a reply states: after its last `answer:` (`Answer: 42`, `the answer is 42`), else
  its last integer; None when it states none. Commas inside numbers (1,234) are dropped."""
  if not isinstance(reply, str) or len(reply) > base.MAX_COMPLETION_CHARS:
    return None
  text = re.sub(r"(?<=[0-9]),(?=[0-9]{3}\b)", "", reply)
  stated = _ANSWER.findall(text)
  if stated:
    return stated[-1].lower()
  numbers = _NUMBER.findall(text)
  return numbers[-1] if numbers else None


@dataclasses.dataclass(frozen=True)
class ChatFormat(base.Wrapper):
  task: base.Task
  template: str                                   # the model's Jinja chat template
  question: str                                   # the user's question, {fields} from meta
  instruction: str = ""                           # appended to the question (the format asked)
  system: str = ""                                # a system message, if any
  special_tokens: tuple[tuple[str, str], ...] = ()  # bos_token etc. for the template
  scratchpad: bool = False                        # replies are the wrapped task's scratchpad

  @property
  def has_step_oracle(self) -> bool:
    return self.scratchpad and self.task.has_step_oracle

  def __post_init__(self):
    if not self.template:
      raise ValueError("chat format: the model has no chat_template (an instruct model's "
                       "tokenizer_config.json holds one)")

  def render(self, problem: base.Problem) -> str:
    from reasoning.tokenizer import render_chat
    try:
      user = self.question.format(**problem.meta)
    except KeyError as e:
      raise ValueError(f"chat format: question {self.question!r} names {e.args[0]!r}, which "
                       f"{self.task.name} problems do not have (they have "
                       f"{sorted(problem.meta)})") from None
    messages = ([{"role": "system", "content": self.system}] if self.system else []) + [
        {"role": "user", "content": (user + " " + self.instruction).strip()}]
    return render_chat(self.template, messages, special_tokens=self.special_tokens)

  def sample(self, rng: np.random.Generator, n: int, difficulty: int) -> list[base.Problem]:
    return [dataclasses.replace(p, prompt=self.render(p))
            for p in self.task.sample(rng, n, difficulty)]

  def solve(self, problem: base.Problem, rng: np.random.Generator | None = None):
    return self.task.solve(problem, rng)

  def stated_answer(self, completion: str) -> str | None:
    """The answer the reply states (natural_answer); None for a reply that states none."""
    return natural_answer(completion)

  def verify(self, problem: base.Problem, completion: str) -> float:
    """1.0 iff the reply's stated answer is the problem's (with `scratchpad`: iff the wrapped
    task verifies the reply as a completion); never raises."""
    if self.scratchpad:
      return self.task.verify(problem, completion)
    return float(natural_answer(completion) == problem.answer)

  def step_labels(self, problem: base.Problem, steps: Sequence[str]) -> list[int]:
    if not self.has_step_oracle:
      raise ValueError(f"chat format: {self.task.name} posed in the model's own words has no step "
                       f"oracle (its replies need not follow the scratchpad; task.chat.scratchpad "
                       f"teaches and judges the scratchpad)")
    return self.task.step_labels(problem, steps)

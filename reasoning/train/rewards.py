"""Reward shaping for RL on chains of thought: the verifier's verdict and the penalties and
process bonus around it, a plain function of problems and completions."""

from __future__ import annotations

import numpy as np

from reasoning.tasks import split_completion
from reasoning.tasks.base import NONE_ANSWER, answer_line


def rewards_of(task, problems, completions, format_penalty: float,
               none_penalty: float = 0.0, step_reward: float = 0.0,
               illegal_penalty: float = 0.0) -> np.ndarray:
  """[B] float32: the verifier's verdict; -format_penalty if malformed; -none_penalty for
  answering `none` to a solvable problem (so declaring a trap is not a free way out of a hard
  problem); -illegal_penalty for a wrong answer with an illegal step (`task.has_illegal_step`: a
  claimed result the arithmetic does not give), so that with `rl.push_penalized` the policy
  unlearns writing the target whatever its last step computes, the habit that hides a miss.

  step_reward > 0 adds a process reward from the task's exact step oracle: step_reward times the
  share of the completion's lines that the oracle labels good (`task.step_labels`), so among
  wrong attempts those that kept the target reachable longer score higher; a correct one gets
  the full bonus."""
  out = []
  for p, c in zip(problems, completions):
    answer = stated_answer(task, c)
    if answer is None:
      out.append(-format_penalty)
    elif answer == NONE_ANSWER and not p.is_trap:
      out.append(-none_penalty)
    else:
      reward = task.verify(p, c)
      if illegal_penalty and not reward and task.has_illegal_step(p, c):
        reward = -illegal_penalty
      if step_reward:  # check_shaping: only tasks with a step oracle, so a scratchpad
        steps, answer = split_completion(c)
        labels = task.step_labels(p, steps + [answer_line(answer)])
        reward += step_reward * float(np.mean(labels))
      out.append(reward)
  return np.array(out, np.float32)


def stated_answer(task, completion: str) -> str | None:
  """The answer `completion` states, None when it is malformed: the task's own reader where it
  has one (`task.stated_answer`: a task posed through a chat template reads the model's natural
  reply), else the scratchpad format's last line `ANSWER: ...`."""
  reader = getattr(task, "stated_answer", None)
  if reader is not None:
    return reader(completion)
  parts = split_completion(completion)
  return None if parts is None else parts[1]


def overlong_penalty(lengths, max_len: int, buffer: int) -> np.ndarray:
  """DAPO's soft overlong punishment (Yu et al. 2025) added to the reward, [B] float32: 0 up to
  max_len - buffer generated tokens, then falling linearly to -1 at max_len (a completion the
  sampler cut off). buffer 0: no shaping."""
  lengths = np.asarray(lengths, np.float32)
  if buffer <= 0:
    return np.zeros_like(lengths)
  if buffer > max_len:
    raise ValueError(f"overlong_buffer={buffer} is longer than max_new={max_len}")
  return np.clip((max_len - buffer - lengths) / buffer, -1.0, 0.0).astype(np.float32)


def check_shaping(task, *, step_reward: float, illegal_penalty: float) -> None:
  """Clear errors, naming the config field, for shaping the task cannot give."""
  if step_reward and not getattr(task, "has_step_oracle", True):
    raise ValueError(f"step_reward={step_reward}: task {task.name} has no per-step oracle to "
                     f"reward steps with; set it to 0")
  if illegal_penalty and not hasattr(task, "has_illegal_step"):
    raise ValueError(f"illegal_penalty={illegal_penalty}: task {task.name} has no "
                     f"has_illegal_step to find an illegal step with; set it to 0")

"""Rewards for RL on chains of thought: the verifier's verdict and the penalties and process
bonus around it (a plain function of problems and completions), or a frozen learned reward
model's score with the verifier's verdict measured beside it."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from reasoning import critique as critique_lib, scoring
from reasoning.tasks import extract_answer, split_completion
from reasoning.tasks.base import NONE_ANSWER, answer_line, has_step_oracle


def rewards_of(task, problems, completions, format_penalty: float,
               none_penalty: float = 0.0, step_reward: float = 0.0,
               illegal_penalty: float = 0.0, verified=None) -> np.ndarray:
  """[B] float32: the verifier's verdict; -format_penalty if malformed; -none_penalty for
  answering `none` to a solvable problem (so declaring a trap is not a free way out of a hard
  problem); -illegal_penalty for a wrong answer with an illegal step (`task.has_illegal_step`: a
  claimed result the arithmetic does not give), so that with `rl.push_penalized` the policy
  unlearns writing the target whatever its last step computes, the habit that hides a miss.

  step_reward > 0 adds a process reward from the task's exact step oracle: step_reward times the
  share of the completion's lines that the oracle labels good (`task.step_labels`), so among
  wrong attempts those that kept the target reachable longer score higher; a correct one gets
  the full bonus. `verified`: the task's verdicts on these completions, where the caller has
  them already (each completion is verified once)."""
  out = []
  for i, (p, c) in enumerate(zip(problems, completions)):
    answer = stated_answer(task, c)
    if answer is None:
      out.append(-format_penalty)
    elif answer == NONE_ANSWER and not p.is_trap:
      out.append(-none_penalty)
    else:
      reward = task.verify(p, c) if verified is None else verified[i]
      if illegal_penalty and not reward and task.has_illegal_step(p, c):
        reward = -illegal_penalty
      if step_reward:  # check_shaping: only tasks with a step oracle, so a scratchpad
        steps, stated = split_completion(c) or ([], answer)
        labels = task.step_labels(p, steps + [answer_line(stated)])
        reward += step_reward * float(np.mean(labels))
      out.append(reward)
  return np.array(out, np.float32)


def stated_answer(task, completion: str) -> str | None:
  """The answer `completion` states, None when it is malformed: the task's own reader where it
  has one (`task.stated_answer`: a task posed through a chat template reads the model's natural
  reply), else the scratchpad format's last line `ANSWER: ...`."""
  reader = getattr(task, "stated_answer", None)
  return extract_answer(completion) if reader is None else reader(completion)


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


def step_end_tokens(vocab, tokens, length: int) -> np.ndarray:
  """The indices among generated `tokens[:length]` of the tokens that close a line: each
  token's index once per newline its text holds, in order. Any tokenizer: a byte-level BPE token
  may carry a newline with other text, or two newlines."""
  counts = [vocab.decode([int(t)]).count("\n") for t in tokens[:length]]
  return np.repeat(np.arange(len(counts)), counts)


def dense_step_rewards(vocab, tokens, lengths, step_scores) -> tuple[np.ndarray, np.ndarray]:
  """(rewards, ends), each [B, W] float32 over generated tokens [B, W]: line k's step score
  `step_scores[b][k]` on the token that closes line k (Math-Shepherd's step-level reward), and 1
  where a step ends. A score whose line end is not among the tokens (a decoding that merged
  lines) lands on the last generated token."""
  tokens = np.asarray(tokens)
  rewards = np.zeros(tokens.shape, np.float32)
  ends = np.zeros(tokens.shape, np.float32)
  for b, scores in enumerate(step_scores):
    n = int(lengths[b])
    positions = step_end_tokens(vocab, tokens[b], n)
    for k, score in enumerate(scores):
      at = positions[k] if k < len(positions) else max(n - 1, 0)
      rewards[b, at] += score
      ends[b, at] = 1.0
  return rewards, ends


def check_shaping(task, *, step_reward: float, illegal_penalty: float) -> None:
  """Clear errors, naming the config field, for shaping the task cannot give."""
  if step_reward and not has_step_oracle(task):
    raise ValueError(f"step_reward={step_reward}: task {task.name} has no per-step oracle to "
                     f"reward steps with; set it to 0")
  if illegal_penalty and not hasattr(task, "has_illegal_step"):
    raise ValueError(f"illegal_penalty={illegal_penalty}: task {task.name} has no "
                     f"has_illegal_step to find an illegal step with; set it to 0")


@dataclasses.dataclass(frozen=True)
class LearnedReward:
  """A frozen reward model's score as the RL reward: Gao et al. 2022's proxy, optimized while the
  exact verifier (the gold reward) is only measured. An ORM scores P(correct) at the end of the
  completion; a PRM scores each step, aggregated by `aggregation` ('min' as Lightman et al.,
  'prod', 'last', 'mean'). The model reads the policy's vocabulary (its token ids are scored)."""
  graphdef: Any
  params: Any
  cfg: Any                     # its ModelConfig, for the FLOP ledger
  vocab: Any
  kind: str                    # 'orm' | 'prm'
  aggregation: str = "min"
  seq_len: int = 0             # the scored width: at least prompt + max_new + EOS (one compile)

  def __post_init__(self):
    if self.kind not in ("orm", "prm"):
      raise ValueError(f"reward model kind {self.kind!r}: expected 'orm' or 'prm'")
    if self.aggregation not in scoring.AGGREGATIONS:
      raise ValueError(f"reward.aggregation={self.aggregation!r}: expected one of "
                       f"{scoring.AGGREGATIONS}")

  def _scored(self, problems, completions):
    """scoring.score_completions of `completions`: (aggregated scores [B], step scores)."""
    prompts = [p.prompt for p in problems]
    seq_len = scoring.seq_len_for(self.vocab, prompts, completions, minimum=self.seq_len)
    return scoring.score_completions(self.graphdef, self.params, self.vocab, prompts,
                                      completions, seq_len=seq_len, kind=self.kind,
                                      aggregation=self.aggregation)

  def __call__(self, problems, completions) -> np.ndarray:
    """[B] float32 scores in [0, 1]."""
    return self._scored(problems, completions)[0].astype(np.float32)

  def step_scores(self, problems, completions) -> list[list[float]]:
    """A PRM's score of each closed line of each completion (its dense rewards)."""
    if self.kind != "prm":
      raise ValueError("reward.dense=True needs a PRM (step scores); this reward model is an ORM")
    return self._scored(problems, completions)[1]

  def flops(self, seq_lens) -> float:
    """The scoring's FLOPs (one forward pass per completion) for the ledger."""
    from reasoning import compute
    return float(compute.forward_flops(self.cfg, seq_lens))


@dataclasses.dataclass(frozen=True)
class CriticReward:
  """A frozen critic's verdict as the RL reward (the seed's stronger, specialized critic;
  reasoning/train/critic.py): 1 when its greedy critique of a solution names no wrong step, 0
  when it names one, when the critique is malformed, and for a solution the critic cannot read
  (malformed, or too long for its context). `model`: a reasoning.model.Model on the policy's
  vocabulary. Its critiques are generated, so their FLOPs are known only after a call: `flops`
  returns the last call's."""
  model: Any
  max_new: int                 # the critic's critique length (its run's critique_max_new)
  kind: str = "critic"
  spent: list = dataclasses.field(default_factory=list)

  def __call__(self, problems, completions) -> np.ndarray:
    import jax
    from reasoning.train import critic
    kept, prompts = critic.readable(
        problems, completions, lambda prompt: critique_lib.fits(self.model, prompt, self.max_new))
    out = np.zeros(len(completions), np.float32)
    self.spent[:] = [0.0]
    if kept:  # greedy: the key draws nothing
      texts, flops = critique_lib.write(self.model, prompts, jax.random.key(0),
                                        max_new=self.max_new)
      out[kept] = [critique_lib.verdict(t) is None for t in texts]
      self.spent[:] = [float(flops.sum())]
    return out

  def flops(self, seq_lens=None) -> float:
    """The generation FLOPs of the critiques of the last call."""
    return self.spent[0] if self.spent else 0.0


def reward_function(task, *, learned: LearnedReward | CriticReward | None = None,
                    plus_verifier: bool = False, dense: bool = False, **shaping):
  """reward(problems, completions) -> (rewards [B] float32, correct [B] bool) for RL: the
  verifier's shaped reward (rewards_of with `shaping`), or with `learned` that model's score,
  plus the verifier's shaped reward with `plus_verifier`. `correct` is always the exact
  verdict, so every run logs the gold reward beside the one it optimizes. `dense`: the learned
  PRM's step scores are rewarded step by step instead (`learned.step_scores`, placed on tokens
  by dense_step_rewards), so the outcome reward is 0, or the verifier's with plus_verifier."""
  if dense and (learned is None or learned.kind != "prm"):
    raise ValueError("reward.dense=True rewards each step with a PRM's step score: set "
                     "reward.model to a PRM run")

  def reward(problems, completions):
    verified = [task.verify(p, c) for p, c in zip(problems, completions)]
    correct = np.array(verified) > 0
    if learned is None:
      return rewards_of(task, problems, completions, verified=verified, **shaping), correct
    proxy = (np.zeros(len(completions), np.float32) if dense
             else learned(problems, completions))
    if plus_verifier:
      proxy = proxy + rewards_of(task, problems, completions, verified=verified, **shaping)
    return proxy.astype(np.float32), correct
  return reward

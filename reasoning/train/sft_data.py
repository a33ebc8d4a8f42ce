"""SFT datasets: tokenized pools of (prompt, solution) examples and the batch of any step.

A pool per training difficulty holds the task's reference solutions (canonical, a random valid
one, or a written-out search trace), a share of STaR hint prompts, and optionally retry examples
(failed attempts, `retry`, then the solution). `batch_at` makes the batch of a step as a pure
function of (step, seed), which is what makes a resumed run exact.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Sequence

import numpy as np

from reasoning import rng as rng_lib
from reasoning.tasks import (Problem, countdown_traces, hint_of, hint_template,
                             reference_completion, with_hint)
from reasoning.tasks.base import RETRY_LINE
from reasoning.text import pack_examples, pad_examples, round_up, row_lengths

SOLUTIONS = ("canonical", "random", *countdown_traces.TRACES)


@dataclasses.dataclass(frozen=True)
class DataConfig:
  """What the SFT pools hold (configs/countdown_sft.py documents each field)."""
  seed: int
  train_difficulties: tuple[int, ...]
  train_problems: int
  seq_len: int
  solutions: str = "canonical"
  hint_share: float = 0.0
  retries: int = 0
  retry_share: float = 0.5
  give_up: bool = False

  def __post_init__(self):
    if self.solutions not in SOLUTIONS:
      raise ValueError(f"config.solutions must be 'canonical', 'random' or one of "
                       f"{sorted(countdown_traces.TRACES)}, got {self.solutions!r}")
    if self.solutions in countdown_traces.TRACES and self.retries:
      raise ValueError(f"config.solutions={self.solutions!r} and config.retries are two trace "
                       f"formats; set one")
    if self.give_up and self.retries < 2:
      raise ValueError(f"config.give_up needs retries >= 2 (traps show `retries` misses, "
                       f"solvable examples fewer), got retries={self.retries}")
    for name in ("train_problems", "seq_len"):
      if getattr(self, name) <= 0:
        raise ValueError(f"config.{name} must be positive, got {getattr(self, name)}")


def training_draws(task, seed: int, difficulty: int, n: int) -> list[Problem]:
  """The first n problems of the SFT training stream at `difficulty` (held-out ones among them
  are dropped by the caller): build_pools trains on them, reasoning.runs.trained_prompts
  names them so that evaluation sets skip them."""
  return task.sample(rng_lib.stream(seed, "train_problems", difficulty), n, difficulty)


def build_pools(cfg: DataConfig, task, vocab, held_out: set[str],
                own_misses: Callable[[list[Problem]], list] | None = None, log=print):
  """Per training difficulty a tokenized pool (tokens, loss_mask), none of `held_out`'s prompts.
  own_misses(problems) -> per problem the policy's own failed first attempt or None."""
  pools = []
  for d in cfg.train_difficulties:
    train = [p for p in training_draws(task, cfg.seed, d, cfg.train_problems)
             if p.prompt not in held_out]
    # 'random': one uniformly random solution per example (Countdown has several), rather than
    # the solver's canonical one, whose tie-breaking the model would have to learn too.
    rng = (rng_lib.stream(cfg.seed, "random_solutions", d) if cfg.solutions == "random"
           else None)
    completions = [reference_completion(task, p, rng) for p in train]
    if hasattr(task, "trace_pieces"):  # a task with tools: its traces, tool output not trained
      if cfg.hint_share or cfg.retries or cfg.solutions in countdown_traces.TRACES:
        raise ValueError("a task with tools writes its own traces: set hint_share=0, retries=0 "
                         "and solutions='canonical'")
      calls = rng_lib.stream(cfg.seed, "tool_traces", d).random(len(train)) < task.trace_share
      completions = [task.trace_pieces(p, c) for p, c in zip(train, calls)]
    # A `hint_share` of prompts carry the STaR rationalization hint (tasks.with_hint), so the
    # policy can later use one: a from-scratch model's stand-in for the few-shot
    # rationalization prompt a pretrained LM gets in the STaR paper. Held-out prompts never do.
    hinted = rng_lib.stream(cfg.seed, "hints", d).random(len(train)) < cfg.hint_share
    prompts = [with_hint(p.prompt, hint_of(task, c), hint_template(task)) if h else p.prompt
               for p, c, h in zip(train, completions, hinted)]
    if cfg.solutions in countdown_traces.TRACES:  # the solver's search written out
      traces = countdown_traces.traces_of(task, cfg.solutions, train,
                                          rng_lib.stream(cfg.seed, "traces", d))
      # A trace may be None where it would be too long to teach ('attempts', 'goals'): dropped.
      keep = [t is not None for t in traces]
      train, prompts = _kept(train, keep), _kept(prompts, keep)
      completions = ["\n".join(t) + "\n" for t in traces if t is not None]
      if not all(keep):
        log(f"data: difficulty {d}: {len(keep) - sum(keep)} of {len(keep)} problems dropped "
            f"(no {cfg.solutions!r} trace)")
    if cfg.retries:  # hinted prompts stay as they are: STaR's rationalization prompt
      rng = rng_lib.stream(cfg.seed, "failed_attempts", d)
      own = own_misses(train) if own_misses else [None] * len(train)
      completions = [c if h else
                     with_failed_attempts(task, p, c, rng, cfg.retries, cfg.retry_share, m,
                                          cfg.give_up)
                     for p, c, h, m in zip(train, completions, hinted, own)]
    pools.append(pad_examples(vocab, prompts, completions, cfg.seq_len))
  return pools


def _kept(items: list, keep: list[bool]) -> list:
  return [x for x, k in zip(items, keep) if k]


def first_attempt_misses(task, problems: Sequence[Problem], texts: Sequence[str]):
  """Per problem, the first attempt of `texts` (the policy's greedy completions) where it is a
  miss (task.is_miss: legal, every number used, target missed) at a solvable problem; else None."""
  if not hasattr(task, "is_miss"):
    raise ValueError(f"config.own_misses_from: task {task.name!r} cannot tell a miss "
                     f"(Countdown can)")
  firsts = [text.split("\n")[:len(p.meta["numbers"]) - 1] for p, text in zip(problems, texts)]
  return [lines if not p.is_trap and task.is_miss(p, lines) else None
          for p, lines in zip(problems, firsts)]


def with_failed_attempts(task, problem, completion: str, rng: np.random.Generator,
                         max_failed: int, share: float, own_miss: list[str] | None = None,
                         give_up: bool = False):
  """A `share` of solvable examples become a retry: 1..max_failed failed attempts (the task's
  `countdown_traces.failed_attempt`, distinct from each other and from the solution), each followed by `retry`,
  then the solution. Returns the completion as (text, in_loss) pieces: every line is trained
  except each failed attempt's first dead-end move (the oracle's first 0 label), so the policy
  learns to finish a hopeless attempt with honest arithmetic, see the miss and try again,
  without learning to make the mistake. (With the misses as untrained context instead, the
  policy wrote an illegal step, nearly always a last step claiming the target, in 152 of the
  167 d2 problems it failed: it never saw its own miss.)

  `own_miss`, the policy's own failed first attempt at this problem (`first_attempt_misses`),
  always makes a retry example and comes first: the recovery is then learned from the mistakes
  the policy really makes, which a greedy policy would otherwise repeat word for word.

  With `give_up`, a trap shows exactly max_failed failed attempts and then `ANSWER: none`, and a
  solvable example at most max_failed - 1: the policy declares a trap only after trying, so a
  `none` can only replace an answer that was already wrong."""
  if problem.is_trap and not give_up:
    return [(completion, True)]
  if not problem.is_trap and own_miss is None and rng.random() >= share:
    return [(completion, True)]
  countdown_traces.require_countdown(task, "config.retries", "failed attempts")
  solution = [] if problem.is_trap else [completion.rstrip("\n").split("\n")[:-1]]
  tried = solution + ([list(own_miss)] if own_miss else [])
  own = len(tried) - len(solution)  # 1 with an own miss, which counts as a failed attempt
  most = max_failed - 1 if give_up else max_failed
  count = max_failed if problem.is_trap else int(rng.integers(1 - own, most + 1 - own))
  for _ in range(count):
    attempt = countdown_traces.failed_attempt(problem, rng, avoid=tried)
    if attempt is None:
      break
    tried.append(attempt)
  pieces = []
  for attempt in tried[len(solution):]:
    labels = task.step_labels(problem, attempt)  # a trap's legal steps are all labelled 1
    dead_end = labels.index(0) if 0 in labels else -1
    pieces += [(line + "\n", i != dead_end) for i, line in enumerate(attempt)]
    pieces.append((RETRY_LINE + "\n", True))
  if problem.is_trap:
    pieces = pieces[:-1]  # the misses, then the answer: none
  return pieces + [(completion, True)]


def batch_at(step: int, seed: int, pools, batch_size: int, multiple: int = 16,
             pack_len: int = 0, pad: int = 0):
  """The batch of `step`, a pure function of (step, seed), so a resumed run sees the same data.

  Difficulties take turns (step mod their count); within one, epoch-wise shuffles seeded by
  (seed, difficulty, epoch). Padding is trimmed to the batch's longest row rounded up to
  `multiple`, so easy batches cost less and only a few shapes ever compile. With `pack_len`,
  the same examples are packed into rows of that length instead (rows rounded up to 4).
  """
  which, turn = step % len(pools), step // len(pools)
  tokens, loss_mask = pools[which]
  n, start = len(tokens), turn * batch_size
  perms = {e: rng_lib.stream(seed, "batch_order", which, e).permutation(n)
           for e in range(start // n, (start + batch_size - 1) // n + 1)}
  idx = np.array([perms[i // n][i % n] for i in range(start, start + batch_size)])
  tokens, loss_mask = tokens[idx], loss_mask[idx]
  if pack_len:
    tokens, loss_mask, segments = pack_examples(tokens, loss_mask, pack_len, rows_multiple=4,
                                                pad=pad)
    return {"tokens": tokens, "loss_mask": loss_mask, "segments": segments}
  width = min(tokens.shape[1], round_up(row_lengths(tokens, loss_mask, pad).max(), multiple))
  return {"tokens": tokens[:, :width], "loss_mask": loss_mask[:, :width]}


def example_lengths(batch, pad: int = 0) -> np.ndarray:
  """Tokens of each example in a batch, packed or not (attention FLOPs depend on them)."""
  if "segments" not in batch:
    return row_lengths(batch["tokens"], batch["loss_mask"], pad)
  seg = batch["segments"]
  ids = seg + np.arange(len(seg))[:, None] * (seg.max() + 1)
  counts = np.bincount(ids[seg > 0])
  return counts[counts > 0]

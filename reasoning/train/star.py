"""STaR, the Self-Taught Reasoner (Zelikman et al. 2022): bootstrapping rationales.

One iteration of the loop (experiments/star.py drives it):
  1. sample `samples` rationales per training problem from the current policy and keep, per
     problem, the first whose answer the task's verifier accepts;
  2. rationalize the rest: prompt with the answer as a hint (`tasks.with_hint`) and keep a
     rationale that verifies against the ORIGINAL problem, stored with the hint-free prompt, so
     the model learns to reach the answer without being told it;
  3. fine-tune the base checkpoint (not the last iterate, against drift) on the union.

This module holds the data side (steps 1-2), independent of how text is generated: `collect`
takes a `generate(prompts) -> (completions, generated token counts)` callable, so the same code
serves the jitted sampler, a search procedure or a scripted generator in tests.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Sequence

import numpy as np

from reasoning.tasks import (Problem, Task, hint_of, hint_template, reference_completion,
                             with_hint)

Generate = Callable[[list[str]], tuple[list[str], np.ndarray]]


@dataclasses.dataclass
class Round:
  """What one collection round produced."""
  examples: list[tuple[str, str]]  # (hint-free prompt, verified completion), one per problem
  solved: np.ndarray               # [N] bool: a sample without the hint verified
  rationalized: np.ndarray         # [N] bool: only a hinted sample verified
  prompt_tokens: np.ndarray        # [rows] prompt length of every generated row (for FLOPs)
  new_tokens: np.ndarray           # [rows] tokens generated in every row


def first_verified(task: Task, problems: Sequence[Problem], completions: Sequence[str],
                   samples: int) -> list[str | None]:
  """Per problem, the first of its `samples` completions that verifies, else None.

  completions are sample-major: sample j of problem i is completions[j * len(problems) + i].
  """
  n = len(problems)
  if len(completions) != samples * n:
    raise ValueError(f"first_verified: {len(completions)} completions for {n} problems x "
                     f"{samples} samples")
  kept: list[str | None] = [None] * n
  for j in range(samples):
    for i, p in enumerate(problems):
      c = completions[j * n + i]
      if kept[i] is None and task.verify(p, c) == 1.0:
        kept[i] = c
  return kept


def balance_traps(examples: list[tuple[str, str]], problems_by_prompt: dict, trap_share: float,
                  rng: np.random.Generator) -> list[tuple[str, str]]:
  """Drops trap examples (answer `none`) at random until they are at most `trap_share` of the
  set. A trap is the easiest thing to verify (and rationalization gives its whole answer away),
  so verified sets over-represent traps, and a policy fine-tuned on them says `none` more often
  to solvable problems too."""
  traps = [e for e in examples if problems_by_prompt[e[0]].is_trap]
  if not traps or trap_share >= 1:
    return examples
  solvable = len(examples) - len(traps)
  keep = min(len(traps), int(round(trap_share / (1 - trap_share) * solvable)))
  kept = {traps[i][0] for i in rng.choice(len(traps), size=keep, replace=False)}
  return [e for e in examples if not problems_by_prompt[e[0]].is_trap or e[0] in kept]


def rationalization_prompts(task: Task, problems: Sequence[Problem],
                            rng: np.random.Generator) -> list[str]:
  """Each problem's prompt with a hint line taken from one of its correct solutions (a random
  one where there are several): the answer, or for Countdown the equation that reaches it."""
  template = hint_template(task)
  return [with_hint(p.prompt, hint_of(task, reference_completion(task, p, rng)), template)
          for p in problems]


def collect(generate: Generate, task: Task, problems: Sequence[Problem], *, samples: int,
            rationalize: bool, rationalize_samples: int, rng: np.random.Generator,
            vocab_len: Callable[[str], int] = len) -> Round:
  """Steps 1-2 of a STaR iteration on `problems`. vocab_len(prompt) is a prompt's token count
  (BOS included by the caller's convention) for the FLOPs record."""
  prompts = [p.prompt for p in problems]
  texts, lengths = generate(prompts * samples)
  kept = first_verified(task, problems, texts, samples)
  prompt_tokens = [vocab_len(x) for x in prompts * samples]
  new_tokens = [np.asarray(lengths)]
  solved = np.array([c is not None for c in kept])
  rationalized = np.zeros(len(problems), bool)
  failed = [i for i in range(len(problems)) if kept[i] is None]
  if rationalize and failed:
    hinted = rationalization_prompts(task, [problems[i] for i in failed], rng)
    texts, lengths = generate(hinted * rationalize_samples)
    # Verified against the original problem: the hint changes the prompt, never the check.
    rescued = first_verified(task, [problems[i] for i in failed], texts, rationalize_samples)
    for i, c in zip(failed, rescued):
      if c is not None:
        kept[i], rationalized[i] = c, True
    prompt_tokens += [vocab_len(x) for x in hinted * rationalize_samples]
    new_tokens.append(np.asarray(lengths))
  examples = [(p.prompt, c) for p, c in zip(problems, kept) if c is not None]
  return Round(examples, solved, rationalized, np.array(prompt_tokens),
               np.concatenate(new_tokens))


def training_problems(task, seed: int, levels, count: int, held_out: set[str], draw: int = 1):
  """`count` problems per difficulty of `levels`, none held out: draw 1 is the set STaR (every
  iteration, as in the paper, or only the first with `fresh_problems`) and expert iteration
  bootstrap on; draw n > 1 is a new set from its own stream (a synthetic task has an endless
  supply)."""
  from reasoning import rng as rng_lib
  problems = []
  for d in levels:
    rng = rng_lib.stream(seed, "bootstrap_problems", d, *([draw] if draw > 1 else []))
    problems += [p for p in task.sample(rng, count, d) if p.prompt not in held_out]
  return problems


def track_rescued(meta: dict, got: Round, first_set: bool) -> dict[str, int]:
  """Updates the run's `meta` with what the SFT policy never solved (`base_unsolved`, from the
  first round) and the problems of the first set rationalized since (`rescued`); returns the
  round's counts for metrics.jsonl."""
  if meta["base_unsolved"] is None:  # the SFT policy's own round: what it never solved
    meta["base_unsolved"] = np.flatnonzero(~got.solved).tolist()
  if first_set:  # "rescued" is defined on the first round's problems
    unsolved = np.zeros(len(got.solved), bool)
    unsolved[meta["base_unsolved"]] = True
    meta["rescued"] = sorted(set(meta["rescued"]) | set(
        np.flatnonzero(got.rationalized & unsolved).tolist()))
  return {"solved": int(got.solved.sum()), "rationalized": int(got.rationalized.sum()),
          "base_unsolved": len(meta["base_unsolved"]), "rescued": len(meta["rescued"])}


def accumulate(meta: dict, examples: list[tuple[str, str]]) -> list[tuple[str, str]]:
  """The union of every iteration's examples (kept in `meta["examples"]`), a problem's newest
  rationale winning."""
  union = dict(map(tuple, meta["examples"]))
  union.update(examples)
  meta["examples"] = [list(e) for e in union.items()]
  return list(union.items())

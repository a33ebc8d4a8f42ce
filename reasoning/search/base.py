"""What every searcher shares: the Result, compute metering, and sampling and scoring of steps.

A searcher takes the policy (and a verifier) as `Model`s, prompts, a key and its budget knobs,
and returns a `Result`: per problem the chosen completion, its verifier score, and the test-time
compute spent on it (tokens generated, tokens scored, FLOPs from `reasoning.compute`). Searchers
never see the task's ground truth; the caller scores `Result.completions` with `task.verify`.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np

from reasoning import compute, evaluation, scoring
from reasoning.model import Model, ModelConfig
from reasoning.tasks.base import ANSWER_PREFIX
from reasoning.text import prompt_length, round_up


@dataclasses.dataclass
class Result:
  completions: list[str]        # [P] the chosen completion of each problem
  scores: np.ndarray            # [P] the verifier's score of it
  generated_tokens: np.ndarray  # [P] tokens sampled by the policy (prefills not included)
  scored_tokens: np.ndarray     # [P] tokens run through the verifier (or value head)
  flops: np.ndarray             # [P] generation (prefill + decode) + scoring FLOPs
  candidates: list[list[str]] | None = None  # [P][...] what the final pick chose among


class Meter:
  """Accumulates per-problem compute as a searcher runs."""

  def __init__(self, num_problems: int):
    self.generated = np.zeros(num_problems)
    self.scored = np.zeros(num_problems)
    self.flops = np.zeros(num_problems)

  def add_generation(self, cfg: ModelConfig, owners, prompt_tokens, new_tokens):
    owners = np.asarray(owners, np.int64)
    np.add.at(self.generated, owners, np.asarray(new_tokens, np.float64))
    np.add.at(self.flops, owners, compute.generation_flops_rows(cfg, prompt_tokens, new_tokens))

  def add_scoring(self, cfg: ModelConfig, owners, tokens):
    owners = np.asarray(owners, np.int64)
    np.add.at(self.scored, owners, np.asarray(tokens, np.float64))
    np.add.at(self.flops, owners, compute.forward_flops_rows(cfg, tokens))

  def result(self, completions: list[str], scores, candidates=None) -> Result:
    return Result(completions, np.asarray(scores, np.float64), self.generated, self.scored,
                  self.flops, candidates)


def check_one_vocab(method: str, policy: Model, evaluator: Model, role: str = "policy") -> None:
  """Token-level searchers (MCTS, rStar) score the policy's token ids with the evaluator: a clear
  error where the two read different vocabularies."""
  if evaluator.vocab != policy.vocab:
    raise ValueError(f"{method}: the evaluator reads another vocabulary than the {role}; the "
                     f"search scores the {role}'s token ids, so both must come from one model")


def sample_steps(policy: Model, meter: Meter, owners: Sequence[int], prompts: Sequence[str],
                 prefixes: Sequence[str], key, *, max_new: int, temperature: float,
                 stop: str = "step", chunk: int = 256) -> list[str]:
  """One continuation per (prompt, prefix): the next line (stop='step', newline kept; an answer
  line has none) or the rest of the solution (stop='answer'). Meters prefill and decode."""
  queries = [p + x for p, x in zip(prompts, prefixes)]
  chunk = min(chunk, 1 << max(len(queries) - 1, 0).bit_length())  # small calls, small shapes
  query_tokens = [prompt_length(policy.vocab, q) for q in queries]
  prompt_len = round_up(max(query_tokens), 16)  # few shapes as prefixes grow
  max_new = evaluation.room_to_generate(policy.cfg.max_len, prompt_len, max_new,
                                        what="a search prefix",
                                        hint="; lower max_steps or step_tokens")
  texts, lengths = evaluation.complete(policy.graphdef, policy.params, policy.vocab, queries, key,
                                       prompt_len=prompt_len, max_new=max_new,
                                       temperature=temperature, stop=stop, chunk=chunk)
  meter.add_generation(policy.cfg, owners, query_tokens, lengths)
  return texts


def is_final(prefix: str) -> bool:
  """A prefix ends a solution at an answer line, or at a line cut off at the step's token limit
  (not closed by a newline)."""
  if not prefix:
    return False
  return not prefix.endswith("\n") or prefix[:-1].rsplit("\n", 1)[-1].startswith(ANSWER_PREFIX)


def score_prefixes(prm: Model, meter: Meter, owners: Sequence[int], prompts: Sequence[str],
                   prefixes: Sequence[str], chunk: int = 256) -> np.ndarray:
  """The PRM's score of the last line of each prefix (P(the solution can still succeed))."""
  closed = [x if x.endswith("\n") else x + "\n" for x in prefixes]
  lengths = [prompt_length(prm.vocab, p + x) + 1 for p, x in zip(prompts, closed)]  # (BOS) ... EOS
  seq_len = round_up(max(lengths), 32)
  chunk = min(chunk, 1 << max(len(closed) - 1, 0).bit_length())
  scores, _ = scoring.score_completions(prm.graphdef, prm.params, prm.vocab, prompts, closed,
                                         seq_len=seq_len, kind="prm", aggregation="last",
                                         chunk=chunk)
  meter.add_scoring(prm.cfg, owners, lengths)
  return scores


def concat_results(results: Sequence[Result]) -> Result:
  """One Result from Results of consecutive batches of problems."""
  cat = lambda name: np.concatenate([getattr(r, name) for r in results])
  candidates = None
  if all(r.candidates is not None for r in results):
    candidates = [c for r in results for c in r.candidates or []]
  return Result([c for r in results for c in r.completions], cat("scores"),
                cat("generated_tokens"), cat("scored_tokens"), cat("flops"), candidates)

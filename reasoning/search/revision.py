"""Sequential revisions at test time (Snell et al. 2024, section 6): chains of attempts by a
revision model (reasoning/train/revision.py), each conditioned on the chain's earlier attempts,
and the split of a budget of N attempts between C parallel chains and L revisions per chain.

`chains` samples C chains of L_max attempts per problem, one attempt index at a time for every
chain at once. `ratio_records` reads every (N, L) setting off that one pool: C / (N / L)
disjoint groups of N / L chains, each group's first L attempts pooled and the answer chosen by
PRM-weighted voting over the pool (best_of_n.select, as best-of-N does), correctness averaged
over the groups. Records are compute_optimal.py's ({method, family, budget, correct, flops}),
so the compute-optimal ratio per difficulty bin and the comparison with parallel sampling at
equal FLOPs (L = 1: N independent first attempts) use the same code as the tree searches.
"""

from __future__ import annotations

from typing import Callable, Sequence

import jax
import numpy as np

from reasoning import compute, critique as critique_lib, evaluation, scoring
from reasoning.search import best_of_n
from reasoning.model import Model
from reasoning.tasks import Problem, Task, extract_answer
from reasoning.text import prompt_length

PARALLEL = "revisions L=1 (parallel)"


def family(length: int) -> str:
  return PARALLEL if length == 1 else f"revisions L={length}"


def chains(model: Model, task: Task, problems: Sequence[Problem], key, *, chains: int,
           length: int, context: int, max_new: int, temperature: float, slots: int = 0,
           critic: Model | str | None = None, critique_max_new: int = 0,
           report: Callable[[str], None] | None = None) -> dict:
  """`chains` chains of `length` attempts per problem. Attempt t of a chain is sampled after the
  last `context` attempts of that chain (fewer when they do not fit the model's max_len next to
  max_new), each followed by the `critic`'s critique line when a critic is given (greedy, at
  most `critique_max_new` tokens; ORACLE: the task's step oracle's line, no FLOPs, the bound a
  learned critic approaches). `report` gets a line after each attempt index.
  {"texts": [P][C][L] str, "correct", "prompt_lens", "lengths", "critic_flops": [P, C, L]
  arrays}."""
  width = model.cfg.max_len - max_new
  fits = lambda prompt: prompt_length(model.vocab, prompt) <= width
  p, c = len(problems), chains
  rows = [(j, k) for j in range(p) for k in range(c)]
  texts: list[list[list[str]]] = [[[] for _ in range(c)] for _ in range(p)]
  shown: list[list[list]] = [[[] for _ in range(c)] for _ in range(p)]  # attempts as later prompts show them
  prompt_lens = np.zeros((p, c, length), np.int64)
  lengths = np.zeros((p, c, length), np.int64)
  critic_flops = np.zeros((p, c, length))
  correct = np.zeros((p, c, length), bool)
  for t in range(length):
    prompts = [critique_lib.fitted_prompt(problems[j], shown[j][k], context, fits) for j, k in rows]
    out, n = evaluation.complete(model.graphdef, model.params, model.vocab, prompts,
                                 jax.random.fold_in(key, t),
                                 prompt_len=width, max_new=max_new, temperature=temperature,
                                 slots=slots)
    critiques = [None] * len(rows)
    if critic == ORACLE and t + 1 < length:
      critiques = [critique_lib.critique(task, problems[j], text) for (j, _), text in zip(rows, out)]
    elif isinstance(critic, Model) and t + 1 < length:  # the last critique is never read
      critiques, spent = critique_lines(critic, [problems[j] for j, _ in rows], out,
                                        jax.random.fold_in(key, 10_000 + t),
                                        max_new=critique_max_new, slots=slots)
      critic_flops[:, :, t] = spent.reshape(p, c)
    for (j, k), text, prompt, m, said in zip(rows, out, prompts, n, critiques):
      texts[j][k].append(text)
      shown[j][k].append(critique_lib.with_critique(text, said))
      prompt_lens[j, k, t] = prompt_length(model.vocab, prompt)
      lengths[j, k, t] = m
      correct[j, k, t] = task.verify(problems[j], text)
    if report is not None:
      report(f"attempt {t + 1}/{length}: {len(rows)} chains, "
             f"{100 * correct[:, :, t].mean():.1f}% right")
  return {"texts": texts, "correct": correct, "prompt_lens": prompt_lens, "lengths": lengths,
          "critic_flops": critic_flops}


ORACLE = "oracle"  # chains(critic=ORACLE): the task's step oracle critiques each attempt


def critique_lines(critic: Model, problems: Sequence[Problem], attempts: Sequence[str], key, *,
                   max_new: int, slots: int = 0) -> tuple[list[str | None], np.ndarray]:
  """The critic's greedy critique of each attempt (None where the critic prompt does not fit
  its context) and each critique's generation FLOPs [N]."""
  prompts = [critique_lib.critic_prompt(q, a) for q, a in zip(problems, attempts)]
  fit = [i for i, x in enumerate(prompts) if critique_lib.fits(critic, x, max_new)]
  out: list[str | None] = [None] * len(prompts)
  flops = np.zeros(len(prompts))
  if fit:
    said, rows = critique_lib.write(critic, [prompts[i] for i in fit], key, max_new=max_new,
                                  slots=slots)
    for i, text, f in zip(fit, said, rows):
      out[i], flops[i] = text, f
  return out, flops


def prm_scores(prm: Model, problems: Sequence[Problem], texts, *, seq_len: int,
               aggregation: str = "min") -> tuple[np.ndarray, np.ndarray]:
  """The PRM's score of every attempt as a plain solution of its problem (prompt + attempt), and
  the FLOPs of scoring it: two [P, C, L] arrays."""
  p, c, length = len(texts), len(texts[0]), len(texts[0][0])
  prompts = [problems[j].prompt for j in range(p) for _ in range(c * length)]
  flat = [x for per_problem in texts for chain in per_problem for x in chain]
  # At least `seq_len`, more where a decoded attempt re-encodes to more tokens than were sampled.
  seq_len = scoring.seq_len_for(prm.vocab, prompts, flat, minimum=seq_len)
  scores, _ = scoring.score_completions(prm.graphdef, prm.params, prm.vocab, prompts, flat,
                                         seq_len=seq_len, kind="prm", aggregation=aggregation)
  flops = compute.forward_flops_rows(prm.cfg, [prompt_length(prm.vocab, q + x) + 1
                                               for q, x in zip(prompts, flat)])
  return scores.reshape(p, c, length), np.asarray(flops).reshape(p, c, length)


def attempt_accuracy(correct: np.ndarray) -> dict[str, np.ndarray]:
  """Per attempt index t (1-based, as index t-1): the share of attempts t that are right
  (`accuracy`, Snell's Figure 6 left) and the share of chains with a right attempt among the
  first t (`any`), each averaged per problem over chains, with standard errors over problems."""
  per_problem = correct.mean(1)                                     # [P, L]
  any_so_far = np.maximum.accumulate(correct, axis=2).mean(1)       # [P, L]
  n = correct.shape[0]
  se = lambda x: x.std(0, ddof=1) / np.sqrt(n) if n > 1 else np.full(x.shape[1], np.nan)
  return {"accuracy": per_problem.mean(0), "accuracy_se": se(per_problem),
          "any": any_so_far.mean(0), "any_se": se(any_so_far)}


def attempt_diagnostics(pool: dict) -> dict[str, np.ndarray]:
  """Per attempt index: the share of attempts that repeat an earlier attempt of their chain
  word for word (`repeats`), that are malformed (no answer line last: `malformed`), and, among
  chains whose earlier attempts were all wrong, the share whose attempt t is right (`fixed`)."""
  texts, correct = pool["texts"], pool["correct"]
  p, c, length = correct.shape
  repeats = np.zeros(length)
  malformed = np.zeros(length)
  fixed, waiting = np.zeros(length), np.zeros(length)
  for j in range(p):
    for k in range(c):
      chain = texts[j][k]
      for t in range(length):
        repeats[t] += chain[t] in chain[:t]
        malformed[t] += extract_answer(chain[t]) is None
        if not correct[j, k, :t].any():
          waiting[t] += 1
          fixed[t] += correct[j, k, t]
  return {"repeats": repeats / (p * c), "malformed": malformed / (p * c),
          "fixed": fixed / np.maximum(waiting, 1)}


def ratio_records(pool: dict, scores: np.ndarray, score_flops: np.ndarray, cfg,
                  budgets: Sequence[int], lengths: Sequence[int]) -> list[dict]:
  """Records of every (N, L) with L in `lengths` dividing N in `budgets`, N / L <= C chains and
  L <= L_max: per problem, correctness averaged over the C // (N / L) disjoint chain groups, and
  the mean FLOPs of a group (each attempt's prefill and decode, with its context, plus its PRM
  scoring)."""
  correct, texts = pool["correct"], pool["texts"]
  p, c, l_max = correct.shape
  gen = compute.generation_flops_rows(cfg, pool["prompt_lens"].reshape(-1),
                                      pool["lengths"].reshape(-1)).reshape(p, c, l_max)
  flops = gen + score_flops + pool.get("critic_flops", 0.0)
  answers = [[[extract_answer(x) for x in chain] for chain in per_problem] for per_problem in texts]
  records = []
  for n in budgets:
    for length in lengths:
      if n % length or length > l_max or n // length > c:
        continue
      width = n // length  # chains per group
      groups = c // width
      hit = np.zeros(p)
      spent = np.zeros(p)
      for j in range(p):
        for g in range(groups):
          members = [(k, t) for k in range(g * width, (g + 1) * width) for t in range(length)]
          chosen = best_of_n.select([answers[j][k][t] for k, t in members],
                                    [scores[j, k, t] for k, t in members], "weighted")
          k, t = members[chosen]
          hit[j] += correct[j, k, t]
          spent[j] += sum(flops[j, k, t] for k, t in members)
      records.append({"method": f"N={n} L={length}", "family": family(length), "budget": n,
                      "correct": (hit / groups).tolist(), "flops": (spent / groups).tolist(),
                      "seconds": 0.0})
  return records


def best_length(records: Sequence[dict], rows: np.ndarray, budget: int) -> tuple[int, float]:
  """The revisions per chain L with the best mean accuracy over `rows` at budget N, and that
  accuracy (Snell's Figure 7 right: the compute-optimal sequential/parallel ratio)."""
  best = max((r for r in records if r["budget"] == budget),
             key=lambda r: (float(np.mean(np.asarray(r["correct"])[rows])), -_length(r)))
  return _length(best), float(np.mean(np.asarray(best["correct"])[rows]))


def _length(record: dict) -> int:
  return int(record["method"].split("L=")[1])

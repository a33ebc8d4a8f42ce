"""A test-time compute sweep's records: each searcher at several budgets on one problem set.

A record is {"method", "family", "budget", "correct": [P], "flops": [P], "seconds"} (see
compute_optimal.py). Best-of-N records at every N come from one pool of samples; `per_bin_rows`
turns records into the per-bin, per-split accuracy rows of metrics.jsonl.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from reasoning import compute, evaluation, scoring
from reasoning.search import best_of_n
from reasoning.model import Model
from reasoning.tasks import extract_answer
from reasoning.text import prompt_length, round_up


def best_of_n_records(policy: Model, prm: Model, task, problems, key, ns: list[int], *,
                      max_new: int, temperature: float, prm_aggregation: str):
  """(records, pass rates [P], mean PRM scores [P]): majority and PRM-weighted best-of-N for
  every N in `ns`, from the first N samples of one pool of max(ns) per problem. The pass rate
  (share of the pool that verifies) is Snell's "oracle difficulty" of each problem for the
  policy; the PRM's mean score over the pool its "predicted difficulty", which needs no ground
  truth."""
  t0 = time.perf_counter()
  m = max(ns)
  pool = sample_pool(policy, task, problems, key, m, max_new=max_new, temperature=temperature)
  texts, correct, lengths = pool["texts"], pool["correct"], pool["lengths"]
  pool_prompts = [p.prompt for p in problems for _ in range(m)]
  real_prompt = np.array([prompt_length(policy.vocab, p.prompt) for p in problems])
  seq_len = scoring.seq_len_for(prm.vocab, pool_prompts, texts, multiple=32,
                                 minimum=round_up(int(real_prompt.max()) + max_new + 2, 32))
  scores, _ = scoring.score_completions(prm.graphdef, prm.params, prm.vocab, pool_prompts, texts,
                                         seq_len=seq_len, kind="prm", aggregation=prm_aggregation)
  seconds = (time.perf_counter() - t0) / len(ns)
  answers = [extract_answer(t) for t in texts]
  scores = scores.reshape(-1, m)
  records = []
  for n in ns:
    gen = compute.generation_flops_rows(policy.cfg, np.repeat(real_prompt, n),
                                        lengths[:, :n].reshape(-1)).reshape(-1, n).sum(1)
    scored = compute.forward_flops_rows(prm.cfg, (real_prompt[:, None] + lengths[:, :n] + 1)
                                        .reshape(-1)).reshape(-1, n).sum(1)
    for sel, flops in (("majority", gen), ("PRM weighted", gen + scored)):
      chosen = [best_of_n.select(answers[j * m:j * m + n], scores[j, :n],
                                 "majority" if sel == "majority" else "weighted")
                for j in range(len(problems))]
      records.append(record(f"best-of-{n} {sel}", f"best-of-N {sel}", n,
                            correct[np.arange(len(problems)), chosen], flops, seconds))
  return records, correct.mean(1), scores.mean(1)


def sample_pool(policy: Model, task, problems, key, n: int, *, max_new: int,
                temperature: float = 1.0, store: str | None = None) -> dict[str, Any]:
  """n samples per problem at `temperature` (0: one greedy sample, n must be 1):
  {"correct" [P, n] bool, "flops" [P, n] each sample's generation FLOPs, "lengths" [P, n],
  "texts" (the P * n completions, problem-major)}. The raw material of coverage (pass@k),
  model-relative difficulty and best-of-N. `store`: evaluation.complete's directory of finished
  batches (a repeated call resumes)."""
  if temperature == 0 and n != 1:
    raise ValueError(f"greedy decoding gives one sample per problem, not {n}")
  prompts = [p.prompt for p in problems]
  real_prompt = np.array([prompt_length(policy.vocab, p) for p in prompts])
  texts, lengths = evaluation.complete(policy.graphdef, policy.params, policy.vocab,
                                       [p for p in prompts for _ in range(n)], key,
                                       prompt_len=int(real_prompt.max()), max_new=max_new,
                                       temperature=temperature, store=store, group=n)
  repeated = [q for q in problems for _ in range(n)]
  flops = compute.generation_flops_rows(policy.cfg, np.repeat(real_prompt, n), lengths)
  return {"correct": np.array([task.verify(p, t) for p, t in zip(repeated, texts)],
                              bool).reshape(-1, n), "flops": flops.reshape(-1, n),
          "lengths": np.asarray(lengths).reshape(-1, n), "texts": texts}


def record(method: str, family: str, budget: int, correct, flops, seconds: float) -> dict:
  return {"method": method, "family": family, "budget": budget,
          "correct": np.asarray(correct, float).tolist(),
          "flops": np.asarray(flops, float).tolist(), "seconds": seconds}


def per_bin_rows(records, bins: dict[str, np.ndarray], split: np.ndarray) -> list[dict]:
  """One row per (record, bin, split): accuracy and mean test-time FLOPs per problem."""
  rows = []
  for r in records:
    c, fl = np.array(r["correct"]), np.array(r["flops"])
    for name, in_bin in bins.items():
      for s, sname in ((0, "val"), (1, "test")):
        sel = in_bin & (split == s)
        rows.append({"method": r["method"], "family": r["family"], "budget": r["budget"],
                     "bin": name, "split": sname, "accuracy": float(c[sel].mean()),
                     "test_flops": float(fl[sel].mean())})
  return rows


def model_relative_bins(scores: np.ndarray, prefix: str, bins: int = 5) -> dict[str, np.ndarray]:
  """Snell et al.'s model-relative difficulty: problems in `bins` quantile bins of a per-problem
  score (the policy's pass rate: oracle; the verifier's mean score: predicted), named
  `{prefix}1` (hardest) to `{prefix}{bins}` (easiest). Ties share a bin, so a bin can be empty
  (then it is left out)."""
  from reasoning.scaling import difficulty_bins
  index = difficulty_bins(scores, bins)
  return {f"{prefix}{b + 1}": index == b for b in range(bins) if (index == b).any()}


def timed(fn):
  """(fn(), seconds)."""
  t0 = time.perf_counter()
  out = fn()
  return out, time.perf_counter() - t0



"""Test-time compute scaling: best-of-N, PRM beam search, lookahead search and MCTS, at several
budgets each, on held-out problems, with the compute-optimal frontier (Snell et al. 2024).

  python -m experiments.search --config configs/countdown_search.py --config.policy=SFT_DIR \
      --config.prm=PRM_DIR

Every method's accuracy (the task verifier on the chosen completion) and mean test-time FLOPs
per problem are recorded per difficulty bin, on a validation and a test half of the problems.
The compute-optimal strategy picks, per bin and FLOPs budget, the method whose validation
accuracy is best within the budget, and is scored on the test half. Writes metrics.jsonl (one
record per method, budget, bin and split), plots/search_scaling.png and plots/compute_optimal.png.
A finished method is not rerun: rerunning the command resumes.
"""

from __future__ import annotations

import json
import os
import time

import jax
import numpy as np

from experiments import common
from reasoning import compute, evaluation, plots
from reasoning.search import beam, best_of_n, mcts
from reasoning.search.base import Model, concat_results
from reasoning.search.compute_optimal import frontier_summary, tabulate
from reasoning.tasks import extract_answer
from reasoning.text import prompt_length, round_up
from reasoning.train import verifier


POOL = "_pool"  # the results.jsonl record of the best-of-N pool's per-problem pass rates


def _budgets(text) -> list[int]:
  return [int(x) for x in str(text).split(",") if x]


def run(config, workdir: str) -> dict:
  common.save_config(config, workdir)
  vocab, sft_config, policy_cfg, graphdef, policy_params, _ = common.load_sft(config.policy,
                                                                               with_vocab=True)
  prm_vocab, _, prm_cfg, prm_graphdef, prm_params, _ = common.load_sft(config.prm, with_vocab=True)
  policy = Model(graphdef, policy_params, policy_cfg, vocab)
  prm = Model(prm_graphdef, prm_params, prm_cfg, prm_vocab)
  task = common.make_task(config)
  # The SFT run's held-out problems (its seed), so none was trained on.
  problems = common.held_out_problems(task, config.eval_difficulties, config.eval_problems,
                                      sft_config["seed"])
  split = np.arange(len(problems)) % 2  # 0: validation, 1: test
  difficulty = np.array([p.difficulty for p in problems])
  prompts = [p.prompt for p in problems]
  key = jax.random.key(config.seed)
  results_path = os.path.join(workdir, "results.jsonl")
  done = {}
  if os.path.exists(results_path):
    with open(results_path) as f:
      for line in f:
        r = json.loads(line)
        done[r["method"]] = r
  out = open(results_path, "a")

  def record(method, family, budget, correct, flops, seconds):
    r = {"method": method, "family": family, "budget": budget,
         "correct": np.asarray(correct, float).tolist(), "flops": np.asarray(flops, float).tolist(),
         "seconds": seconds}
    out.write(json.dumps(r) + "\n")
    out.flush()
    done[method] = r
    acc = {f"d{d}": float(np.mean(r["correct"], where=difficulty == d)) for d in sorted(set(difficulty))}
    print(f"{method:>24}: " + "  ".join(f"{k}={v:.3f}" for k, v in acc.items())
          + f"  FLOPs/problem {np.mean(flops):.2e}  ({seconds:.0f}s)", flush=True)

  # Best-of-N from one pool of samples: N = 1, 2, 4, ... from the first N of each pool.
  ns = _budgets(config.best_of_n)
  if POOL not in done or any(f"best-of-{n} {sel}" not in done
                             for n in ns for sel in ("majority", "PRM weighted")):
    t0 = time.perf_counter()
    m = max(ns)
    pool_prompts = [p for p in prompts for _ in range(m)]
    real_prompt = np.array([prompt_length(vocab, p) for p in prompts])
    prompt_len = int(real_prompt.max())
    texts, lengths = evaluation.complete(policy.graphdef, policy.params, vocab, pool_prompts,
                                         jax.random.fold_in(key, 0), prompt_len=prompt_len,
                                         max_new=config.max_new, temperature=config.temperature)
    seq_len = verifier.seq_len_for(prm_vocab, pool_prompts, texts, multiple=32,
                                   minimum=round_up(prompt_len + config.max_new + 2, 32))
    scores, _ = verifier.score_completions(prm.graphdef, prm.params, prm_vocab, pool_prompts, texts,
                                           seq_len=seq_len, kind="prm",
                                           aggregation=config.prm_aggregation)
    seconds = (time.perf_counter() - t0) / len(ns)
    correct = np.array([task.verify(p, t) for p, t in zip([q for q in problems for _ in range(m)],
                                                          texts)]).reshape(-1, m)
    # The policy's pass rate on each problem (share of the pool that verifies): Snell's
    # "oracle difficulty", for a second set of bins.
    pool = {"method": POOL, "pass_rate": correct.mean(1).tolist()}
    out.write(json.dumps(pool) + "\n")
    done[POOL] = pool
    answers = [extract_answer(t) for t in texts]
    scores = scores.reshape(-1, m)
    lengths = lengths.reshape(-1, m)
    for n in ns:
      gen = compute.generation_flops_rows(policy_cfg, np.repeat(real_prompt, n),
                                          lengths[:, :n].reshape(-1)).reshape(-1, n).sum(1)
      scored = compute.forward_flops_rows(prm_cfg, (real_prompt[:, None] + lengths[:, :n] + 1)
                                          .reshape(-1)).reshape(-1, n).sum(1)
      for sel, flops in (("majority", gen), ("PRM weighted", gen + scored)):
        chosen = [best_of_n.select(answers[j * m:j * m + n], scores[j, :n],
                                   "majority" if sel == "majority" else "weighted")
                  for j in range(len(problems))]
        record(f"best-of-{n} {sel}", f"best-of-N {sel}", n,
               correct[np.arange(len(problems)), chosen], flops, seconds)

  def searched(method, family, budget, fn):
    if method in done:
      return
    t0 = time.perf_counter()
    result = fn()
    correct = [task.verify(p, c) for p, c in zip(problems, result.completions)]
    record(method, family, budget, correct, result.flops, time.perf_counter() - t0)

  for n in _budgets(config.beam):
    b = max(1, n // config.expand)
    searched(f"beam N={n}", "beam (PRM)", n, lambda: beam.beam_search(
        policy, prm, prompts, jax.random.fold_in(key, 1), beams=b, expand=config.expand,
        max_steps=config.max_steps, step_tokens=config.step_tokens, temperature=config.temperature))
  for n in _budgets(config.lookahead):
    b = max(1, n // config.expand)
    searched(f"lookahead{config.lookahead_depth} N={n}", f"lookahead k={config.lookahead_depth}",
             n, lambda: beam.beam_search(
                 policy, prm, prompts, jax.random.fold_in(key, 2), beams=b, expand=config.expand,
                 lookahead=config.lookahead_depth, max_steps=config.max_steps,
                 step_tokens=config.step_tokens, temperature=config.temperature))
  for sims in _budgets(config.mcts):
    def run_mcts(sims=sims):
      results = [mcts.mcts(policy, prm, prompts[i:i + config.mcts_batch],
                           jax.random.fold_in(key, 3 + i), num_candidates=config.mcts_candidates,
                           num_simulations=sims, max_moves=config.max_steps,
                           step_tokens=config.step_tokens, temperature=config.temperature)
                 for i in range(0, len(prompts), config.mcts_batch)]
      return concat_results(results)
    searched(f"MCTS sims={sims}", f"MCTS (mctx, K={config.mcts_candidates})", sims, run_mcts)
  out.close()

  # Curves per bin and split, the compute-optimal frontier, plots and metrics.
  bins = {f"d{d}": difficulty == d for d in sorted(set(difficulty.tolist()))}
  bins["all"] = np.ones(len(problems), bool)
  writer_path = os.path.join(workdir, "metrics.jsonl")
  with open(writer_path, "w") as f:
    for r in done.values():
      if r["method"] == POOL:
        continue
      c, fl = np.array(r["correct"]), np.array(r["flops"])
      for name, rows in bins.items():
        for s, sname in ((0, "val"), (1, "test")):
          sel = rows & (split == s)
          f.write(json.dumps({"method": r["method"], "family": r["family"], "budget": r["budget"],
                              "bin": name, "split": sname, "accuracy": float(c[sel].mean()),
                              "test_flops": float(fl[sel].mean())}) + "\n")
  records = [r for r in done.values() if r["method"] != POOL]
  curves, frontier = tabulate(records, bins, split)
  os.makedirs(os.path.join(workdir, "plots"), exist_ok=True)
  path = os.path.join(workdir, "plots", "search_scaling.png")
  plots.search_scaling(curves, frontier, path,
                       title=f"{config.task.name}: accuracy vs test-time compute (test half)")
  summary = frontier_summary(curves, frontier)
  # The same frontier with problems binned by the policy's pass rate instead of the number count.
  rate = np.asarray(done[POOL]["pass_rate"])
  rate_bins = {"pass=0": rate == 0, "pass<=1/4": (rate > 0) & (rate <= 0.25),
               "pass>1/4": rate > 0.25}
  rate_bins["all"] = np.ones(len(problems), bool)
  rate_curves, rate_frontier = tabulate(records, rate_bins, split)
  summary["all, binned by pass rate"] = frontier_summary(rate_curves, rate_frontier).get("all")
  with open(os.path.join(workdir, "summary.json"), "w") as f:
    json.dump(summary, f, indent=2)
  print(json.dumps(summary, indent=2), flush=True)
  print(f"wrote {path}", flush=True)
  return {"curves": curves, "frontier": frontier, "summary": summary}


if __name__ == "__main__":
  common.main(run, "search")

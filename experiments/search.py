"""Test-time compute scaling: best-of-N, PRM beam search, lookahead search and MCTS, at several
budgets each, on held-out problems, with the compute-optimal frontier (Snell et al. 2024).

  python -m experiments.search --config configs/countdown_search.py --config.policy=SFT_DIR \
      --config.prm=PRM_DIR

Every method's accuracy (the task verifier on the chosen completion) and mean test-time FLOPs
per problem are recorded per difficulty bin, on a validation and a test half of the problems.
The compute-optimal strategy picks, per bin and FLOPs budget, the method whose validation
accuracy is best within the budget, and is scored on the test half. Writes results.jsonl (one
record per method and budget), metrics.jsonl (per bin and split), summary.json,
plots/search_scaling.png. Model-relative difficulty (Snell et al. 2024): the same curves and
frontier in `bins` quantile bins of the policy's own pass rate over the best-of-N pool (oracle;
plots/search_scaling_relative.png) and of the PRM's mean score (predicted), and per bin a paired
answer to "does any tree search beat best-of-N at equal FLOPs" (compute_optimal.
versus_best_of_n). A finished method is not rerun: rerunning the command resumes.
"""

from __future__ import annotations

import json
import os

import jax
import numpy as np

from experiments import cli
from reasoning import plots, runs as runs_lib
from reasoning.logging import repaired_records, write_scalar_summary
from reasoning.search import beam, mcts, sweep
from reasoning.model import Model
from reasoning.search.base import concat_results
from reasoning.search.compute_optimal import frontier_summary, tabulate, versus_best_of_n

POOL = "_pool"  # the results.jsonl record of the best-of-N pool's per-problem pass rates


def run(config, workdir: str) -> dict:
  vocab, sft_config, policy_cfg, graphdef, policy_params, _ = runs_lib.load_sft(config.policy)
  task = runs_lib.make_task(config, vocab)
  prm_vocab, _, prm_cfg, prm_graphdef, prm_params, _ = runs_lib.load_sft(config.prm)
  runs_lib.save_config(config, workdir)
  policy = Model(graphdef, policy_params, policy_cfg, vocab)
  prm = Model(prm_graphdef, prm_params, prm_cfg, prm_vocab)
  # The SFT run's held-out problems (its seed), so none was trained on.
  problems = runs_lib.evaluation_set(task, config.policy, config.eval_difficulties,
                                     config.eval_problems)
  split = np.arange(len(problems)) % 2  # 0: validation, 1: test
  difficulty = np.array([p.difficulty for p in problems])
  prompts = [p.prompt for p in problems]
  key = jax.random.key(config.seed)
  results_path = os.path.join(workdir, "results.jsonl")
  done = {r["method"]: r for r in repaired_records(results_path)}

  def write(r):
    with open(results_path, "a") as out:
      out.write(json.dumps(r) + "\n")
    done[r["method"]] = r
    if r["method"] == POOL:
      return
    acc = {f"d{d}": float(np.mean(r["correct"], where=difficulty == d))
           for d in sorted(set(difficulty))}
    print(f"{r['method']:>24}: " + "  ".join(f"{k}={v:.3f}" for k, v in acc.items())
          + f"  FLOPs/problem {np.mean(r['flops']):.2e}  ({r['seconds']:.0f}s)", flush=True)

  ns = runs_lib.ints(config.best_of_n)  # N = 1, 2, 4, ... from the first N of one pool
  if POOL not in done or any(f"best-of-{n} {sel}" not in done
                             for n in ns for sel in ("majority", "PRM weighted")):
    records, pass_rate, prm_score = sweep.best_of_n_records(
        policy, prm, task, problems, jax.random.fold_in(key, 0), ns, max_new=config.max_new,
        temperature=config.temperature, prm_aggregation=config.prm_aggregation)
    write({"method": POOL, "pass_rate": pass_rate.tolist(), "prm_score": prm_score.tolist()})
    for r in records:
      write(r)

  def searched(method, family, budget, fn):
    if method not in done:
      result, seconds = sweep.timed(fn)
      correct = [task.verify(p, c) for p, c in zip(problems, result.completions)]
      write(sweep.record(method, family, budget, correct, result.flops, seconds))

  tree_searches(config, searched, policy, prm, prompts, key)
  records = [r for r in done.values() if r["method"] != POOL]
  return report(config, workdir, records, done[POOL], difficulty, split)


def tree_searches(config, searched, policy: Model, prm: Model, prompts, key) -> None:
  """Beam, lookahead and MCTS at each of their budgets; `searched(method, family, budget, fn)`
  runs `fn` unless the method is on record."""
  options = dict(expand=config.expand, max_steps=config.max_steps,
                 step_tokens=config.step_tokens, temperature=config.temperature)
  for n in runs_lib.ints(config.beam):
    searched(f"beam N={n}", "beam (PRM)", n, lambda: beam.beam_search(
        policy, prm, prompts, jax.random.fold_in(key, 1), beams=max(1, n // config.expand),
        **options))
  depth = config.lookahead_depth
  for n in runs_lib.ints(config.lookahead):
    searched(f"lookahead{depth} N={n}", f"lookahead k={depth}", n, lambda: beam.beam_search(
        policy, prm, prompts, jax.random.fold_in(key, 2), beams=max(1, n // config.expand),
        lookahead=depth, **options))
  for sims in runs_lib.ints(config.mcts):
    searched(f"MCTS sims={sims}", f"MCTS (mctx, K={config.mcts_candidates})", sims,
             lambda: concat_results([
                 mcts.mcts(policy, prm, prompts[i:i + config.mcts_batch],
                           jax.random.fold_in(key, 3 + i), num_candidates=config.mcts_candidates,
                           num_simulations=sims, max_moves=config.max_steps,
                           step_tokens=config.step_tokens, temperature=config.temperature)
                 for i in range(0, len(prompts), config.mcts_batch)]))


def report(config, workdir: str, records: list[dict], pool: dict, difficulty, split) -> dict:
  """Curves per bin and split, the compute-optimal frontier, metrics.jsonl, TensorBoard
  scalars, plots and summary.json, by task difficulty and by model-relative difficulty."""
  bins = {f"d{d}": difficulty == d for d in sorted(set(difficulty.tolist()))}
  bins["all"] = np.ones(len(difficulty), bool)
  rows = sweep.per_bin_rows(records, bins, split)
  with open(os.path.join(workdir, "metrics.jsonl"), "w") as f:
    f.writelines(json.dumps(row) + "\n" for row in rows)
  scalars: dict[str, list] = {}  # accuracy against budget per family, bin and split
  for row in rows:
    tag = f"{row['split']}/{row['bin']}/{row['family']}"
    scalars.setdefault(tag, []).append((row["budget"], row["accuracy"]))
  write_scalar_summary(workdir, scalars)
  curves, frontier = tabulate(records, bins, split)
  os.makedirs(os.path.join(workdir, "plots"), exist_ok=True)
  path = os.path.join(workdir, "plots", "search_scaling.png")
  plots.search_scaling(curves, frontier, path,
                       title=f"{config.task.name}: accuracy vs test-time compute (test half)")
  summary = frontier_summary(curves, frontier)
  # Model-relative difficulty (Snell et al. 2024, section 3): quantile bins of the policy's own
  # pass rate over the pool (oracle, q1 hardest) and of the PRM's mean score (predicted, p1).
  relative = {**sweep.model_relative_bins(np.array(pool["pass_rate"]), "q", config.bins),
              "all": np.ones(len(difficulty), bool)}
  rel_curves, rel_frontier = tabulate(records, relative, split)
  summary["model-relative bins (pass rate)"] = frontier_summary(rel_curves, rel_frontier)
  for reference in ("best-of-N PRM weighted", "best-of-N majority"):
    for view, view_bins in (("task difficulty", bins), ("model-relative bin", relative)):
      summary[f"tree search vs {reference} at equal FLOPs, by {view}"] = versus_best_of_n(
          records, view_bins, reference)
  if "prm_score" in pool:
    predicted = {**sweep.model_relative_bins(np.array(pool["prm_score"]), "p", config.bins),
                 "all": np.ones(len(difficulty), bool)}
    pred_curves, pred_frontier = tabulate(records, predicted, split)
    summary["predicted bins (PRM mean score)"] = frontier_summary(pred_curves, pred_frontier)
  plots.search_scaling(rel_curves, rel_frontier, os.path.join(workdir, "plots",
                                                              "search_scaling_relative.png"),
                       title=f"{config.task.name}: accuracy vs test-time compute by the "
                             "policy's own pass rate (q1 hardest; test half)")
  with open(os.path.join(workdir, "summary.json"), "w") as f:
    json.dump(summary, f, indent=2)
  print(json.dumps(summary, indent=2), flush=True)
  print(f"wrote {path}", flush=True)
  return {"curves": curves, "frontier": frontier, "summary": summary}

if __name__ == "__main__":
  cli.main(run, "search")

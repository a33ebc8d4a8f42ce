"""Test-time compute against model size (Snell et al. 2024, section 7): per difficulty, is a
smaller model sampling N times better than a larger one answering greedily at the same total
FLOPs, training plus inference, for a few ratios R of inference to training tokens?

  python scripts/exchange.py --out runs/exchange runs/sft_w64 runs/sft runs/sft_w256 \
      [--problems 200] [--n 32] [--ratios 0.1,1,10]

Each policy (an SFT workdir; model sizes differ, data and steps the same) answers the solvable
held-out problems greedily and with N = 1..n samples at temperature 1, keeping a sample the
task's checker accepts: Countdown's answer is checkable at test time without a reference (the
equation uses the numbers and reaches the target), so best-of-N with the exact checker is
pass@N (the unbiased estimator over the n samples), and the only inference compute is the
policy's. (Majority voting is degenerate here: every attempt states the target.) Total FLOPs of serving Q problems = the run's
training FLOPs + Q x the mean inference FLOPs per problem, with Q = R x training tokens /
tokens per greedy query, so at R = 1 the models generate as many tokens at inference as they
trained on. Writes OUT/exchange.json, OUT/exchange.md and OUT/exchange.png.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

from experiments import cli

cli.tune_xla_cpu()
import jax

from reasoning import plots, runs as runs_lib, scaling
from reasoning.search import sweep
from reasoning.model import Model


def measure(workdir: str, problems_per_difficulty: int, difficulties: str, n: int, key,
            max_new: int) -> dict:
  vocab, config, cfg, graphdef, params, train_flops = runs_lib.load_sft(workdir)
  task = runs_lib.make_task(config)
  problems = [p for p in runs_lib.evaluation_set(task, workdir, difficulties,
                                                 problems_per_difficulty) if not p.is_trap]
  policy = Model(graphdef, params, cfg, vocab)
  greedy = sweep.sample_pool(policy, task, problems, jax.random.fold_in(key, 0), 1,
                             max_new=max_new, temperature=0.0)
  pool = sweep.sample_pool(policy, task, problems, jax.random.fold_in(key, 1), n,
                           max_new=max_new)
  prompt_tokens = np.array([len(vocab.encode(p.prompt)) for p in problems])
  ns = [int(k) for k in 2 ** np.arange(int(np.log2(n)) + 1)]
  difficulty = np.array([p.difficulty for p in problems])
  tokens_per_step = config["batch_size"] * (config.get("pack_len") or config["seq_len"])
  out: dict = {
      "workdir": workdir, "params": int(sum(x.size for x in jax.tree.leaves(params))),
      "train_flops": train_flops, "train_tokens": float(config["steps"] * tokens_per_step),
      "query_tokens": float(np.mean(prompt_tokens + greedy["lengths"][:, 0])), "bins": {}}
  for d in sorted(set(difficulty.tolist())):
    rows = difficulty == d
    entry: dict = {"problems": int(rows.sum()),
                   "prompts": [p.prompt for p, r in zip(problems, rows) if r],
                   "greedy": {"accuracy": float(greedy["correct"][rows, 0].mean()),
                              "correct": [int(x) for x in greedy["correct"][rows, 0]],
                              "flops": float(greedy["flops"][rows, 0].mean())},
                   "best_of_n": []}
    correct = pool["correct"][rows].sum(1)
    per_sample = float(pool["flops"][rows].mean())
    for k in ns:
      per_problem = [scaling.pass_at_k(n, int(c), k) for c in correct]
      entry["best_of_n"].append({"n": k, "flops": k * per_sample,
                                 "accuracy": float(np.mean(per_problem)),
                                 "per_problem": per_problem})
    out["bins"][f"d{d}"] = entry
  return out


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("policies", nargs="+", help="SFT workdirs of different model sizes")
  parser.add_argument("--out", required=True)
  parser.add_argument("--problems", type=int, default=200, help="held-out problems per difficulty")
  parser.add_argument("--difficulties", default="1,2")
  parser.add_argument("--n", type=int, default=32)
  parser.add_argument("--ratios", default="0.1,1,10")
  parser.add_argument("--max_new", type=int, default=64)
  parser.add_argument("--seed", type=int, default=0)
  args = parser.parse_args()
  if len(args.policies) < 2:
    parser.error("give two or more SFT workdirs of different model sizes")
  t0 = time.time()
  key = jax.random.key(args.seed)
  models = []
  for workdir in args.policies:
    models.append(measure(workdir, args.problems, args.difficulties, args.n, key, args.max_new))
    print(f"{workdir}: {models[-1]['params'] / 1e6:.2f}M parameters, greedy "
          + ", ".join(f"{b} {100 * e['greedy']['accuracy']:.1f}%"
                      for b, e in models[-1]["bins"].items()), flush=True)
  ratios = [float(r) for r in args.ratios.split(",")]
  rows, text = scaling.exchange_table(models, ratios)
  os.makedirs(args.out, exist_ok=True)
  with open(os.path.join(args.out, "exchange.json"), "w") as f:
    json.dump({"models": models, "ratios": ratios, "comparison": rows}, f, indent=1)
  with open(os.path.join(args.out, "exchange.md"), "w") as f:
    f.write(text + "\n")
  plots.exchange(models, ratios, os.path.join(args.out, "exchange.png"),
                 title="model size vs test-time compute at equal total FLOPs\n(training + "
                       "inference; best of N samples by the exact checker; solvable problems)")
  print(text)
  print(f"wrote {args.out}/exchange.json, exchange.md, exchange.png ({time.time() - t0:.0f} s)")


if __name__ == "__main__":
  main()

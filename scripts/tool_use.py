"""Accuracy with and without the tool: runs of a task with tools (configs/arithmetic_tools_*.py)
evaluated on their held-out problems by difficulty, greedy, first with the calc tool and then with
every call answered `result error: no tools here`, with tool calls per answer and the paired
difference (with the tool - without) per problem.

  python scripts/tool_use.py --out runs/tools_eval sft=runs/tools_sft rl=runs/tools_rl \
      [--problems 200]

Writes OUT/tool_use.json, OUT/tool_use.md and OUT/tool_use.png. Every accuracy has its n and
binomial SE, every difference its paired SE.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import time

import numpy as np

from experiments import cli

cli.tune_xla_cpu()
import jax

from reasoning import evaluation, plots, runs as runs_lib
from reasoning.logging import read_metrics
from reasoning.tasks.tool_use import ToolUse
from reasoning.text import prompt_length


def evaluate_run(workdir: str, problems: int, max_new: int) -> dict:
  """{difficulty: {with, without, difference, calls_with, calls_without, n}} of a run."""
  config = runs_lib.read_run_config(workdir)
  vocab, _, _, graphdef, params, _ = runs_lib.load_sft(workdir)
  task = runs_lib.make_task(config, vocab)
  if not isinstance(task, ToolUse):
    raise ValueError(f"{workdir}: its task has no tools (config.json's task.tools)")
  levels = config["eval_difficulties"]
  held_out = runs_lib.evaluation_set(task, workdir, levels, problems)
  prompt_len = max(prompt_length(vocab, p.prompt) for p in held_out) + 4
  out = {}
  scores = {}
  for name, available in (("with", True), ("without", False)):
    per_problem: dict = {}
    result = evaluation.evaluate(graphdef, params, vocab,
                                 dataclasses.replace(task, available=available), held_out,
                                 jax.random.key(0), prompt_len=prompt_len, max_new=max_new,
                                 per_problem=per_problem)
    scores[name] = (per_problem["greedy"], result["eval/tool_calls"])
  difficulty = np.array([p.difficulty for p in held_out])
  for d in sorted(set(difficulty.tolist())) + ["all"]:
    rows = np.ones(len(held_out), bool) if d == "all" else difficulty == d
    w, wo = scores["with"][0][rows], scores["without"][0][rows]
    n = int(rows.sum())
    diff = w - wo
    out[f"d{d}" if d != "all" else "all"] = {
        "n": n, "with": float(w.mean()), "with_se": float(np.sqrt(w.mean() * (1 - w.mean()) / n)),
        "without": float(wo.mean()),
        "without_se": float(np.sqrt(wo.mean() * (1 - wo.mean()) / n)),
        "difference": float(diff.mean()), "difference_se": float(diff.std(ddof=1) / np.sqrt(n))}
  out["tool_calls"] = {"with": scores["with"][1], "without": scores["without"][1]}
  return out


def table(results: dict[str, dict]) -> str:
  lines = ["| run | difficulty | n | greedy with the tool | without (every call refused) | "
           "paired difference (pts) | calls per answer with / without |", "|---" * 7 + "|"]
  for run, result in results.items():
    calls = result["tool_calls"]
    for key, r in result.items():
      if key == "tool_calls":
        continue
      lines.append(f"| {run} | {key} | {r['n']} | {100 * r['with']:.1f} ± {100 * r['with_se']:.1f}% "
                   f"| {100 * r['without']:.1f} ± {100 * r['without_se']:.1f}% | "
                   f"{100 * r['difference']:+.1f} ± {100 * r['difference_se']:.1f} | "
                   f"{calls['with']:.2f} / {calls['without']:.2f} |")
  return "\n".join(lines)


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("runs", nargs="+", type=cli.labelled, help="LABEL=WORKDIR")
  parser.add_argument("--out", required=True)
  parser.add_argument("--problems", type=int, default=200, help="held-out problems per difficulty")
  parser.add_argument("--max_new", type=int, default=64)
  args = parser.parse_args()
  start = time.time()
  results = {}
  for label, workdir in args.runs:
    results[label] = evaluate_run(workdir, args.problems, args.max_new)
  os.makedirs(args.out, exist_ok=True)
  with open(os.path.join(args.out, "tool_use.json"), "w") as f:
    json.dump(results, f, indent=1)
  md = table(results)
  with open(os.path.join(args.out, "tool_use.md"), "w") as f:
    f.write(md + "\n")
  curves = {}
  for label, workdir in args.runs:  # the RL runs' rollouts: tool calls and verified share per step
    train = [r for r in read_metrics(os.path.join(workdir, "metrics.jsonl")) if "tool_calls" in r]
    if train:
      curves[label] = {k: [r[k] for r in train] for k in ("step", "tool_calls", "pass_rate")}
  plots.tool_use(results, os.path.join(args.out, "tool_use.png"), curves=curves,
                 title=f"accuracy with and without the calc tool ({args.problems} held-out "
                       f"problems per difficulty)")
  print(md)
  print(f"wrote {args.out}/tool_use.json, tool_use.md, tool_use.png ({time.time() - start:.0f} s)")


if __name__ == "__main__":
  main()

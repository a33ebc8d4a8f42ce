"""Coverage: the share of problems a policy solves in k samples (pass@k, the unbiased estimator)
for k up to 256, per task difficulty and per model-relative difficulty bin, each fitted with the
exponentiated power law of Brown et al. 2024, log(coverage) = a * k^b, and that law fitted on the
first half of the log k range alone predicting the rest (with k = 64: fitted on k <= 8,
predicting pass@16, 32, 64).

  python scripts/coverage.py --policy runs/demo/sft --out runs/coverage [--k 256] \
      [--problems 200] [--difficulties 1,2] [--bin_samples 32] [--bins 5]
  python scripts/coverage.py --policy .cache/smollm2/hf --out runs/smollm2_arithmetic \
      --task arithmetic --question "What is {a} {op} {b}?" \
      --instruction "Answer with just the number." --difficulties 1 --k 64 --greedy

--task poses another task to the policy (a pretrained model has none of its own) at trap share 0;
with --question, in the model's own words through its chat template (reasoning/tasks/chat.py):
the question filled from each problem's fields, the answer read from the natural reply.
--greedy also reports greedy pass@1 on the same problems.

Model-relative bins (Snell et al. 2024) come from `bin_samples` samples per problem drawn apart
from the k that coverage counts, so a problem's bin and its coverage are independent draws.
Writes OUT/coverage.json, OUT/coverage.md and OUT/coverage.png; intervals are 90% bootstrap
intervals over problems. Finished batches of completions are kept in OUT/samples: the same
command run again after a stop resumes with the same samples.
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

from reasoning import plots, rng as rng_lib, runs as runs_lib, scaling
from reasoning.search import sweep
from reasoning.model import Model


def coverage_curve(correct: np.ndarray, ks: list[int]) -> np.ndarray:
  """[len(ks)] mean unbiased pass@k over problems; correct: [P, n] bool."""
  n, c = correct.shape[1], correct.sum(1)
  return np.array([np.mean([scaling.pass_at_k(n, int(ci), k) for ci in c]) for k in ks])


def fitted(correct: np.ndarray, ks: list[int], rng: np.random.Generator, resamples: int = 100):
  """Coverage per k, its 90% bootstrap interval over problems, the Brown et al. fit with
  intervals on a and b, and its extrapolation check (scaling.coverage_extrapolation)."""
  cov = coverage_curve(correct, ks)
  draws = [coverage_curve(correct[rng.integers(0, len(correct), len(correct))], ks)
           for _ in range(resamples)]
  out = {"k": ks, "coverage": cov.tolist(), "low": np.quantile(draws, 0.05, 0).tolist(),
         "high": np.quantile(draws, 0.95, 0).tolist(), "problems": len(correct)}
  try:
    out["fit"] = scaling.coverage_fit(ks, cov)
    fits = []
    for d in draws:
      try:
        fits.append(scaling.coverage_fit(ks, d))
      except ValueError:
        pass
    out["fit_interval"] = {name: [float(np.quantile([f[name] for f in fits], q))
                                  for q in (0.05, 0.95)] for name in ("a", "b")}
  except ValueError as e:  # all solved or none: nothing to fit
    out["fit"] = None
    out["fit_note"] = str(e)
  try:  # the law fitted on the smaller ks, predicting the larger: does it hold out of sample?
    out["extrapolation"] = scaling.coverage_extrapolation(ks, cov)
  except ValueError as e:
    out["extrapolation_note"] = str(e)
  return out


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--policy", required=True, help="an SFT or RL workdir")
  parser.add_argument("--out", required=True)
  parser.add_argument("--k", type=int, default=256)
  parser.add_argument("--problems", type=int, default=200, help="held-out problems per difficulty")
  parser.add_argument("--difficulties", default="1,2")
  parser.add_argument("--bin_samples", type=int, default=32,
                      help="samples per problem that bin it by the policy's pass rate (0: no "
                           "model-relative bins)")
  parser.add_argument("--bins", type=int, default=5)
  parser.add_argument("--max_new", type=int, default=64)
  parser.add_argument("--seed", type=int, default=0)
  parser.add_argument("--task", default=None,
                      help="pose this task instead of the policy's own (trap share 0)")
  parser.add_argument("--question", default=None,
                      help="with --task: ask it through the model's chat template, this question "
                           "filled from each problem's fields, e.g. 'What is {a} {op} {b}?'")
  parser.add_argument("--instruction", default="", help="appended to --question")
  parser.add_argument("--system", default="", help="a system message for --question")
  parser.add_argument("--greedy", action="store_true", help="also greedy pass@1")
  parser.add_argument("--refit", action="store_true",
                      help="fit and draw again from OUT/coverage.json's per-problem counts")
  args = parser.parse_args()
  t0 = time.time()
  if args.refit:
    with open(os.path.join(args.out, "coverage.json")) as f:
      saved = json.load(f)
    counts = {name: np.array(v) for name, v in saved["counts"].items()}
    report(args, saved["difficulty"], counts, saved["samples"], saved["bin_samples"], t0,
           np.array(saved["sample_flops"]))
    return
  vocab, sft_config, cfg, graphdef, params, _ = runs_lib.load_sft(args.policy)
  task = posed_task(args, vocab) if args.task else runs_lib.make_task(sft_config, vocab)
  problems = runs_lib.evaluation_set(task, args.policy, args.difficulties, args.problems)
  solvable = [p for p in problems if not p.is_trap]  # coverage counts problems with an answer
  policy = Model(graphdef, params, cfg, vocab)
  key = jax.random.key(args.seed)
  store = sample_store(args)
  print(f"sampling {args.bin_samples} + {args.k} completions for each of {len(solvable)} "
        f"solvable held-out problems (finished batches kept in {store})", flush=True)
  pool = sweep.sample_pool(policy, task, solvable, jax.random.fold_in(key, 1), args.k,
                           max_new=args.max_new, store=os.path.join(store, "pool"))
  counts = {"pool": pool["correct"].sum(1)}
  if args.greedy:
    counts["greedy"] = sweep.sample_pool(policy, task, solvable, jax.random.fold_in(key, 2), 1,
                                         max_new=args.max_new, temperature=0.0,
                                         store=os.path.join(store, "greedy"))["correct"][:, 0]
  if args.bin_samples:
    counts["bin"] = sweep.sample_pool(policy, task, solvable, jax.random.fold_in(key, 0),
                                      args.bin_samples, max_new=args.max_new,
                                      store=os.path.join(store, "bin"))["correct"].sum(1)
  report(args, [p.difficulty for p in solvable], counts, args.k, args.bin_samples, t0,
         pool["flops"].mean(1))


# What the kept completions depend on: a rerun into the same OUT with any of these changed
# would mix two experiments' samples.
SAMPLING_ARGS = ("policy", "task", "question", "instruction", "system", "difficulties", "problems",
                 "k", "bin_samples", "greedy", "max_new", "seed")


def sample_store(args) -> str:
  """OUT/samples: the finished batches of completions (evaluation.complete's `store`), so that a
  run stopped part way (hours, on a real model) picks up where it stopped with the same samples.
  A rerun with other sampling arguments is an error naming the first that differs."""
  store = os.path.join(args.out, "samples")
  wanted = {name: getattr(args, name) for name in SAMPLING_ARGS}
  path = os.path.join(store, "args.json")
  if os.path.exists(path):
    with open(path) as f:
      kept = json.load(f)
    for name in SAMPLING_ARGS:
      if kept.get(name) != wanted[name]:
        raise SystemExit(f"coverage: {store} holds samples drawn with --{name}="
                         f"{kept.get(name)!r}, not {wanted[name]!r}: use another --out or "
                         f"delete {store}")
  else:
    os.makedirs(store, exist_ok=True)
    with open(path, "w") as f:
      json.dump(wanted, f, indent=1)
  return store


def posed_task(args, vocab):
  """--task at trap share 0, through the model's chat template with --question."""
  from reasoning.tasks import get_task
  from reasoning.tasks.chat import ChatFormat
  task = get_task(args.task, trap_share=0.0)
  if args.question is None:
    return task
  return ChatFormat(task, template=getattr(vocab, "chat_template", None) or "",
                    question=args.question, instruction=args.instruction, system=args.system,
                    special_tokens=getattr(vocab, "special_tokens", ()))


def expand(counts: np.ndarray, n: int) -> np.ndarray:
  """[P, n] bool with counts[p] leading Trues: pass@k needs only the count per problem."""
  return np.arange(n)[None] < np.asarray(counts)[:, None]


def report(args, difficulties, counts: dict, samples: int, bin_samples: int, t0: float,
           sample_flops: np.ndarray) -> None:
  """Fits, table, figure and coverage.json from per-problem correct counts; `sample_flops` [P]:
  each problem's mean generation FLOPs per sample, so best-of-k with the checker costs k times
  a group's mean (its test-time compute per problem)."""
  ks = [int(k) for k in 2 ** np.arange(int(np.log2(samples)) + 1)]
  difficulty = np.asarray(difficulties)
  pool = expand(counts["pool"], samples)
  groups = {f"d{d}": difficulty == d for d in sorted(set(difficulty.tolist()))}
  groups["all"] = np.ones(len(difficulty), bool)
  bin_rate = (np.asarray(counts["bin"]) / bin_samples if bin_samples
              else np.zeros(len(difficulty)))
  if bin_samples:
    groups.update(sweep.model_relative_bins(bin_rate, "q", args.bins))
  results = {}
  for i, (name, rows) in enumerate(groups.items()):
    results[name] = fitted(pool[rows], ks, rng_lib.stream(args.seed, "fit_bootstrap", i))
    if bin_samples:
      results[name]["bin_pass_rate"] = float(bin_rate[rows].mean())
    if "greedy" in counts:
      greedy = np.asarray(counts["greedy"], float)[rows]
      results[name]["greedy"] = float(greedy.mean())
      results[name]["greedy_se"] = float(greedy.std() / np.sqrt(max(len(greedy), 1)))
    results[name]["flops_per_sample"] = float(np.mean(sample_flops[rows]))
  os.makedirs(args.out, exist_ok=True)
  with open(os.path.join(args.out, "coverage.json"), "w") as f:
    json.dump({"policy": args.policy, "samples": samples, "bin_samples": bin_samples,
               "difficulty": difficulty.tolist(),
               "counts": {k: np.asarray(v).tolist() for k, v in counts.items()},
               "sample_flops": np.asarray(sample_flops).tolist(),
               "results": results}, f, indent=1)
  lines = [f"| problems | n | pass rate ({bin_samples} binning samples) | pass@1 | pass@16 | "
           f"pass@{samples} | a [90%] | b [90%] | R² | pass@{samples} predicted from small k |",
           "|---" * 10 + "|"]
  for name, r in results.items():
    cov = dict(zip(r["k"], r["coverage"]))
    fit = r.get("fit")
    fit_text = (f"{fit['a']:.2f} [{r['fit_interval']['a'][0]:.2f}, {r['fit_interval']['a'][1]:.2f}]"
                f" | {fit['b']:.2f} [{r['fit_interval']['b'][0]:.2f}, "
                f"{r['fit_interval']['b'][1]:.2f}] | {fit['r2']:.3f}") if fit else "- | - | -"
    rate = f"{100 * r['bin_pass_rate']:.1f}%" if "bin_pass_rate" in r else "-"
    if "greedy" in r:
      rate += f" (greedy pass@1 {100 * r['greedy']:.1f} ± {100 * r['greedy_se']:.1f}%)"
    ex = r.get("extrapolation")
    ex_text = (f"{100 * ex['predicted'][-1]:.1f}% (fitted on k <= {ex['fit_up_to']})" if ex
               else "-")
    lines.append(f"| {name} | {r['problems']} | {rate} | "
                 f"{100 * cov[1]:.1f}% | {100 * cov.get(16, float('nan')):.1f}% | "
                 f"{100 * cov[max(r['k'])]:.1f}% | {fit_text} | {ex_text} |")
  text = "\n".join(lines)
  with open(os.path.join(args.out, "coverage.md"), "w") as f:
    f.write(text + "\n")
  plots.coverage(results, os.path.join(args.out, "coverage.png"),
                 title=f"coverage (pass@k) of {os.path.basename(os.path.normpath(args.policy))}"
                       f", {samples} samples per problem")
  print(text)
  print(f"wrote {args.out}/coverage.json, coverage.md, coverage.png ({time.time() - t0:.0f} s)")


if __name__ == "__main__":
  main()

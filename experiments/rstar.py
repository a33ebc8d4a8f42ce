"""rStar: MCTS generation with two action types, picked with and without mutual consistency.

  python -m experiments.rstar --config configs/countdown_rstar.py --config.generator=SFT_DIR \
      --config.prm=PRM_DIR --config.discriminator=OTHER_POLICY_DIR

For each simulation budget, one search per held-out problem (reasoning/search/rstar.py) gives
two answers from the same trees: the generator's best-scored trajectory, and the best-scored
trajectory the discriminator agrees with. The discriminator's completions cost extra FLOPs, so
the comparison that counts is at equal compute: the with-discriminator accuracy against the
generator-alone curve interpolated at the same FLOPs per problem.

Writes config.json, results.jsonl (one record per budget; a rerun skips the finished ones),
summary.json and plots/rstar_scaling.png.
"""

from __future__ import annotations

import json
import os

import jax
import numpy as np

from experiments import cli
from reasoning import plots, runs as runs_lib
from reasoning.logging import repaired_records, write_scalar_summary
from reasoning.search import rstar as rstar_lib
from reasoning.model import Model
from reasoning.search.base import concat_results
from reasoning.search.compute_optimal import interpolate

GENERATOR, MUTUAL = "generator alone", "with mutual consistency"


def _model(workdir):
  vocab, _, cfg, graphdef, params, _ = runs_lib.load_sft(workdir)
  return Model(graphdef, params, cfg, vocab)


def run(config, workdir: str) -> dict:
  if config.value not in ("prm", "value") or (config.value == "prm") != bool(config.prm):
    raise ValueError(f"config.value must be 'prm' (with config.prm set) or 'value' (the "
                     f"generator's value head); got {config.value!r}, prm={config.prm!r}")
  generator = _model(config.generator)
  evaluator = _model(config.prm) if config.value == "prm" else generator
  discriminator = _model(config.discriminator)
  task = runs_lib.make_task(config)
  runs_lib.save_config(config, workdir)
  problems = runs_lib.evaluation_set(task, config.generator, config.eval_difficulties,
                                     config.eval_problems)
  key = jax.random.key(config.seed)
  path = os.path.join(workdir, "results.jsonl")
  done = {r["sims"]: r for r in repaired_records(path)}
  difficulty = np.array([p.difficulty for p in problems])
  for sims in runs_lib.ints(config.simulations):
    if sims in done:
      continue
    record = measure(config, task, (generator, evaluator, discriminator), problems, key, sims)
    with open(path, "a") as f:
      f.write(json.dumps(record) + "\n")
    done[sims] = record
    print(f"sims={sims}: " + "  ".join(
        f"{name} {100 * record[name]['all'][1]:.1f}% at {record[name]['all'][0]:.3g} FLOPs"
        for name in (GENERATOR, MUTUAL)) +
        f"  ({record['trajectories_per_problem']:.1f} trajectories/problem, "
        f"{100 * record['consistent_share']:.0f}% consistent)", flush=True)
  return report(config, workdir, done, difficulty)


def measure(config, task, models, problems, key, sims: int) -> dict:
  """rStar at `sims` simulations on every problem (batches padded to one shape): per problem
  and per difficulty, the generator's pick and the mutually consistent pick, with their FLOPs,
  the trajectories per problem and the consistent share."""
  generator, evaluator, discriminator = models
  prompts = [p.prompt for p in problems]
  outs = []
  for i in range(0, len(prompts), config.batch):
    part = prompts[i:i + config.batch]
    outs.append(rstar_lib.rstar(
        generator, evaluator, discriminator, part + [part[-1]] * (config.batch - len(part)),
        jax.random.fold_in(key, sims * 100_000 + i), num_candidates=config.num_candidates,
        num_simulations=sims, step_tokens=config.step_tokens,
        finish_tokens=config.finish_tokens, value=config.value,
        max_trajectories=config.max_trajectories, seed=config.seed * 1000 + sims + i,
        answer_of=rstar_lib.consistency_key(task)))
  difficulty = np.array([p.difficulty for p in problems])
  record: dict = {"sims": sims, "solved": {}}
  for name, attr in ((GENERATOR, "generator"), (MUTUAL, "mutual")):
    result = concat_results([getattr(o, attr) for o in outs])
    n = len(problems)
    solved = np.array([task.verify(p, c) for p, c in zip(problems, result.completions[:n])])
    flops = result.flops[:n]
    record["solved"][name] = solved.tolist()  # per problem, for paired comparisons
    record[name] = {"all": [float(flops.mean()), float(solved.mean())]}
    for d in sorted(set(difficulty.tolist())):
      record[name][f"d{d}"] = [float(flops[difficulty == d].mean()),
                               float(solved[difficulty == d].mean())]
  trajectories = [t for o in outs for t in o.trajectories][:len(problems)]
  consistent = [c for o in outs for c in o.consistent or []][:len(problems)]
  record["trajectories_per_problem"] = float(np.mean([len(t) for t in trajectories]))
  record["consistent_share"] = float(np.mean([np.mean(c) for c in consistent]))
  return record


def report(config, workdir: str, done: dict, difficulty) -> dict:
  """Curves per bin, each with-discriminator point against the generator's curve at its FLOPs
  and paired on the same trajectories; summary.json, TensorBoard scalars and the plot."""
  bins = list(next(iter(done.values()))[GENERATOR])
  curves = {b: {name: sorted(tuple(r[name][b]) for r in done.values())
                for name in (GENERATOR, MUTUAL)} for b in bins}
  summary = {b: [{"sims": r["sims"], "flops": r[MUTUAL][b][0], "mutual": r[MUTUAL][b][1],
                  "generator_same_sims": r[GENERATOR][b][1],
                  "generator_at_equal_flops": interpolate(curves[b][GENERATOR], r[MUTUAL][b][0]),
                  **paired_gain(r, difficulty, b)}
                 for r in sorted(done.values(), key=lambda r: r["sims"])] for b in bins}
  with open(os.path.join(workdir, "summary.json"), "w") as f:
    json.dump(summary, f, indent=2)
  write_scalar_summary(workdir, {f"{b}/{name}": [(r["sims"], r[name][b][1]) for r in done.values()]
                                 for b in bins for name in (GENERATOR, MUTUAL)})
  for b in bins:
    print(f"{b}: " + "; ".join(
        f"sims={s['sims']} mutual {100 * s['mutual']:.1f}% vs generator "
        f"{100 * s['generator_at_equal_flops']:.1f}% at equal FLOPs" + (
            f" (same trajectories, paired: {100 * s['paired_gain']:+.1f} ± "
            f"{100 * s['paired_se']:.1f})" if "paired_gain" in s else "") for s in summary[b]))
  os.makedirs(os.path.join(workdir, "plots"), exist_ok=True)
  plot_path = os.path.join(workdir, "plots", "rstar_scaling.png")
  plots.search_scaling(curves, {}, plot_path, ylabel="% solved (held-out)",
                       title=f"{config.task.name}: rStar generator (MCTS, K-1 one-step + 1 "
                             f"finish action) with and without a discriminator")
  print(f"wrote {plot_path}", flush=True)
  return {"summary": summary, "curves": curves}

def paired_gain(record: dict, difficulty: np.ndarray, bin_name: str) -> dict:
  """The discriminator's pick against the generator's own, on the same problems and the same
  trajectories (one budget): the mean per-problem difference and its standard error. Empty for
  a record written without per-problem outcomes."""
  if "solved" not in record:
    return {}
  rows = (np.ones(len(difficulty), bool) if bin_name == "all"
          else difficulty == int(bin_name[1:]))
  diff = (np.asarray(record["solved"][MUTUAL]) - np.asarray(record["solved"][GENERATOR]))[rows]
  return {"paired_gain": float(diff.mean()),
          "paired_se": float(diff.std(ddof=1) / np.sqrt(len(diff))) if len(diff) > 1 else 0.0}


if __name__ == "__main__":
  cli.main(run, "rstar")

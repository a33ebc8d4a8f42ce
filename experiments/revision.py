"""Sequential revisions (Snell et al. 2024, section 6): a revision model fine-tuned from an SFT
policy, chains of revisions on the held-out problems, and the sequential/parallel split of a
test-time budget, per difficulty bin.

  python -m experiments.revision --config configs/countdown_revision.py \
      --config.init_from=SFT_WORKDIR --config.prm=PRM_WORKDIR [--config.critic=CRITIC_WORKDIR]
      [--workdir DIR]

1. The policy samples `samples` solutions per training problem; each right one is paired with
   up to `max_wrong` wrong ones closest to it in edit distance (reasoning/train/revision.py),
   and a copy of the policy is fine-tuned on (problem + wrong attempts + `revise`, right one).
2. On the held-out problems the revision model writes `chains` chains of `length` attempts,
   each attempt after the chain's last `context` attempts (reasoning/search/revision.py).
   With `critic` (an experiments.critic run), each earlier attempt in a context is followed by
   its critique line: the oracle's in the fine-tuning data, the critic's at test time (its
   FLOPs on the ledger). `critic='oracle'`: the oracle's at test time too (a perfect critic's
   bound, no FLOPs).
   Reported: accuracy at attempt t against t, and the share of chains right by attempt t.
3. Every budget N of `budgets` is split into N / L chains of L revisions; the PRM's weighted
   vote picks the answer among the N attempts. Per bin (task difficulty d*, and quantiles q* of
   the pass rate of `chains` separate first attempts, q1 hardest): accuracy against test-time FLOPs per L, the
   compute-optimal L chosen on the validation half and scored on the test half, and whether some
   L > 1 beats parallel sampling (L = 1) at equal FLOPs, per problem, with its standard error.

With `compare_with` (another revision run on the same problems, e.g. without a critic), each
chain length's settings are compared with that run's at equal FLOPs, paired per problem.

Writes config.json, metrics.jsonl (the fine-tune's record), settings.jsonl (accuracy and FLOPs
per setting, bin and split), records.json (per problem), summary.json, plots/revision_attempts.png, plots/revision_scaling.png (by difficulty)
and plots/revision_scaling_relative.png, and checkpoints/ (the revision model). A rerun after
the fine-tune only evaluates again.
"""

from __future__ import annotations

import json
import math
import os

import jax
import numpy as np

from experiments import cli, common
from reasoning import (compute, critique as critique_lib, evaluation, mesh as mesh_lib, plots,
                       rng as rng_lib, runs as runs_lib)
from reasoning.search import revision as search_revision, sweep
from reasoning.model import Model
from reasoning.tasks.base import has_step_oracle
from reasoning.search.compute_optimal import frontier_summary, tabulate, versus_best_of_n
from reasoning.text import prompt_length, round_up
from reasoning.train import revision, star


def run(config, workdir: str) -> dict:
  budgets = check_config(config)
  task = runs_lib.make_task(config)
  vocab, sft_config, model_cfg, graphdef, policy, sft_flops = runs_lib.load_sft(
      config.init_from)
  prm_vocab, _, prm_cfg, prm_graphdef, prm_params, _ = runs_lib.load_sft(config.prm)
  critic = load_critic(config.critic, task)
  runs_lib.save_config(config, workdir)
  eval_problems = runs_lib.evaluation_set(task, config.init_from, config.eval_difficulties,
                                          config.eval_problems)
  held_out = {p.prompt for p in eval_problems}
  levels = runs_lib.ints(config.train_difficulties)
  data_key, eval_key = jax.random.split(jax.random.key(config.seed))
  mesh = mesh_lib.make_mesh(mesh_lib.MeshConfig(**config.mesh))

  def make_examples():
    problems = star.training_problems(task, config.seed, levels, config.train_problems, held_out)
    width = round_up(max(prompt_length(vocab, p.prompt) for p in problems), 8)
    texts, lengths = evaluation.complete(
        graphdef, policy, vocab, [p.prompt for p in problems for _ in range(config.samples)],
        data_key, prompt_len=width, max_new=config.max_new, temperature=config.temperature,
        slots=config.slots)
    gen_flops = compute.generation_flops(
        model_cfg, [prompt_length(vocab, p.prompt) for p in problems
                    for _ in range(config.samples)], lengths)
    samples = [texts[i * config.samples:(i + 1) * config.samples] for i in range(len(problems))]
    examples = revision.trajectories(
        task, problems, samples, max_wrong=config.max_wrong,
        rng=rng_lib.stream(config.seed, "revision_pairs"),
        fits=lambda text: prompt_length(vocab, text) + 1 <= config.seq_len,
        oracle_fixes=config.oracle_fixes, keep_right=config.keep_right,
        critique=((lambda problem, attempt: critique_lib.critique(task, problem, attempt))
                  if critic is not None else None))
    if not examples:
      raise ValueError(f"{config.init_from}: no right sample among the policy's "
                       f"{len(texts)} training samples; a revision model learns from them")
    revised = sum(p.count(critique_lib.REVISE_MARK) > 0 for p, _ in examples)
    print(f"revision data: {len(texts)} samples, {len(examples)} trajectories ({revised} "
          f"with earlier wrong attempts)", flush=True)
    return examples, gen_flops, {"with_earlier_attempts": revised}

  params, _ = common.finetune_once(config, workdir, graphdef, policy, vocab, model_cfg, mesh,
                                   sft_flops, make_examples)
  model = Model(graphdef, params, model_cfg, vocab)
  prm = Model(prm_graphdef, prm_params, prm_cfg, prm_vocab)
  return evaluate(config, task, eval_problems, model, prm, critic, budgets, eval_key, workdir)


def check_config(config) -> list[int]:
  """The config's checks; returns the budgets N."""
  runs_lib.check_positive(config, "train_problems", "samples", "eval_problems", "chains",
                          "length", "max_new", "seq_len", "finetune.batch_size", "bins")
  if config.max_wrong < 0 or config.context < 0:
    raise ValueError(f"max_wrong={config.max_wrong}, context={config.context}: both must be >= 0")
  budgets = runs_lib.ints(config.budgets)
  if any(b < 1 or b > config.chains * config.length for b in budgets):
    raise ValueError(f"budgets={tuple(budgets)}: each N must be in [1, chains * length = "
                     f"{config.chains * config.length}]")
  if not config.prm:
    raise ValueError("prm: a PRM workdir (experiments.verifier) is needed to pick the answer "
                     "among a setting's attempts")
  return budgets


def load_critic(path: str, task) -> Model | str | None:
  """The critic of the chains: the task's step oracle ('oracle'), a critic run, or none ("")."""
  if path == search_revision.ORACLE:
    if not has_step_oracle(task):
      raise ValueError(f"critic='oracle': task {task.name!r} has no step oracle to critique with")
    return search_revision.ORACLE
  if not path:
    return None
  critic_vocab, _, critic_cfg, critic_graphdef, critic_params, _ = runs_lib.load_sft(path)
  return Model(critic_graphdef, critic_params, critic_cfg, critic_vocab)


def attempts_report(config, pool: dict, bins: dict) -> tuple[dict, dict]:
  """(accuracy of attempt t per bin, summary): right at t and by t, and the diagnostics (fixes,
  repeats, malformed), also printed for all problems."""
  attempts = {name: search_revision.attempt_accuracy(pool["correct"][rows])
              for name, rows in bins.items()}
  summary = {"attempt accuracy (t = 1..L)": {
      name: {k: np.round(v, 4).tolist() for k, v in a.items()} for name, a in attempts.items()}}
  diagnostics = search_revision.attempt_diagnostics(pool)
  summary["attempt diagnostics (t = 1..L)"] = {k: np.round(v, 4).tolist()
                                               for k, v in diagnostics.items()}
  a = attempts["all"]
  print("attempt t:      " + " ".join(f"{t + 1:6d}" for t in range(config.length)))
  print("right at t, %:  " + " ".join(f"{100 * x:6.1f}" for x in a["accuracy"]))
  print("right by t, %:  " + " ".join(f"{100 * x:6.1f}" for x in a["any"]))
  print("fixes, %:       " + " ".join(f"{100 * x:6.1f}" for x in diagnostics["fixed"]))
  print("repeats, %:     " + " ".join(f"{100 * x:6.1f}" for x in diagnostics["repeats"]))
  print("malformed, %:   " + " ".join(f"{100 * x:6.1f}" for x in diagnostics["malformed"]),
        flush=True)
  return attempts, summary


def evaluate(config, task, problems, model, prm, critic, budgets, key, workdir: str) -> dict:
  """Chains of revisions on the held-out problems, their attempt curve and ratio sweep."""
  pool = search_revision.chains(model, task, problems, key, chains=config.chains,
                                length=config.length, context=config.context,
                                max_new=config.max_new, temperature=config.temperature,
                                slots=config.slots, critic=critic,
                                critique_max_new=config.critique_max_new,
                                report=lambda line: print(line, flush=True))
  seq_len = round_up(max(prompt_length(prm.vocab, p.prompt) for p in problems)
                     + config.max_new + 2, 32)
  scores, score_flops = search_revision.prm_scores(prm, problems, pool["texts"], seq_len=seq_len,
                                                   aggregation=config.prm_aggregation)
  lengths = [2 ** i for i in range(int(math.log2(config.length)) + 1)]
  records = search_revision.ratio_records(pool, scores, score_flops, model.cfg, budgets, lengths)
  difficulty = np.array([p.difficulty for p in problems])
  split = np.arange(len(problems)) % 2  # 0: validation, 1: test
  everything = np.ones(len(problems), bool)
  bins = {**{f"d{d}": difficulty == d for d in sorted(set(difficulty.tolist()))},
          "all": everything}
  # Model-relative difficulty from samples of their own (the chains' first attempts would bias
  # the bins: a problem binned hardest because its first attempts failed cannot then lose with
  # parallel sampling): the revision model's pass rate over `chains` fresh first attempts.
  binned = sweep.sample_pool(model, task, problems, jax.random.fold_in(key, 99), config.chains,
                             max_new=config.max_new, temperature=config.temperature)
  relative = {**sweep.model_relative_bins(binned["correct"].mean(1), "q", config.bins),
              "all": everything}

  attempts, summary = attempts_report(config, pool, {**bins, **relative})
  os.makedirs(os.path.join(workdir, "plots"), exist_ok=True)
  for view, view_bins in (("task difficulty", bins), ("first-attempt pass-rate bin", relative)):
    curves, frontier = tabulate(records, view_bins, split)
    summary[f"compute-optimal revisions by {view}"] = frontier_summary(
        curves, frontier, reference=search_revision.PARALLEL)
    summary[f"best L per budget by {view}"] = {
        name: {str(n): search_revision.best_length(records, rows, n) for n in budgets}
        for name, rows in view_bins.items()}
    summary[f"revisions vs parallel at equal FLOPs, by {view}"] = versus_best_of_n(
        records, view_bins, reference=search_revision.PARALLEL)
    suffix = "" if view == "task difficulty" else "_relative"
    plots.search_scaling(curves, frontier,
                         os.path.join(workdir, "plots", f"revision_scaling{suffix}.png"),
                         title=f"{config.task.name}: N attempts as N/L chains of L revisions, "
                               f"by {view} (test half)")
  plots.revision_attempts({name: attempts[name] for name in bins},
                          os.path.join(workdir, "plots", "revision_attempts.png"),
                          title=f"{config.task.name}: the revision model's attempt t")
  rows = sweep.per_bin_rows(records, {**bins, **{k: v for k, v in relative.items()
                                                 if k != "all"}}, split)
  with open(os.path.join(workdir, "settings.jsonl"), "w") as f:
    f.writelines(json.dumps(row) + "\n" for row in rows)
  with open(os.path.join(workdir, "records.json"), "w") as f:
    json.dump(records, f)
  if config.compare_with:
    summary.update(compare_runs(records, config.compare_with, {**bins, **relative}))
  with open(os.path.join(workdir, "summary.json"), "w") as f:
    json.dump(summary, f, indent=2)
  print_verdicts(summary)
  return {"records": records, "summary": summary, "pool": pool}


def print_verdicts(summary: dict) -> None:
  """Per bin: do revisions beat parallel sampling at equal FLOPs, and by how much at best."""
  for view in ("task difficulty", "first-attempt pass-rate bin"):
    for name, got in summary[f"revisions vs parallel at equal FLOPs, by {view}"].items():
      best = got["settings"][got["best"]]
      print(f"{name}: {got['answer']} (best {got['best']}: "
            f"{100 * best['margin']:+.1f} ± {100 * best['se']:.1f} pts)", flush=True)


def compare_runs(records, other_workdir: str, bins: dict) -> dict:
  """This run's settings against another revision run's on the same problems (e.g. with and
  without a critic), at equal FLOPs per problem, paired: for each chain length L, this run's
  `revisions L` settings against the other run's curve of the same L."""
  path = os.path.join(other_workdir, "records.json")
  if not os.path.exists(path):
    raise ValueError(f"compare_with={other_workdir}: no records.json there (a revision run)")
  with open(path) as f:
    other = json.load(f)
  if len(other[0]["correct"]) != len(records[0]["correct"]):
    raise ValueError(f"compare_with={other_workdir}: {len(other[0]['correct'])} problems, this "
                     f"run has {len(records[0]['correct'])}")
  out = {}
  for fam in sorted({r["family"] for r in records}):
    mine = [dict(r, family="this run") for r in records if r["family"] == fam]
    theirs = [dict(r, family="the other run") for r in other if r["family"] == fam]
    out[fam] = versus_best_of_n(mine + theirs, bins, reference="the other run")
  return {f"this run vs {other_workdir} at equal FLOPs, per chain length": out}


if __name__ == "__main__":
  cli.main(run, "revision")

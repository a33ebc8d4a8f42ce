"""Train an ORM or PRM on the policy's samples; report step- and solution-level ROC-AUC.

  python -m experiments.verifier --config configs/countdown_verifier.py --config.init_from=SFT_DIR

Writes config.json, metrics.jsonl (training loss; final AUCs), checkpoints/ (the reward model's
TrainState; experiments.best_of_n reads its params). A rerun with the same workdir resumes.
"""

from __future__ import annotations

import functools
import os

import jax
import jax.numpy as jnp
import numpy as np

from experiments import common
from reasoning import compute, evaluation
from reasoning.checkpoint import Checkpointer
from reasoning.logging import MetricsWriter, Progress
from reasoning.text import prompt_length, prompt_width, round_up, row_lengths
from reasoning.train import state as state_lib, verifier


def sample_solutions(config, vocab, graphdef, params, task, problems, n, key, prompt_len):
  """n completions per problem at temperature 1: (repeated problems, completions, tokens made)."""
  repeated = [p for p in problems for _ in range(n)]
  texts, lengths = evaluation.complete(graphdef, params, vocab, [p.prompt for p in repeated], key,
                                       prompt_len=prompt_len, max_new=config.max_new,
                                       temperature=1.0)
  return repeated, texts, lengths


def training_problems(config, task, held_out, count=None, stream=6):
  rng = np.random.default_rng([config.seed, stream])
  levels = common.difficulties(config.train_difficulties)
  count = config.train_problems if count is None else count
  out = []
  while len(out) < count:
    [p] = task.sample(rng, 1, int(rng.choice(levels)))
    if p.prompt not in held_out:
      out.append(p)
  return out


def synthetic_solutions(config, task, held_out):
  """`synthetic_per_problem` flawed attempts (task.flawed_solution) at each of
  `synthetic_problems` fresh training problems: (repeated problems, completions). They cost no
  sampling, and the exact oracle labels them like the policy's own samples."""
  if not config.synthetic_problems:
    return [], []
  problems = training_problems(config, task, held_out, config.synthetic_problems, stream=8)
  rng = np.random.default_rng([config.seed, 9])
  repeated = [p for p in problems for _ in range(config.synthetic_per_problem)]
  return repeated, ["\n".join(task.flawed_solution(p, rng)) + "\n" for p in repeated]


def check_synthetic(config, task) -> None:
  """Refuses synthetic attempts before any sampling where they cannot be made or labelled."""
  if not config.synthetic_problems:
    return
  if not hasattr(task, "flawed_solution"):
    raise ValueError(f"synthetic_problems={config.synthetic_problems}: task {config.task.name} "
                     f"has no flawed_solution() to make synthetic attempts with; set it to 0")
  if config.kind == "prm" and config.labels != "oracle":
    raise ValueError("synthetic_problems: synthetic attempts are labelled by the oracle; "
                     f"they do not mix with labels={config.labels!r}")


def build_targets(config, vocab, graphdef, params, max_len, task, problems, completions, key,
                  prompt_len):
  """Per completion: step labels (oracle or Monte-Carlo; zeros for an ORM on a task without a
  step oracle, whose PRM targets go unused) and the outcome."""
  if common.has_step_oracle(task):
    steps, outcomes = verifier.oracle_targets(task, problems, completions)
  else:
    if config.kind == "prm" and config.labels == "oracle":
      raise ValueError(f"labels='oracle': task {config.task.name} has no per-step oracle; "
                       f"train the PRM on Monte-Carlo labels (--config.labels=mc)")
    outcomes = [task.verify(p, c) for p, c in zip(problems, completions)]
    steps = [[0.0] * len(verifier.closed_lines(c)) for c in completions]
  if config.kind == "prm" and config.labels == "mc":
    complete = functools.partial(_complete_from, vocab, graphdef, params, max_len, config, key,
                                 prompt_len)
    soft, hard = verifier.monte_carlo_labels(
        complete, task, problems, [verifier.closed_lines(c) for c in completions],
        config.mc_rollouts)
    steps = hard if config.mc_hard else soft
  return steps, outcomes


def _complete_from(vocab, graphdef, params, max_len, config, key, prompt_len, queries):
  """Monte-Carlo continuations of step prefixes, as long as the model's context (max_len)
  leaves room for after the longest prefix."""
  prompt_len = max(prompt_len, max(prompt_length(vocab, q) for q in queries))
  prompt_len = round_up(prompt_len, 16)  # a few shapes, not one per query length
  max_new = evaluation.room_to_generate(max_len, prompt_len, config.max_new,
                                        what="a step prefix",
                                        hint=" for Monte-Carlo continuations")
  texts, _ = evaluation.complete(graphdef, params, vocab, queries,
                                 jax.random.fold_in(key, len(queries)), prompt_len=prompt_len,
                                 max_new=max_new, temperature=1.0)
  return texts


def run(config, workdir: str) -> dict:
  common.save_config(config, workdir)
  if config.kind not in ("prm", "orm"):
    raise ValueError(f"kind must be 'prm' or 'orm', got {config.kind!r}")
  if config.labels not in ("oracle", "mc"):
    raise ValueError(f"labels must be 'oracle' or 'mc', got {config.labels!r}")
  vocab, sft_config, model_cfg, graphdef, policy_params, _ = common.load_sft(config.init_from,
                                                                           with_vocab=True)
  task = common.make_task(config)
  check_synthetic(config, task)
  sample_key, label_key, eval_key = jax.random.split(jax.random.key(config.seed), 3)
  eval_problems = common.held_out_problems(task, config.eval_difficulties, config.eval_problems,
                                           sft_config["seed"])
  prompt_len = max(prompt_length(vocab, p.prompt) for p in eval_problems) + 4
  problems = training_problems(config, task, {p.prompt for p in eval_problems})
  # Room for the longest training prompt too (dataset prompts vary in length).
  prompt_len = prompt_width([prompt_length(vocab, p.prompt) for p in problems], prompt_len)
  seq_len = prompt_len + config.max_new + 2
  repeated, completions, gen_lengths = sample_solutions(
      config, vocab, graphdef, policy_params, task, problems, config.samples_per_problem,
      sample_key, prompt_len)
  steps, outcomes = build_targets(config, vocab, graphdef, policy_params, model_cfg.max_len, task,
                                  repeated, completions, label_key, prompt_len)
  extra, extra_completions = synthetic_solutions(config, task, {p.prompt for p in eval_problems})
  if extra:
    extra_steps, extra_outcomes = verifier.oracle_targets(task, extra, extra_completions)
    repeated, completions = repeated + extra, completions + extra_completions
    steps, outcomes = steps + extra_steps, outcomes + extra_outcomes
  seq_len = verifier.seq_len_for(vocab, [p.prompt for p in repeated], completions,
                                 minimum=seq_len)
  data = verifier.reward_targets(vocab, [p.prompt for p in repeated], completions, steps,
                                 outcomes, seq_len)
  print(f"data: {len(completions)} solutions, {np.mean(outcomes):.3f} correct, "
        f"{np.mean([x for s in steps for x in s]):.3f} of steps labelled good", flush=True)

  tx = state_lib.make_optimizer(state_lib.OptimConfig(total_steps=config.steps, **config.optim))
  state = state_lib.create(jax.tree.map(jnp.copy, policy_params), tx)
  train_step = verifier.make_train_step(graphdef, tx, config.kind)
  ckpt = Checkpointer(os.path.join(workdir, "checkpoints"), save_every=config.checkpoint_every,
                      keep=config.keep_checkpoints)
  start = 0
  meta = {"train_flops": compute.generation_flops(model_cfg, [prompt_len] * len(gen_lengths),
                                                  gen_lengths)}
  if ckpt.latest_step() is not None:
    start = ckpt.latest_step()
    state, meta = ckpt.restore(jax.eval_shape(lambda: state), start)
    print(f"resumed from step {start}", flush=True)
  writer = MetricsWriter(os.path.join(workdir, "metrics.jsonl"), resume_step=start)
  progress = Progress(config.steps, start=start, every=config.log_every)
  n = len(data["tokens"])
  try:
    for step in range(start, config.steps):
      idx = np.random.default_rng([config.seed, 7, step]).choice(n, config.batch_size, replace=False)
      batch = {k: jnp.asarray(v[idx]) for k, v in data.items()}
      state, metrics = train_step(state, batch)
      lengths = row_lengths(data["tokens"][idx], data["orm_mask"][idx], vocab.pad)
      meta["train_flops"] += compute.train_flops(model_cfg, lengths)
      done = step + 1
      common.log_train_step(writer, progress, done, metrics, every=config.log_every,
                            total=config.steps, train_flops=meta["train_flops"],
                            tokens=float(lengths.sum()),
                            show={"loss": "loss", "accuracy": "accuracy"})
      ckpt.save(done, state, meta, force=done == config.steps)
  finally:
    ckpt.close()

  result = evaluate(config, vocab, graphdef, policy_params, state.params, task, eval_problems,
                    eval_key, prompt_len, seq_len)
  writer.write(config.steps, train_flops=meta["train_flops"], **result)
  print("eval: " + "  ".join(f"{k}={v:.3f}" for k, v in result.items()), flush=True)
  return {"params": state.params, "metrics": result, "data_size": n}


def evaluate(config, vocab, graphdef, policy_params, params, task, problems, key, prompt_len,
             seq_len):
  """Held-out ROC-AUC: of step scores against oracle step labels (PRM, where the task has a
  step oracle), and of solution scores (every aggregation for a PRM) against the outcome."""
  repeated, completions, _ = sample_solutions(config, vocab, graphdef, policy_params, task,
                                              problems, config.eval_samples, key, prompt_len)
  oracle = common.has_step_oracle(task)
  if oracle:
    oracle_steps, outcomes = verifier.oracle_targets(task, repeated, completions)
  else:
    outcomes = [task.verify(p, c) for p, c in zip(repeated, completions)]
  prompts = [p.prompt for p in repeated]
  seq_len = verifier.seq_len_for(vocab, prompts, completions, minimum=seq_len)
  result = {"eval/solutions": len(completions), "eval/correct": float(np.mean(outcomes))}
  aggs = verifier.AGGREGATIONS if config.kind == "prm" else ("orm",)
  for how in aggs:
    scores, step_scores = verifier.score_completions(
        graphdef, params, vocab, prompts, completions, seq_len=seq_len, kind=config.kind,
        aggregation="min" if how == "orm" else how)
    result[f"auc/outcome_{how}"] = verifier.roc_auc(scores, outcomes)
  if config.kind == "prm" and oracle:
    flat_scores = [s for ss in step_scores for s in ss]
    flat_labels = [x for ls in oracle_steps for x in ls]
    result["auc/step"] = verifier.roc_auc(flat_scores, flat_labels)
    result["eval/steps"] = len(flat_labels)
    result.update(step_auc_by_difficulty([p.difficulty for p in repeated], step_scores,
                                         oracle_steps))
  return result


def step_auc_by_difficulty(difficulties, step_scores, step_labels) -> dict:
  """{auc/step_dD, auc/first_step_dD}: step ROC-AUC per difficulty, over all steps and over
  first steps alone (nan where one class is missing). The pooled AUC is dominated by easy steps,
  while a tree search lives or dies by its ranking of the first move (docs/results.md, session 7).
  """
  out = {}
  difficulties = np.asarray(difficulties)
  for d in sorted(set(difficulties.tolist())):
    rows = [i for i in np.flatnonzero(difficulties == d) if len(step_labels[i])]
    out[f"auc/step_d{d}"] = verifier.roc_auc([s for i in rows for s in step_scores[i]],
                                             [x for i in rows for x in step_labels[i]])
    out[f"auc/first_step_d{d}"] = verifier.roc_auc([step_scores[i][0] for i in rows],
                                                   [step_labels[i][0] for i in rows])
  return out


if __name__ == "__main__":
  common.main(run, "verifier")

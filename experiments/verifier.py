"""Train an ORM or PRM on the policy's samples; report step- and solution-level ROC-AUC.

  python -m experiments.verifier --config configs/countdown_verifier.py --config.init_from=SFT_DIR

Writes config.json, metrics.jsonl (training loss; final AUCs), TensorBoard events, checkpoints/
(the reward model's TrainState; experiments.best_of_n and experiments.search read its params).
A rerun with the same workdir resumes.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from experiments import cli
from reasoning import compute, loop, rng as rng_lib, runs as runs_lib
from reasoning.checkpoint import Checkpointer
from reasoning.logging import Progress
from reasoning.text import prompt_length, prompt_width, row_lengths
from reasoning.train import state as state_lib, verifier, verifier_data as data


def run(config, workdir: str) -> dict:
  if config.kind not in ("prm", "orm"):
    raise ValueError(f"kind must be 'prm' or 'orm', got {config.kind!r}")
  if config.labels not in ("oracle", "mc"):
    raise ValueError(f"labels must be 'oracle' or 'mc', got {config.labels!r}")
  runs_lib.check_positive(config, "steps", "batch_size", "train_problems", "samples_per_problem",
                          "log_every", "checkpoint_every", "keep_checkpoints", "max_new")
  task = runs_lib.make_task(config)
  data.check_synthetic(task, synthetic_problems=config.synthetic_problems, kind=config.kind,
                       labels=config.labels)
  optim_cfg = state_lib.OptimConfig(total_steps=config.steps, **config.optim)
  vocab, sft_config, model_cfg, graphdef, policy_params, _ = runs_lib.load_sft(config.init_from)
  runs_lib.save_config(config, workdir)
  sample_key, label_key, eval_key = jax.random.split(jax.random.key(config.seed), 3)
  eval_problems = runs_lib.evaluation_set(task, config.init_from, config.eval_difficulties,
                                          config.eval_problems)
  held_out = {p.prompt for p in eval_problems}
  levels = runs_lib.ints(config.train_difficulties)
  prompt_len = max(prompt_length(vocab, p.prompt) for p in eval_problems) + 4
  problems = data.training_problems(task, config.seed, levels, config.train_problems, held_out)
  # Room for the longest training prompt too (dataset prompts vary in length).
  prompt_len = prompt_width([prompt_length(vocab, p.prompt) for p in problems], prompt_len)
  sample = dict(prompt_len=prompt_len, max_new=config.max_new)
  repeated, completions, gen_lengths = data.sample_solutions(
      graphdef, policy_params, vocab, problems, config.samples_per_problem, sample_key, **sample)
  steps, outcomes = data.build_targets(
      task, repeated, completions, kind=config.kind, labels=config.labels,
      complete=data.continuations(graphdef, policy_params, vocab, label_key,
                                  max_len=model_cfg.max_len, **sample),
      mc_rollouts=config.mc_rollouts, mc_hard=config.mc_hard)
  extra, extra_completions = data.synthetic_solutions(
      task, config.seed, levels, config.synthetic_problems, config.synthetic_per_problem, held_out)
  if extra:
    extra_steps, extra_outcomes = verifier.oracle_targets(task, extra, extra_completions)
    repeated, completions = repeated + extra, completions + extra_completions
    steps, outcomes = steps + extra_steps, outcomes + extra_outcomes
  seq_len = verifier.seq_len_for(vocab, [p.prompt for p in repeated], completions,
                                 minimum=prompt_len + config.max_new + 2)
  targets = verifier.reward_targets(vocab, [p.prompt for p in repeated], completions, steps,
                                    outcomes, seq_len)
  print(f"data: {len(completions)} solutions, {np.mean(outcomes):.3f} correct, "
        f"{np.mean([x for s in steps for x in s]):.3f} of steps labelled good", flush=True)

  tx = state_lib.make_optimizer(optim_cfg)
  state = state_lib.create(jax.tree.map(jnp.copy, policy_params), tx)
  train_step = verifier.make_train_step(graphdef, tx, config.kind)
  ckpt = Checkpointer(f"{workdir}/checkpoints", save_every=config.checkpoint_every,
                      keep=config.keep_checkpoints)
  meta = {"train_flops": compute.generation_flops(model_cfg, [prompt_len] * len(gen_lengths),
                                                  gen_lengths)}
  state, meta, start = loop.resume(ckpt, state, meta)
  writer = loop.open_metrics(workdir, start)
  progress = Progress(config.steps, start=start, every=config.log_every)
  n = len(targets["tokens"])
  try:
    for step in range(start, config.steps):
      idx = rng_lib.stream(config.seed, "verifier_batches", step).choice(n, config.batch_size,
                                                                         replace=False)
      state, metrics = train_step(state, {k: jnp.asarray(v[idx]) for k, v in targets.items()})
      lengths = row_lengths(targets["tokens"][idx], targets["orm_mask"][idx], vocab.pad)
      meta["train_flops"] += compute.train_flops(model_cfg, lengths)
      done = step + 1
      loop.log_train_step(writer, progress, done, metrics, every=config.log_every,
                          total=config.steps, train_flops=meta["train_flops"],
                          tokens=float(lengths.sum()),
                          show={"loss": "loss", "accuracy": "accuracy"}, ckpt=ckpt)
      loop.save(ckpt, done, state, meta, metrics, force=done == config.steps)
  finally:
    ckpt.close()
  evaluated = [r for r in loop.read_metrics(writer.path) if "eval/correct" in r]
  if evaluated:  # finished before: the AUCs are on record
    result = {k: v for k, v in evaluated[-1].items() if k.startswith(("eval/", "auc/"))}
  else:
    held, texts, _ = data.sample_solutions(graphdef, policy_params, vocab, eval_problems,
                                           config.eval_samples, eval_key, **sample)
    result = data.held_out_aucs(task, held, texts, graphdef, state.params, vocab,
                                kind=config.kind, seq_len=seq_len, seed=config.seed)
    writer.write(config.steps, train_flops=meta["train_flops"], **result)
  writer.close()
  print("eval: " + "  ".join(f"{k}={v:.3f}" for k, v in result.items()), flush=True)
  return {"params": state.params, "metrics": result, "data_size": n}


if __name__ == "__main__":
  cli.main(run, "verifier")

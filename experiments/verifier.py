"""Train an ORM or PRM on the policy's samples; report step- and solution-level ROC-AUC.

  python -m experiments.verifier --config configs/countdown_verifier.py --config.init_from=SFT_DIR

Writes config.json, metrics.jsonl (training loss; final AUCs), TensorBoard events, checkpoints/
(the reward model's TrainState; experiments.best_of_n and experiments.search read its params).
A rerun with the same workdir resumes.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from experiments import cli
from reasoning import compute, loop, rng as rng_lib, runs as runs_lib
from reasoning.checkpoint import Checkpointer
from reasoning.logging import Progress
from reasoning.text import prompt_length, prompt_width, row_lengths
from reasoning.train import state as state_lib, verifier, verifier_data as data


def run(config, workdir: str) -> dict:
  for field, allowed in (("kind", ("prm", "orm")), ("labels", ("oracle", "mc"))):
    if config[field] not in allowed:
      raise ValueError(f"{field} must be one of {allowed}, got {config[field]!r}")
  runs_lib.check_positive(config, "steps", "batch_size", "train_problems", "samples_per_problem",
                          "log_every", "checkpoint_every", "keep_checkpoints", "max_new")
  optim_cfg = state_lib.OptimConfig(total_steps=config.steps, **config.optim)
  vocab, sft_config, model_cfg, graphdef, policy_params, _ = runs_lib.load_sft(config.init_from)
  task = runs_lib.make_task(config, vocab)
  data.check_synthetic(task, synthetic_problems=config.synthetic_problems, kind=config.kind,
                       labels=config.labels)
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
  targets, seq_len, gen_lengths = data.training_targets(
      task, problems, graphdef, policy_params, vocab, sample_key, label_key, **sample,
      max_len=model_cfg.max_len, samples=config.samples_per_problem, kind=config.kind,
      labels=config.labels, mc_rollouts=config.mc_rollouts, mc_hard=config.mc_hard,
      synthetic=data.synthetic_solutions(task, config.seed, levels, config.synthetic_problems,
                                         config.synthetic_per_problem, held_out))
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
  metrics = None

  def step(i):
    nonlocal state, metrics
    idx = rng_lib.stream(config.seed, "verifier_batches", i).choice(n, config.batch_size,
                                                                    replace=False)
    state, metrics = train_step(state, {k: jnp.asarray(v[idx]) for k, v in targets.items()})
    lengths = row_lengths(targets["tokens"][idx], targets["orm_mask"][idx], vocab.pad)
    meta["train_flops"] += compute.train_flops(model_cfg, lengths)
    loop.log_train_step(writer, progress, i + 1, metrics, every=config.log_every,
                        total=config.steps, train_flops=meta["train_flops"],
                        tokens=float(lengths.sum()),
                        show={"loss": "loss", "accuracy": "accuracy"}, ckpt=ckpt)

  loop.run_steps(step, start=start, total=config.steps, ckpt=ckpt,
                 save=lambda done: loop.save(ckpt, done, state, meta, metrics,
                                             force=done == config.steps))
  result = evaluate(config, task, writer, graphdef, policy_params, state.params, vocab,
                    eval_problems, eval_key, sample, seq_len=seq_len,
                    train_flops=meta["train_flops"])
  return {"params": state.params, "metrics": result, "data_size": n}


def evaluate(config, task, writer, graphdef, policy_params, params, vocab, problems, key,
             sample: dict, *, seq_len: int, train_flops: float) -> dict:
  """The reward model's held-out AUCs on the policy's samples of `problems` (those on record
  when the run had finished before), written at the last step; closes the metrics."""
  evaluated = [r for r in loop.read_metrics(writer.path) if "eval/correct" in r]
  if evaluated:  # finished before: the AUCs are on record
    result = {k: v for k, v in evaluated[-1].items() if k.startswith(("eval/", "auc/"))}
  else:
    held, texts, _ = data.sample_solutions(graphdef, policy_params, vocab, problems,
                                           config.eval_samples, key, **sample)
    result = data.held_out_aucs(task, held, texts, graphdef, params, vocab,
                                kind=config.kind, seq_len=seq_len, seed=config.seed)
    writer.write(config.steps, train_flops=train_flops, **result)
  writer.close()
  print("eval: " + "  ".join(f"{k}={v:.3f}" for k, v in result.items()), flush=True)
  return result

if __name__ == "__main__":
  cli.main(run, "verifier")

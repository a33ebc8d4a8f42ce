"""Supervised fine-tuning on solver solutions, with held-out evaluation and exact resume.

  python -m experiments.sft --config configs/countdown_sft.py [--workdir DIR] [--config.steps=N]

Writes to the workdir: config.json, metrics.jsonl, TensorBoard events, checkpoints/ and
plots/learning_curve.png. Rerunning with the same workdir resumes from the latest checkpoint and
ends with the same parameters as an uninterrupted run: data order and keys are functions of the
step. A run resumed after its last step writes its final evaluation if it was not written.
"""

from __future__ import annotations

import os
import time

import jax

from experiments import cli
from reasoning import (compute, evaluation, lora as lora_lib, loop, mesh as mesh_lib,
                       model as model_lib, plots, runs as runs_lib)
from reasoning.checkpoint import Checkpointer
from reasoning.logging import Progress, read_metrics
from reasoning.text import prompt_length
from reasoning.train import sft, sft_data, state as state_lib


def own_misses_fn(workdir: str, task, max_new: int = 64):
  """problems -> the greedy first attempt of the policy in `workdir` where it is a miss."""
  def own_misses(problems):
    vocab, _, model_cfg, graphdef, params, _ = runs_lib.load_sft(workdir)
    prompt_len = max(prompt_length(vocab, p.prompt) for p in problems)
    texts, _ = evaluation.complete(graphdef, params, vocab, [p.prompt for p in problems],
                                   jax.random.key(0), prompt_len=prompt_len,
                                   max_new=min(max_new, model_cfg.max_len - prompt_len),
                                   temperature=0.0)
    return sft_data.first_attempt_misses(task, problems, texts)
  return own_misses


def run(config, workdir: str) -> dict:
  runs_lib.check_positive(config, "steps", "batch_size", "eval_every", "log_every",
                          "checkpoint_every", "keep_checkpoints", "eval_problems")
  data_cfg = data_config(config)
  optim_cfg = state_lib.OptimConfig(total_steps=config.steps, **config.optim)
  task = runs_lib.make_task(config)
  runs_lib.save_config(config, workdir)
  init_key, eval_key = jax.random.split(jax.random.key(config.seed))
  # A fresh char-vocabulary model, or a Hugging Face checkpoint and its tokenizer (model.path).
  vocab, model_cfg, graphdef, params = runs_lib.make_model(config.model, init_key,
                                                           memory=config.get("memory"))

  eval_problems, pools = data(config, data_cfg, task, vocab)
  prompt_len = max(prompt_length(vocab, p.prompt) for p in eval_problems)
  max_new = config.seq_len - prompt_len
  tx = state_lib.make_optimizer(optim_cfg)
  trainable, lora_cfg, merged = lora_parameters(config, params, init_key)
  state = state_lib.create(trainable, tx)
  train_step = sft.make_train_step(graphdef, tx, lora_cfg)
  ckpt = Checkpointer(os.path.join(workdir, "checkpoints"), save_every=config.checkpoint_every,
                      keep=config.keep_checkpoints)
  state, meta, start = loop.resume(ckpt, state, {"train_flops": 0.0})
  # One code path on 1 CPU or a pod: the state and batches carry the mesh's shardings and XLA
  # partitions the same jitted step (reasoning/mesh.py).
  mesh = mesh_lib.make_mesh(mesh_lib.MeshConfig(**config.mesh))
  state = jax.device_put(state, mesh_lib.state_shardings(mesh, state))
  base, frozen = params, ()
  if lora_cfg.on:  # the frozen base, an argument of every step (policy_of reads it too)
    base = jax.device_put(base, mesh_lib.state_shardings(mesh, base))
    frozen = (base,)
  policy_of = lambda trainable: merged(base, trainable)
  writer = loop.open_metrics(workdir, start)
  progress = Progress(config.steps, start=start, every=config.log_every)
  metrics = None

  def do_eval(step, num_samples=0):
    return loop.evaluate(writer, step, graphdef, policy_of(state.params), vocab, task,
                         eval_problems, jax.random.fold_in(eval_key, step),
                         prompt_len=prompt_len, max_new=max_new,
                         train_flops=meta["train_flops"], num_samples=num_samples)

  def step(i):
    nonlocal state, metrics
    host_batch = sft_data.batch_at(i, config.seed, pools, config.batch_size,
                                   pack_len=config.pack_len, pad=vocab.pad)
    state, metrics = train_step(state, mesh_lib.shard_batch(mesh, host_batch), *frozen)
    lengths = sft_data.example_lengths(host_batch, vocab.pad)  # on the host: no round trip
    meta["train_flops"] += compute.train_flops(model_cfg, lengths)
    loop.log_train_step(writer, progress, i + 1, metrics, every=config.log_every,
                        total=config.steps, train_flops=meta["train_flops"],
                        tokens=float(lengths.sum()),
                        show={"loss": "loss", "tok_acc": "token_accuracy"}, ckpt=ckpt)

  loop.run_steps(step, start=start, total=config.steps, ckpt=ckpt, evaluate=do_eval,
                 evaluate_at=set(range(config.eval_every, config.steps, config.eval_every)),
                 save=lambda done: loop.save(ckpt, done, state, meta, metrics,
                                             force=done == config.steps))
  records = finish(config, workdir, writer, lambda: do_eval(config.steps, config.pass_k))
  return {"params": policy_of(state.params),
          "metrics": loop.last_evaluation(records, writer.path), "graphdef": graphdef}


def data_config(config) -> sft_data.DataConfig:
  return sft_data.DataConfig(
      seed=config.seed, train_difficulties=tuple(runs_lib.ints(config.train_difficulties)),
      train_problems=config.train_problems, seq_len=config.seq_len, solutions=config.solutions,
      hint_share=config.hint_share, retries=config.retries, retry_share=config.retry_share,
      give_up=config.give_up)


def data(config, data_cfg: sft_data.DataConfig, task, vocab):
  """(held-out problems, training pools): the pools never hold a held-out prompt."""
  t0 = time.perf_counter()
  eval_problems = runs_lib.held_out_problems(task, config.eval_difficulties, config.eval_problems,
                                             config.seed)
  own = own_misses_fn(config.own_misses_from, task) if config.own_misses_from else None
  pools = sft_data.build_pools(data_cfg, task, vocab, {p.prompt for p in eval_problems}, own)
  print(f"data: {sum(len(p[0]) for p in pools)} training examples, {len(eval_problems)} "
        f"held-out problems ({time.perf_counter() - t0:.1f}s)", flush=True)
  return eval_problems, pools


def lora_parameters(config, params, key):
  """(trainable, lora config, merged(base, trainable) -> policy) of an SFT run: every parameter,
  or with LoRA (a pretrained model only) the adapters on the frozen `params`."""
  lora_cfg = lora_lib.LoraConfig.from_config(config.get("lora"))
  trainable = params
  if lora_cfg.on:
    if not config.model.get("path"):
      raise ValueError("lora.rank > 0 adapts a pretrained model: set model.path (a Hugging Face "
                       "checkpoint); a model trained from scratch trains every parameter")
    trainable = lora_lib.init(params, lora_cfg, jax.random.fold_in(key, 1))
  print(f"model: {model_lib.count_params(params) / 1e6:.2f}M parameters" +
        (f", LoRA rank {lora_cfg.rank}: {lora_lib.count(trainable) / 1e6:.2f}M trainable"
         if lora_cfg.on else ""), flush=True)
  return trainable, lora_cfg, lora_lib.merger(lora_cfg)


def finish(config, workdir: str, writer, final_eval) -> list[dict]:
  """The run's end: the final evaluation (`final_eval`, or the one on record when the run had
  finished before), metrics closed, plots/learning_curve.png drawn; returns the records."""
  records = read_metrics(writer.path)
  final = [r for r in records if r["step"] == config.steps and "greedy/all" in r]
  if final:  # finished before: show the final evaluation again instead of recomputing it
    print("final eval: " + "  ".join(f"{k}={v:.3f}" for k, v in final[-1].items()
                                     if k.startswith(("greedy/", "pass@"))), flush=True)
  else:
    final_eval()
    records = read_metrics(writer.path)
  writer.close()
  plot_path = os.path.join(workdir, "plots", "learning_curve.png")
  os.makedirs(os.path.dirname(plot_path), exist_ok=True)
  plots.learning_curve(records, plot_path,
                       title=f"SFT on {config.task.name} (difficulties "
                             f"{', '.join(map(str, runs_lib.ints(config.train_difficulties)))})")
  print(f"wrote {plot_path}", flush=True)
  return records

if __name__ == "__main__":
  cli.main(run, "sft")

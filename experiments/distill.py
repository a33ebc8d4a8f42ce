"""Distillation from a teacher run into the student SFT run (reasoning/train/distill.py).

  python -m experiments.distill --config configs/countdown_distill.py
  python -m experiments.distill --config configs/countdown_distill.py:offpolicy

Each step draws `prompts_per_step` training prompts (a pure function of seed and step), samples
`samples_per_prompt` completions of each from the sampler (the student: on-policy; the teacher:
off-policy, SFT on teacher samples), scores every generated position under the teacher (its full
next-token distribution) and takes `epochs` passes of minibatch steps on the divergence. The
student starts from `init_from` (an SFT run, or any run started from one); the teacher is any run
on the same vocabulary (`teacher`), frozen.

The FLOP ledger counts the student's FLOPs (`student_flops`: its own sampling and training) and
all FLOPs (`train_flops`: the teacher's sampling or scoring too), both from the SFT run's. Writes
config.json, metrics.jsonl, TensorBoard events, checkpoints/ and plots/train_scaling.png. Held-out
evaluations save per-problem scores (evals/) for paired comparisons; a rerun resumes exactly.
"""

from __future__ import annotations

import functools
import os

import jax
import numpy as np

from experiments import cli, common
from reasoning import compute, loop, mesh as mesh_lib, rng as rng_lib, runs as runs_lib
from reasoning.checkpoint import Checkpointer
from reasoning.logging import Progress
from reasoning.text import prompt_length
from reasoning.train import distill, rollout as rollout_lib, state as state_lib


def run(config, workdir: str) -> dict:
  runs_lib.check_positive(config, "steps", "prompts_per_step", "samples_per_prompt",
                          "minibatch_size", "epochs", "eval_every", "log_every",
                          "checkpoint_every", "keep_checkpoints", "max_new")
  if not config.teacher:
    raise ValueError("config.teacher is empty: the run directory of the teacher (an SFT or RL "
                     "run on the student's vocabulary)")
  if not 0.0 < config.temperature <= 2.0:
    raise ValueError(f"temperature={config.temperature}: the sampling temperature must be in "
                     f"(0, 2]")
  cfg = distill.DistillConfig(**config.distill)
  rows = config.prompts_per_step * config.samples_per_prompt
  if rows % config.minibatch_size:
    raise ValueError(f"prompts_per_step * samples_per_prompt = {rows} is not a multiple of "
                     f"minibatch_size = {config.minibatch_size}")
  vocab, _, model_cfg, graphdef, init_params, sft_flops = runs_lib.load_sft(
      config.init_from, memory=config.get("memory"))
  teacher_vocab, _, teacher_cfg, teacher_graphdef, teacher_params, _ = runs_lib.load_sft(
      config.teacher, memory=config.get("memory"))
  runs_lib.check_same_vocab(vocab, teacher_vocab, "config.teacher", "config.init_from")
  task = runs_lib.make_task(config, vocab)
  if hasattr(task, "respond"):
    raise ValueError("config.task.tools: distillation samples single-turn completions; a task "
                     "with tools is trained by experiments.sft and experiments.rl")
  runs_lib.save_config(config, workdir)
  eval_problems = runs_lib.evaluation_set(task, config.init_from, config.eval_difficulties,
                                          config.eval_problems)
  held_out = {p.prompt for p in eval_problems}
  prompt_len = max(prompt_length(vocab, p.prompt) for p in eval_problems) + 4
  updates = config.steps * config.epochs * rows // config.minibatch_size
  tx = state_lib.make_optimizer(state_lib.OptimConfig(total_steps=updates, **config.optim))
  trainable, lora_cfg, policy_of = common.post_training_parameters(init_params, config)
  state = state_lib.create(trainable, tx)
  train_step = distill.make_train_step(graphdef, tx, cfg, lora_cfg)
  teacher_scores = jax.jit(functools.partial(distill.next_token_logprobs, teacher_graphdef))
  sample_key, eval_key = jax.random.split(jax.random.key(config.seed))

  ckpt = Checkpointer(f"{workdir}/checkpoints", save_every=config.checkpoint_every,
                      keep=config.keep_checkpoints)
  meta = {"train_flops": sft_flops, "student_flops": sft_flops}
  state, meta, start = loop.resume(ckpt, state, meta, what="distillation step")
  mesh = mesh_lib.make_mesh(mesh_lib.MeshConfig(**config.mesh))
  state = jax.device_put(state, mesh_lib.state_shardings(mesh, state))
  frozen = (init_params,) if lora_cfg.on else ()
  writer = loop.open_metrics(workdir, start)
  progress = Progress(config.steps, start=start, every=config.log_every)
  levels = runs_lib.ints(config.train_difficulties)
  on_policy = cfg.sampler == "student"
  sampler_cfg = model_cfg if on_policy else teacher_cfg

  def do_eval(step):
    loop.evaluate(writer, step, graphdef, policy_of(state.params), vocab, task, eval_problems,
                  jax.random.fold_in(eval_key, step), prompt_len=prompt_len,
                  max_new=config.max_new, train_flops=meta["train_flops"],
                  student_flops=meta["student_flops"], num_samples=config.pass_k,
                  what="distillation step", slots=config.eval_slots,
                  scores_path=os.path.join(workdir, "evals", f"step{step}.npz"))

  evaluate_at = loop.eval_steps(config.steps, config.eval_every, config.eval_log_points)
  if start == 0:
    do_eval(0)
  try:
    for step in range(start, config.steps):
      problems = rollout_lib.sample_step_problems(
          task, rng_lib.stream(config.seed, "distill_prompts", step), levels,
          config.prompts_per_step, held_out)
      repeated = [p for p in problems for _ in range(config.samples_per_prompt)]
      launched = rollout_lib.collect(rollout_lib.launch(
          graphdef if on_policy else teacher_graphdef,
          policy_of(state.params) if on_policy else teacher_params, repeated,
          jax.random.fold_in(sample_key, step), vocab=vocab, prompt_len=prompt_len,
          max_new=config.max_new, temperature=config.temperature,
          group=config.samples_per_prompt, slots=config.rollout_slots))
      tokens, mask = rollout_lib.generated_batch(launched)
      batch = {"tokens": tokens, "mask": mask}
      if cfg.needs_teacher_scores:
        batch["teacher_logp"] = teacher_scores(teacher_params, tokens)
      completions = [vocab.decode(r) for r in launched.samples.tokens]
      correct = np.array([task.verify(p, c) > 0 for p, c in zip(repeated, completions)])
      state, metrics = loop.update_on_batch(
          train_step, state, batch, rows=rows, minibatch_size=config.minibatch_size,
          epochs=config.epochs, mesh=mesh, frozen=frozen,
          order=lambda e: rng_lib.stream(config.seed, "distill_minibatches", step,
                                         e).permutation(rows))
      lengths = launched.samples.lengths
      seq_lens = launched.prompt_lens + lengths
      sampling = compute.generation_flops(sampler_cfg, launched.prompt_lens, lengths)
      student = config.epochs * compute.train_flops(model_cfg, seq_lens)
      teacher = (compute.forward_flops(teacher_cfg, seq_lens) if cfg.needs_teacher_scores
                 else 0.0)
      meta["student_flops"] += student + (sampling if on_policy else 0.0)
      meta["train_flops"] += student + sampling + teacher
      done = step + 1
      record = {**metrics, "pass_rate": float(correct.mean()),
                "response_length": float(lengths.mean())}
      loop.check_finite(record, done, ckpt)
      writer.write(done, train_flops=meta["train_flops"], student_flops=meta["student_flops"],
                   **record)
      progress.update(done, tokens=float(lengths.sum()), loss=record["loss"],
                      pass_rate=record["pass_rate"])
      if done in evaluate_at:
        do_eval(done)
      ckpt.save(done, state, meta, force=done == config.steps)
  finally:
    ckpt.close()
  loop.log_paired_gain(writer, workdir, config.steps, eval_problems, write=start < config.steps,
                       what="distillation", train_flops=meta["train_flops"],
                       student_flops=meta["student_flops"])
  label = f"distill ({cfg.divergence}, {cfg.sampler} samples)"
  metrics = common.finish_post_training(writer, workdir, config, label,
                                        f"{config.task.name}: SFT then {label}")
  return {"params": policy_of(state.params), "metrics": metrics}


if __name__ == "__main__":
  cli.main(run, "distill")

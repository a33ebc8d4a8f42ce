"""The distillation loop: from a loaded student and a frozen teacher, `steps` rounds of sampling
(the student's completions on-policy, the teacher's off-policy), the teacher's next-token
distributions at every generated position, and minibatch epochs on the divergence
(reasoning/train/distill.py), resumable, with the student's and the whole FLOP ledgers.

- `DistillRunConfig`: the loop's settings, typed; `from_config` reads and checks an
  ml_collections config (configs/countdown_distill.py documents every field).
- `DistillLoop`: one run's fixed parts and moving state, with `run()` the loop itself.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from typing import Callable

import jax
import numpy as np

from reasoning import compute, loop, mesh as mesh_lib, rng as rng_lib, runs as runs_lib
from reasoning.checkpoint import Checkpointer
from reasoning.logging import Progress
from reasoning.model import Model
from reasoning.train import distill, rollout as rollout_lib, state as state_lib


@dataclasses.dataclass(frozen=True)
class DistillRunConfig(loop.OnlineConfig):
  """What the distillation loop reads of a run's config."""
  distill: distill.DistillConfig

  @classmethod
  def from_config(cls, config) -> DistillRunConfig:
    runs_lib.check_positive(config, "steps", "prompts_per_step", "samples_per_prompt",
                            "minibatch_size", "epochs", "eval_every", "log_every",
                            "checkpoint_every", "keep_checkpoints", "max_new")
    if not config.teacher:
      raise ValueError("config.teacher is empty: the run directory of the teacher (an SFT or "
                       "RL run on the student's vocabulary)")
    if not 0.0 < config.temperature <= 2.0:
      raise ValueError(f"temperature={config.temperature}: the sampling temperature must be in "
                       f"(0, 2]")
    return cls.read(config, distill=distill.DistillConfig(**config.distill))


class DistillLoop:
  """One distillation run: the student (`graphdef`, its trainable parameters, `policy_of` them,
  `frozen` what a LoRA step reads besides), the frozen `teacher`, the run's FLOPs so far."""

  def __init__(self, config: DistillRunConfig, workdir: str, *, task, vocab, graphdef,
               model_cfg, trainable, policy_of: Callable, lora_cfg, frozen, teacher: Model,
               flops: float, eval_problems, prompt_len: int):
    self.config, self.workdir, self.task, self.vocab = config, workdir, task, vocab
    self.graphdef, self.model_cfg, self.policy_of, self.teacher = (graphdef, model_cfg,
                                                                   policy_of, teacher)
    self.eval_problems, self.prompt_len = eval_problems, prompt_len
    self.held_out = {p.prompt for p in eval_problems}
    self.levels = list(config.train_difficulties)
    self.on_policy = config.distill.sampler == "student"
    tx = state_lib.make_optimizer(state_lib.OptimConfig(
        total_steps=config.steps * config.updates_per_step, **config.optim))
    self.train_step = distill.make_train_step(graphdef, tx, config.distill, lora_cfg)
    self.teacher_scores = jax.jit(functools.partial(distill.next_token_logprobs,
                                                    teacher.graphdef))
    self.sample_key, self.eval_key = jax.random.split(jax.random.key(config.seed))
    self.ckpt = Checkpointer(f"{workdir}/checkpoints", save_every=config.checkpoint_every,
                             keep=config.keep_checkpoints)
    meta = {"train_flops": flops, "student_flops": flops}
    state, self.meta, self.start = loop.resume(self.ckpt, state_lib.create(trainable, tx), meta,
                                               what="distillation step")
    self.mesh = mesh_lib.make_mesh(config.mesh)
    self.state = jax.device_put(state, mesh_lib.state_shardings(self.mesh, state))
    self.frozen = frozen

  def evaluate(self, step: int) -> None:
    config = self.config
    loop.evaluate(self.writer, step, self.graphdef, self.policy_of(self.state.params), self.vocab,
                  self.task, self.eval_problems, jax.random.fold_in(self.eval_key, step),
                  prompt_len=self.prompt_len, max_new=config.max_new,
                  train_flops=self.meta["train_flops"], student_flops=self.meta["student_flops"],
                  num_samples=config.pass_k, what="distillation step", slots=config.eval_slots,
                  scores_path=os.path.join(self.workdir, "evals", f"step{step}.npz"))

  def sample(self, step: int):
    """Step `step`'s prompts (G copies of each) and the sampler's completions of them."""
    config = self.config
    problems = rollout_lib.sample_step_problems(
        self.task, rng_lib.stream(config.seed, "distill_prompts", step), self.levels,
        config.prompts_per_step, self.held_out)
    repeated = [p for p in problems for _ in range(config.samples_per_prompt)]
    launched = rollout_lib.collect(rollout_lib.launch(
        self.graphdef if self.on_policy else self.teacher.graphdef,
        self.policy_of(self.state.params) if self.on_policy else self.teacher.params, repeated,
        jax.random.fold_in(self.sample_key, step), vocab=self.vocab, prompt_len=self.prompt_len,
        max_new=config.max_new, temperature=config.temperature,
        group=config.samples_per_prompt, slots=config.rollout_slots))
    return repeated, launched

  def step(self, step: int) -> None:
    """One step: samples, the teacher's scores, the minibatch epochs, the ledgers and the log."""
    config, cfg, meta = self.config, self.config.distill, self.meta
    repeated, launched = self.sample(step)
    tokens, mask = rollout_lib.generated_batch(launched)
    batch = distill.DistillBatch(tokens, mask, self.teacher_scores(self.teacher.params, tokens)
                                 if cfg.needs_teacher_scores else None)
    completions = [self.vocab.decode(r) for r in launched.samples.tokens]
    correct = np.array([self.task.verify(p, c) > 0 for p, c in zip(repeated, completions)])
    self.state, metrics = loop.update_on_batch(
        self.train_step, self.state, batch, rows=config.rows,
        minibatch_size=config.minibatch_size, epochs=config.epochs, mesh=self.mesh,
        frozen=self.frozen,
        order=lambda e: rng_lib.stream(config.seed, "distill_minibatches", step,
                                       e).permutation(config.rows))
    lengths = launched.samples.lengths
    seq_lens = launched.prompt_lens + lengths
    sampling = compute.generation_flops(self.model_cfg if self.on_policy else self.teacher.cfg,
                                        launched.prompt_lens, lengths)
    student = config.epochs * compute.train_flops(self.model_cfg, seq_lens)
    teacher = (compute.forward_flops(self.teacher.cfg, seq_lens) if cfg.needs_teacher_scores
               else 0.0)
    meta["student_flops"] += student + (sampling if self.on_policy else 0.0)
    meta["train_flops"] += student + sampling + teacher
    done = step + 1
    record = {**metrics, "pass_rate": float(correct.mean()),
              "response_length": float(lengths.mean())}
    loop.check_finite(record, done, self.ckpt)
    self.writer.write(done, train_flops=meta["train_flops"], student_flops=meta["student_flops"],
                      **record)
    self.progress.update(done, tokens=float(lengths.sum()), loss=record["loss"],
                         pass_rate=record["pass_rate"])

  def run(self):
    """Steps from the resumed one to `config.steps`; returns the student's policy. The metrics
    writer stays open for the caller's summary."""
    config = self.config
    self.writer = loop.open_metrics(self.workdir, self.start)
    self.progress = Progress(config.steps, start=self.start, every=config.log_every)
    if self.start == 0:
      self.evaluate(0)
    loop.run_steps(self.step, start=self.start, total=config.steps, ckpt=self.ckpt,
                   save=lambda done: self.ckpt.save(done, self.state, self.meta,
                                                    force=done == config.steps),
                   evaluate=self.evaluate,
                   evaluate_at=loop.eval_steps(config.steps, config.eval_every,
                                               config.eval_log_points))
    return self.policy_of(self.state.params)

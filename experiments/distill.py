"""Distillation from a teacher run into the student SFT run (reasoning/train/distill_loop.py,
distill.py).

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

from experiments import cli, common
from reasoning import loop, runs as runs_lib
from reasoning.model import Model
from reasoning.text import prompt_length
from reasoning.train import distill_loop


def run(config, workdir: str) -> dict:
  cfg = distill_loop.DistillRunConfig.from_config(config)
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
  trainable, lora_cfg, policy_of = common.post_training_parameters(init_params, config)
  distiller = distill_loop.DistillLoop(
      cfg, workdir, task=task, vocab=vocab, graphdef=graphdef, model_cfg=model_cfg,
      trainable=trainable, policy_of=policy_of, lora_cfg=lora_cfg,
      frozen=(init_params,) if lora_cfg.on else (),
      teacher=Model(teacher_graphdef, teacher_params, teacher_cfg, vocab), flops=sft_flops,
      eval_problems=eval_problems,
      prompt_len=max(prompt_length(vocab, p.prompt) for p in eval_problems) + 4)
  params = distiller.run()
  meta = distiller.meta
  loop.log_paired_gain(distiller.writer, workdir, config.steps, eval_problems,
                       write=distiller.start < config.steps, what="distillation",
                       train_flops=meta["train_flops"], student_flops=meta["student_flops"])
  label = f"distill ({cfg.distill.divergence}, {cfg.distill.sampler} samples)"
  metrics = common.finish_post_training(distiller.writer, workdir, config, label,
                                        f"{config.task.name}: SFT then {label}")
  return {"params": params, "metrics": metrics}


if __name__ == "__main__":
  cli.main(run, "distill")

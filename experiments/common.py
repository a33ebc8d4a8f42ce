"""What the entrypoints that train a loaded model further share: the parameters they train
(LoRA or all), the run's end (metrics closed, the compute plot), short fine-tunes."""

from __future__ import annotations

import math

from reasoning.runs import ints


def post_training_parameters(params, config):
  """(trainable, lora config, policy_of) of a run that trains a loaded model further (RL,
  distillation): with `config.lora` on, LoRA adapters on the frozen `params` (their key folded
  from the seed, apart from every rollout and evaluation key), else a copy of every parameter;
  policy_of(trainable) is the policy they make."""
  import jax
  import jax.numpy as jnp

  from reasoning import lora as lora_lib, model as model_lib
  lora_cfg = lora_lib.LoraConfig.from_config(config.get("lora"))
  merged = lora_lib.merger(lora_cfg)
  if not lora_cfg.on:
    return jax.tree.map(jnp.copy, params), lora_cfg, lambda trainable: merged(params, trainable)
  trainable = lora_lib.init(params, lora_cfg, jax.random.fold_in(jax.random.key(config.seed), 1))
  print(f"LoRA rank {lora_cfg.rank} on {','.join(lora_cfg.targets)}: "
        f"{lora_lib.count(trainable) / 1e6:.2f}M trainable parameters of "
        f"{model_lib.count_params(params) / 1e6:.1f}M", flush=True)
  return trainable, lora_cfg, lambda trainable: merged(params, trainable)


def finish_post_training(writer, workdir: str, config, label: str, title: str) -> dict:
  """The end of a run after SFT (RL, distillation): closes its metrics, draws
  plots/train_scaling.png (held-out pass@1 against compute, the SFT run at `config.init_from`
  first; sampled pass@1 where the run evaluates `pass_k` samples) and returns the last
  held-out evaluation."""
  from reasoning import loop
  from reasoning.logging import read_metrics
  writer.close()
  records = read_metrics(writer.path)
  loop.plot_train_scaling(workdir, label, records, config.init_from,
                          ints(config.eval_difficulties), title=title,
                          problems=config.eval_problems,
                          metric="sampled" if config.pass_k else "greedy")
  return loop.last_evaluation(records, writer.path)


def finetune(config, graphdef, params, examples, vocab, model_cfg, mesh, seed: int):
  """`sft.finetune` of a copy of `params` on (prompt, completion) `examples` with the config's
  `optim`, `seq_len` and `finetune` block: max(finetune.min_steps, finetune.epochs passes)
  steps of finetune.batch_size. Returns (params, train FLOPs, steps, last step's metrics)."""
  from reasoning.train import sft
  steps = max(config.finetune.min_steps, math.ceil(
      config.finetune.epochs * len(examples) / config.finetune.batch_size))
  params, flops, metrics = sft.finetune(
      graphdef, params, examples, vocab, model_cfg, mesh, optim=dict(config.optim), steps=steps,
      batch_size=config.finetune.batch_size, seq_len=config.seq_len, seed=seed)
  return params, flops, steps, metrics


def finetune_once(config, workdir: str, graphdef, policy, vocab, model_cfg, mesh, sft_flops: float,
                  make_examples):
  """A run's one fine-tune from `policy`, checkpointed as phase 1: `make_examples() -> (examples,
  generation FLOPs, extra metrics)` builds the data, `finetune` trains on it, and metrics.jsonl
  gets the record of step 1. A rerun restores the fine-tuned parameters instead (resumable
  experiments whose evaluation follows one fine-tune: the critic, the revision model).
  Returns (params, meta) with meta["train_flops"] the policy's plus this phase's."""
  from reasoning import loop
  from reasoning.checkpoint import Checkpointer
  ckpt = Checkpointer(f"{workdir}/checkpoints", save_every=1, keep=1)
  meta = {"train_flops": sft_flops}
  params, meta, start = loop.resume(ckpt, policy, meta, what="phase")
  writer = loop.open_metrics(workdir, start)
  try:
    if start == 0:
      examples, gen_flops, extra = make_examples()
      params, ft_flops, steps, metrics = finetune(config, graphdef, policy, examples, vocab,
                                                  model_cfg, mesh, config.seed)
      meta["train_flops"] += gen_flops + ft_flops
      writer.write(1, train_flops=meta["train_flops"], examples=len(examples), **extra,
                   finetune_steps=steps, finetune_loss=metrics["loss"],
                   generation_flops=gen_flops, finetune_flops=ft_flops)
      ckpt.save(1, params, meta, force=True)
  finally:
    ckpt.close()
    writer.close()
  return params, meta

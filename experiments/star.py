"""STaR: bootstrapped rationales with rationalization, from an SFT checkpoint.

  python -m experiments.star --config configs/countdown_star.py --config.init_from=SFT_WORKDIR \
      [--config.rationalize=False] [--workdir DIR]

Per iteration (reasoning/train/star.py): sample rationales for the training problems with the
current policy, keep the verified ones, rationalize the failures with a hint, and fine-tune the
ORIGINAL SFT parameters on the union; then evaluate the new policy (greedy pass@1, no hint) on
the held-out problems. The problems are one fixed set, as in the paper, or (`fresh_problems`) a
new draw every iteration after the first; with `accumulate` the fine-tune set is the union of
every iteration's examples rather than the last one's. Iteration 0 is the SFT checkpoint
itself. The compute axis counts everything: SFT, every round's sampling (hinted rows included)
and every fine-tune.

Writes config.json, metrics.jsonl (one record per iteration), checkpoints/ (one per iteration)
and plots/train_scaling.png. A rerun with the same workdir resumes after the last completed
iteration: each iteration's data is a function of the previous iteration's parameters and keys.
"""

from __future__ import annotations

import math
import os

import jax
import jax.numpy as jnp
import numpy as np

from experiments import common
from experiments.sft import batch_at, example_lengths
from reasoning import compute, evaluation, mesh as mesh_lib, plots
from reasoning.checkpoint import Checkpointer
from reasoning.logging import MetricsWriter, Progress, read_metrics
from reasoning.text import VOCAB, pad_examples, prompt_length, round_up
from reasoning.train import sft, star, state as state_lib


def training_problems(config, task, held_out: set, draw: int = 1):
  """train_problems per difficulty, none held out: draw 1 is the set STaR (every iteration, as
  in the paper, or only the first with `fresh_problems`) and expert iteration bootstrap on; draw
  n > 1 is a new set from its own stream (a synthetic task has an endless supply)."""
  problems = []
  for d in common.difficulties(config.train_difficulties):
    rng = np.random.default_rng([config.seed, 7, d] + ([draw] if draw > 1 else []))
    problems += [p for p in task.sample(rng, config.train_problems, d) if p.prompt not in held_out]
  return problems


def finetune(config, graphdef, base_params, examples, mesh, seed: int, model_cfg):
  """Fine-tunes a fresh copy of `base_params` on (prompt, completion) pairs for
  max(min_steps, epochs * len / batch_size) steps. Returns (params, train FLOPs, steps, loss)."""
  steps = max(config.finetune.min_steps,
              math.ceil(config.finetune.epochs * len(examples) / config.finetune.batch_size))
  tx = state_lib.optimizer_for(dict(config.optim), steps)
  state = state_lib.create(jax.tree.map(jnp.copy, base_params), tx)
  state = jax.device_put(state, mesh_lib.state_shardings(mesh, state))
  train_step = sft.make_train_step(graphdef, tx)
  pools = [pad_examples(VOCAB, [p for p, _ in examples], [c for _, c in examples],
                        config.seq_len)]
  flops, loss = 0.0, float("nan")
  progress = Progress(steps, every=max(1, steps // 4))
  for step in range(steps):
    host_batch = batch_at(step, seed, pools, config.finetune.batch_size)
    state, metrics = train_step(state, mesh_lib.shard_batch(mesh, host_batch))
    lengths = example_lengths(host_batch)
    flops += compute.train_flops(model_cfg, lengths)
    if (step + 1) % progress.every == 0 or step + 1 == steps:
      loss = float(metrics["loss"])
    progress.update(step + 1, tokens=float(lengths.sum()), loss=loss)
  return state.params, flops, steps, loss


def run(config, workdir: str) -> dict:
  common.save_config(config, workdir)
  sft_config, model_cfg, graphdef, base_params, sft_flops = common.load_sft(config.init_from)
  task = common.make_task(config)
  eval_problems = common.held_out_problems(task, config.eval_difficulties, config.eval_problems,
                                           sft_config["seed"])
  held_out = {p.prompt for p in eval_problems}
  problems = training_problems(config, task, held_out)
  # Prompt shapes: one for plain prompts, one for hinted ones (a few compilations in all).
  prompt_len = round_up(max(prompt_length(VOCAB, p.prompt) for p in problems + eval_problems), 8)
  hint_len = prompt_len + 24
  key = jax.random.key(config.seed)
  mesh = mesh_lib.make_mesh(mesh_lib.MeshConfig(**config.mesh))
  print(f"STaR on {len(problems)} training problems, {config.iterations} iterations, "
        f"rationalization {'on' if config.rationalize else 'off'}", flush=True)

  ckpt = Checkpointer(os.path.join(workdir, "checkpoints"), save_every=1,
                      keep=config.keep_checkpoints)
  writer_path = os.path.join(workdir, "metrics.jsonl")
  params, meta, start = common.resume_iterations(
      ckpt, base_params,
      {"train_flops": sft_flops, "base_unsolved": None, "rescued": [], "examples": []})
  writer = MetricsWriter(writer_path, resume_step=start)

  def generator(params, key):
    def generate(prompts):
      length = hint_len if any("\nhint " in p for p in prompts) else prompt_len
      # A fresh draw may hold a longer prompt than the first set's (a rare extra compilation).
      length = max(length, round_up(max(prompt_length(VOCAB, p) for p in prompts), 8))
      return evaluation.complete(graphdef, params, VOCAB, prompts, key, prompt_len=length,
                                 max_new=config.max_new, temperature=config.temperature)
    return generate

  def do_eval(iteration, params, **extra):
    common.evaluate_iteration(writer, iteration, meta["train_flops"], graphdef, params, task,
                              eval_problems, key, prompt_len=prompt_len,
                              max_new=config.max_new, **extra)

  if start == 0:
    do_eval(0, base_params)
  try:
    for it in range(start + 1, config.iterations + 1):
      round_key = jax.random.fold_in(key, it)
      round_problems = (training_problems(config, task, held_out, it)
                        if config.fresh_problems and it > 1 else problems)
      got = star.collect(generator(params, round_key), task, round_problems,
                         samples=config.samples, rationalize=config.rationalize,
                         rationalize_samples=config.rationalize_samples,
                         rng=np.random.default_rng([config.seed, 8, it]),
                         vocab_len=lambda prompt: prompt_length(VOCAB, prompt))
      if meta["base_unsolved"] is None:  # the SFT policy's own round: what it never solved
        meta["base_unsolved"] = np.flatnonzero(~got.solved).tolist()
      if round_problems is problems:  # "rescued" is defined on the first round's problems
        unsolved = np.zeros(len(problems), bool)
        unsolved[meta["base_unsolved"]] = True
        meta["rescued"] = sorted(set(meta["rescued"]) | set(
            np.flatnonzero(got.rationalized & unsolved).tolist()))
      if config.balance_traps:
        got.examples = star.balance_traps(got.examples, {p.prompt: p for p in round_problems},
                                          config.task.trap_share,
                                          np.random.default_rng([config.seed, 11, it]))
      if config.accumulate:  # the union over iterations; a problem's newest rationale wins
        union = dict(map(tuple, meta["examples"]))
        union.update(got.examples)
        meta["examples"] = [list(e) for e in union.items()]
        got.examples = list(union.items())
      gen_flops = compute.generation_flops(model_cfg, got.prompt_tokens, got.new_tokens)
      print(f"iteration {it}: {got.solved.sum()} solved, {got.rationalized.sum()} rationalized, "
            f"{len(got.examples)} examples", flush=True)
      if got.examples:
        params, ft_flops, steps, loss = finetune(config, graphdef, base_params, got.examples,
                                                 mesh, config.seed * 1000 + it, model_cfg)
      else:  # nothing to learn from: the next round samples the base policy again
        print(f"warning: STaR iteration {it}: no verified rationale among {len(problems)} "
              "problems; the policy cannot bootstrap (train the SFT longer?)", flush=True)
        params, ft_flops, steps, loss = base_params, 0.0, 0, float("nan")
      meta["train_flops"] += gen_flops + ft_flops
      # The rescued problems (never solved by the SFT policy, then rationalized) this
      # iterate now solves greedily, with no hint: what rationalization taught it.
      rescued = [problems[i] for i in meta["rescued"]]
      learned, learned_solvable = 0, 0
      if rescued:
        texts, _ = evaluation.complete(graphdef, params, VOCAB, [p.prompt for p in rescued],
                                       round_key, prompt_len=prompt_len,
                                       max_new=config.max_new, temperature=0.0)
        verdicts = [task.verify(p, c) for p, c in zip(rescued, texts)]
        learned = int(sum(verdicts))
        learned_solvable = int(sum(v for p, v in zip(rescued, verdicts) if not p.is_trap))
      do_eval(it, params, examples=len(got.examples), solved=int(got.solved.sum()),
              rationalized=int(got.rationalized.sum()), finetune_steps=steps,
              finetune_loss=loss, generation_flops=gen_flops, finetune_flops=ft_flops,
              base_unsolved=len(meta["base_unsolved"]), rescued=len(meta["rescued"]),
              rescued_traps=sum(p.is_trap for p in rescued), rescued_now_solved=learned,
              rescued_solvable_now_solved=learned_solvable)
      ckpt.save(it, params, meta, force=True)
  finally:
    ckpt.close()

  records = read_metrics(writer_path)
  os.makedirs(os.path.join(workdir, "plots"), exist_ok=True)
  plot_path = os.path.join(workdir, "plots", "train_scaling.png")
  label = "STaR" + ("" if config.rationalize else " (no rationalization)")
  sft_records = read_metrics(os.path.join(config.init_from, "metrics.jsonl"))
  plots.train_scaling({label: sft_records + records}, plot_path,
                      keys=[f"greedy/d{d}" for d in common.difficulties(config.eval_difficulties)],
                      title=f"{config.task.name}: SFT then {label}")
  print(f"wrote {plot_path}", flush=True)
  return {"params": params, "metrics": records[-1]}


if __name__ == "__main__":
  common.main(run, "star")

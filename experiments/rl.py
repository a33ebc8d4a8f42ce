"""RL on chains of thought (PPO, GRPO, RLOO, REINFORCE) from an SFT checkpoint.

  python -m experiments.rl --config configs/countdown_rl.py --config.init_from=SFT_WORKDIR \
      [--config.rl.algo=ppo] [--workdir DIR]

Each step: sample prompts (a pure function of seed and step), roll out G completions per prompt
with the jitted sampler at `temperature` (1: the policy itself), score them with the task's
verifier (host side), compute log-probs under the policy and the frozen SFT reference,
advantages per algorithm, then `epochs` passes of minibatch updates. Writes config.json, metrics.jsonl, checkpoints/ and
plots/train_scaling.png (held-out pass@1 against cumulative train FLOPs, SFT included).
A rerun with the same workdir resumes exactly.
"""

from __future__ import annotations

import dataclasses
import functools
import os

import jax
import jax.numpy as jnp
import numpy as np

from experiments import common
from reasoning import compute, evaluation, mesh as mesh_lib, plots, sampling
from reasoning.checkpoint import Checkpointer
from reasoning.logging import MetricsWriter, Progress, read_metrics
from reasoning.tasks import split_completion
from reasoning.tasks.base import NONE_ANSWER, RETRY_LINE, answer_line, retry_count
from reasoning.text import pad_prompts, prompt_length, prompt_width, round_up
from reasoning.train import pg, state as state_lib


def sample_step_problems(config, task, step: int, pass_rates: dict, held_out: set):
  """The prompts of RL step `step`: difficulty uniform, or by p(1-p) with the curriculum."""
  rng = np.random.default_rng([config.seed, 4, step])
  levels = common.difficulties(config.train_difficulties)
  if config.curriculum:
    w = np.array([pass_rates[str(d)] * (1 - pass_rates[str(d)]) + 0.02 for d in levels])
  else:
    w = np.ones(len(levels))
  chosen = rng.choice(levels, size=config.prompts_per_step, p=w / w.sum())
  problems = []
  for d in chosen:
    while True:
      [p] = task.sample(rng, 1, int(d))
      if p.prompt not in held_out:
        problems.append(p)
        break
  return problems


def training_task(config, task):
  """The task RL samples its prompts from: `task` with `train_trap_share` traps when that is set.
  The held-out problems stay the SFT run's, at the task's own share."""
  if config.train_trap_share is None:
    return task
  return dataclasses.replace(task, trap_share=config.train_trap_share)


def rollout(config, vocab, graphdef, params, ref_params, score, advantages, task, problems,
            prompt_len, key, baseline):
  """Samples one completion per entry of `problems` (G consecutive copies of each prompt),
  rewards it with the verifier and returns (batch for the PG step, rewards [B], completions,
  prompt lengths [B], generated lengths [B])."""
  prompt_lens = np.array([prompt_length(vocab, p.prompt) for p in problems])
  width = prompt_width(prompt_lens, prompt_len)  # wider only for a longer dataset prompt
  prompts = jnp.asarray(pad_prompts(vocab, [p.prompt for p in problems], width))
  out = jax.device_get(sampling.generate(graphdef, params, prompts, key, max_new=config.max_new,
                                         stop="answer", temperature=config.temperature,
                                         specials=vocab.specials))
  completions = [vocab.decode(r) for r in out.tokens]
  rewards = rewards_of(task, problems, completions, config.format_penalty, config.none_penalty,
                       config.step_reward, config.illegal_penalty)
  # Score and train on the generated width, not max_new: columns after the longest row are
  # padding that every loss masks out (widths in 16s: at most max_new/16 shapes compile).
  width_new = min(out.tokens.shape[1], round_up(max(int(out.lengths.max()), 1), 16))
  tokens = jnp.concatenate([prompts, jnp.asarray(out.tokens[:, :width_new])], 1)
  # Generated tokens up to and including the stop token (which may be the pad id: EOS-padded
  # vocabularies), never the finished rows' padding.
  generated = np.arange(width_new)[None] < out.lengths[:, None]
  mask = jnp.concatenate([jnp.zeros_like(prompts), jnp.asarray(generated)], 1)
  mask = mask[:, 1:].astype(jnp.float32)  # aligned with predicted tokens
  tokens, mask = (mesh_lib.split_like(params, x) for x in (tokens, mask))  # data-parallel scoring
  logp, values, _ = score(params, tokens)
  ref_logp, _, _ = score(ref_params, tokens)
  adv, returns = advantages(jnp.asarray(rewards), mask, values, logp, ref_logp, baseline)
  if config.abandoned_credit != 1.0:
    credit = abandoned_mask(vocab, out.tokens[:, :width_new], out.lengths)
    credit = np.where(credit, config.abandoned_credit, 1.0).astype(np.float32)
    adv = adv * jnp.asarray(np.pad(credit, ((0, 0), (prompts.shape[1] - 1, 0)),
                                   constant_values=1.0))
  batch = {"tokens": tokens, "mask": mask, "old_logp": logp, "ref_logp": ref_logp,
           "advantages": adv, "returns": returns, "old_values": values}
  return batch, rewards, completions, prompt_lens, out.lengths


def abandoned_mask(vocab, tokens: np.ndarray, lengths: np.ndarray) -> np.ndarray:
  """[B, T] True on the generated tokens of attempts a completion abandoned: everything before
  its last `retry` line (tasks.base.RETRY_LINE). Those tokens did not produce the answer, so
  with `abandoned_credit` < 1 a success that retried credits its retry and its last attempt
  rather than the miss that came first."""
  out = np.zeros(tokens.shape, bool)
  marker = "\n" + RETRY_LINE + "\n"
  for b, row in enumerate(tokens):
    pieces = [vocab.decode([t]) for t in row[:lengths[b]]]
    text = "\n" + "".join(pieces)  # a retry on the first line starts a line too
    start = text.rfind(marker)
    if start < 0:
      continue
    ends = np.cumsum([len(p) for p in pieces]) + 1  # char offset in `text` after each token
    out[b, :lengths[b]] = ends <= start + 1  # up to and including the newline before `retry`
  return out


def rewards_of(task, problems, completions, format_penalty: float,
               none_penalty: float = 0.0, step_reward: float = 0.0,
               illegal_penalty: float = 0.0) -> np.ndarray:
  """The verifier's verdict; -format_penalty if malformed; -none_penalty for answering `none`
  to a solvable problem (so declaring a trap is not a free way out of a hard problem);
  -illegal_penalty for a wrong answer with an illegal step (`task.has_illegal_step`: a claimed
  result the arithmetic does not give), so that with `rl.push_penalized` the policy unlearns
  writing the target whatever its last step computes, the habit that hides a miss from it.

  step_reward > 0 adds a process reward from the task's exact step oracle: step_reward times the
  share of the completion's lines that the oracle labels good (`task.step_labels`), so among
  wrong attempts those that kept the target reachable longer score higher; a correct one gets
  the full bonus."""
  out = []
  for p, c in zip(problems, completions):
    parts = split_completion(c)
    if parts is None:
      out.append(-format_penalty)
    elif parts[1] == NONE_ANSWER and not p.is_trap:
      out.append(-none_penalty)
    else:
      reward = task.verify(p, c)
      if illegal_penalty and not reward and task.has_illegal_step(p, c):
        reward = -illegal_penalty
      if step_reward:
        labels = task.step_labels(p, parts[0] + [answer_line(parts[1])])
        reward += step_reward * float(np.mean(labels))
      out.append(reward)
  return np.array(out, np.float32)


def run(config, workdir: str) -> dict:
  common.save_config(config, workdir)
  vocab, sft_config, model_cfg, graphdef, sft_params, sft_flops = common.load_sft(
      config.init_from, with_vocab=True)
  task = common.make_task(config)
  train_task = training_task(config, task)
  if config.step_reward and not common.has_step_oracle(task):
    raise ValueError(f"step_reward={config.step_reward}: task {config.task.name} has no per-step "
                     f"oracle to reward steps with; set it to 0")
  if config.illegal_penalty and not hasattr(task, "has_illegal_step"):
    raise ValueError(f"illegal_penalty={config.illegal_penalty}: task {config.task.name} has no "
                     f"has_illegal_step to find an illegal step with; set it to 0")
  if not 0.0 < config.temperature <= 2.0:
    raise ValueError(f"temperature={config.temperature}: the rollout temperature must be in "
                     f"(0, 2]; greedy rollouts (0) give GRPO/RLOO groups of identical samples")
  pg_cfg = pg.PGConfig(**config.rl)
  group = config.samples_per_prompt
  rows = config.prompts_per_step * group
  if rows % config.minibatch_size:
    raise ValueError(f"prompts_per_step * samples_per_prompt = {rows} is not a multiple of "
                     f"minibatch_size = {config.minibatch_size}")
  updates_per_step = config.epochs * rows // config.minibatch_size
  optim_cfg = state_lib.OptimConfig(total_steps=config.steps * updates_per_step, **config.optim)
  rollout_key, eval_key = jax.random.split(jax.random.key(config.seed))

  eval_problems = common.held_out_problems(task, config.eval_difficulties, config.eval_problems,
                                           sft_config["seed"])
  held_out = {p.prompt for p in eval_problems}
  prompt_len = max(prompt_length(vocab, p.prompt) for p in eval_problems) + 4
  tx = state_lib.make_optimizer(optim_cfg)
  state = state_lib.create(jax.tree.map(jnp.copy, sft_params), tx)
  train_step = pg.make_train_step(graphdef, tx, pg_cfg)
  score = jax.jit(functools.partial(pg.sequence_logprobs, graphdef))

  @jax.jit
  def advantages(rewards, mask, values, logp, ref_logp, baseline):
    return pg.token_advantages(pg_cfg, rewards, group, mask, values, logp, ref_logp, baseline)

  ckpt = Checkpointer(os.path.join(workdir, "checkpoints"), save_every=config.checkpoint_every,
                      keep=config.keep_checkpoints)
  levels = common.difficulties(config.train_difficulties)
  meta = {"train_flops": sft_flops, "baseline": 0.0, "pass_rates": {str(d): 0.5 for d in levels}}
  start = 0
  if ckpt.latest_step() is not None:
    start = ckpt.latest_step()  # checkpoints are numbered by RL step
    state, meta = ckpt.restore(jax.eval_shape(lambda: state), start)
    print(f"resumed from RL step {start} in {ckpt.directory}", flush=True)
  mesh = mesh_lib.make_mesh(mesh_lib.MeshConfig(**config.mesh))  # see experiments/sft.py
  state = jax.device_put(state, mesh_lib.state_shardings(mesh, state))
  sft_params = jax.device_put(sft_params, mesh_lib.state_shardings(mesh, sft_params))  # the reference
  writer = MetricsWriter(os.path.join(workdir, "metrics.jsonl"), resume_step=start)
  progress = Progress(config.steps, start=start, every=config.log_every)

  def do_eval(step):
    result = evaluation.evaluate(graphdef, state.params, vocab, task, eval_problems,
                                 jax.random.fold_in(eval_key, step), prompt_len=prompt_len,
                                 max_new=config.max_new, num_samples=config.pass_k)
    writer.write(step, train_flops=meta["train_flops"], algo=pg_cfg.algo, **result)
    shown = "  ".join(f"{k}={v:.3f}" for k, v in result.items() if k.startswith("greedy/"))
    print(f"eval @ RL step {step}: {shown}", flush=True)
    return result

  if start == 0:
    do_eval(0)
  # Finish any pending checkpoint write even when interrupted: no lost work, and a
  # rerun never races a half-written save.
  try:
    for step in range(start, config.steps):
      problems = sample_step_problems(config, train_task, step, meta["pass_rates"], held_out)
      repeated = [p for p in problems for _ in range(group)]
      batch, rewards, completions, prompt_lens, lengths = rollout(
          config, vocab, graphdef, state.params, sft_params, score, advantages, task, repeated,
          prompt_len, jax.random.fold_in(rollout_key, step), meta["baseline"])
      metrics_list = []
      for epoch in range(config.epochs):
        order = np.random.default_rng([config.seed, 5, step, epoch]).permutation(rows)
        for i in range(0, rows, config.minibatch_size):
          idx = order[i:i + config.minibatch_size]
          minibatch = mesh_lib.shard_batch(mesh, jax.tree.map(lambda x: x[idx], batch))
          state, m = train_step(state, minibatch)
          metrics_list.append(m)
      metrics = {k: float(np.mean([float(m[k]) for m in metrics_list])) for k in metrics_list[0]}

      seq_lens = prompt_lens + lengths
      meta["train_flops"] += (compute.generation_flops(model_cfg, prompt_lens, lengths)
                              + 2 * compute.forward_flops(model_cfg, seq_lens)
                              + config.epochs * compute.train_flops(model_cfg, seq_lens))
      meta["baseline"] = pg.ema(meta["baseline"], rewards, config.baseline_decay)
      difficulty = np.array([p.difficulty for p in repeated])
      for d in levels:
        if (difficulty == d).any():
          meta["pass_rates"][str(d)] = 0.8 * meta["pass_rates"][str(d)] + 0.2 * float(
              (rewards[difficulty == d] > 0).mean())
      done = step + 1
      record = {"reward": float(rewards.mean()), "pass_rate": float((rewards > 0).mean()),
                "response_length": float(lengths.mean()),
                "malformed": float(np.mean([split_completion(c) is None for c in completions])),
                "answered_none": float(np.mean([c.endswith("ANSWER: none\n") for c in completions])),
                "retries": float(np.mean([retry_count(c) for c in completions])),
                **metrics}
      writer.write(done, train_flops=meta["train_flops"], algo=pg_cfg.algo, **record)
      progress.update(done, tokens=float(lengths.sum()), reward=record["reward"],
                      kl=record["kl"], len=record["response_length"])
      if done % config.eval_every == 0 or done == config.steps:
        do_eval(done)
      ckpt.save(done, state, meta, force=done == config.steps)
  finally:
    ckpt.close()
  records = read_metrics(writer.path)
  final = next(r for r in reversed(records) if "greedy/all" in r)
  os.makedirs(os.path.join(workdir, "plots"), exist_ok=True)
  plot_path = os.path.join(workdir, "plots", "train_scaling.png")
  sft_records = read_metrics(os.path.join(config.init_from, "metrics.jsonl"))
  plots.train_scaling({pg_cfg.algo: sft_records + records}, plot_path,
                      keys=[f"greedy/d{d}" for d in common.difficulties(config.eval_difficulties)],
                      title=f"{config.task.name}: SFT then RL ({pg_cfg.algo})")
  print(f"wrote {plot_path}", flush=True)
  return {"params": state.params, "metrics": final}


if __name__ == "__main__":
  common.main(run, "rl")

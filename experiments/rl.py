"""RL on chains of thought (PPO, GRPO, RLOO, REINFORCE, REINFORCE++; the DAPO, Dr. GRPO, GSPO
and CISPO recipes) from an SFT checkpoint.

  python -m experiments.rl --config configs/countdown_rl.py --config.init_from=SFT_WORKDIR \
      [--config.rl.algo=ppo] [--workdir DIR]

Each step (reasoning/train/rollout.py): sample prompts (a pure function of seed and step), roll
out G completions per prompt with the jitted sampler at `temperature` (1: the policy itself),
score them with the task's verifier (host side), compute log-probs under the policy and the
frozen SFT reference, advantages per algorithm, then `epochs` passes of minibatch updates.
`dynamic_sampling` > 0 samples that many more groups and trains on the informative ones
(DAPO); `off_policy_steps=k` samples each rollout with the policy of k steps before, as an
asynchronous sampler running k steps ahead of the learner would (`rl.tis_cap` corrects it); with
`pipeline` as well, step t+1's generation is dispatched before step t's completions are
verified, so the host verifies while the device generates (its prompts are drawn with the
curriculum's pass rates of one step before).
Without `dynamic_sampling` the scoring under policy and reference is dispatched before the
verification too.
Writes config.json, metrics.jsonl, TensorBoard events, checkpoints/ and plots/train_scaling.png
(held-out pass@1 against cumulative train FLOPs, SFT included). A rerun resumes exactly.
"""

from __future__ import annotations

import functools
import os

import jax
import jax.numpy as jnp

from experiments import cli, common
from reasoning import compute, loop, mesh as mesh_lib, rng as rng_lib, runs as runs_lib
from reasoning.checkpoint import Checkpointer
from reasoning.logging import PhaseClock, Progress
from reasoning.text import prompt_length
from reasoning.train import pg, rewards as rewards_lib, rollout as rollout_lib, state as state_lib


def run(config, workdir: str) -> dict:
  if config.rollout_slots < 0 or config.rollout_slots % config.samples_per_prompt:
    raise ValueError(f"rollout_slots={config.rollout_slots}: 0 (the static batch) or a positive "
                     f"multiple of samples_per_prompt={config.samples_per_prompt}")
  if config.eval_slots < 0:
    raise ValueError(f"eval_slots={config.eval_slots}: 0 (static batches) or a slot count")
  common.check_positive(config, "steps", "prompts_per_step", "samples_per_prompt",
                        "minibatch_size", "epochs", "eval_every", "log_every",
                        "checkpoint_every", "keep_checkpoints", "max_new")
  stale = config.off_policy_steps
  if not isinstance(stale, int) or stale < 0:
    raise ValueError(f"off_policy_steps={stale}: 0 (on-policy) or k >= 1 (each rollout sampled "
                     f"by the policy of k steps before)")
  if config.pipeline and not stale:
    raise ValueError("pipeline=True generates step t+1 while step t trains, from parameters "
                     "of before step t: it needs off_policy_steps >= 1")
  if config.dynamic_sampling < 0:
    raise ValueError(f"dynamic_sampling={config.dynamic_sampling}: the share of extra groups "
                     f"sampled must be >= 0")
  if not 0.0 < config.temperature <= 2.0:
    raise ValueError(f"temperature={config.temperature}: the rollout temperature must be in "
                     f"(0, 2]; greedy rollouts (0) give GRPO/RLOO groups of identical samples")
  pg_cfg = pg.PGConfig(**{**config.rl, "norm_length": config.rl.norm_length or config.max_new})
  if pg_cfg.tis_cap and not config.off_policy_steps:
    raise ValueError(f"rl.tis_cap={pg_cfg.tis_cap} corrects rollouts of an older policy; with "
                     f"off_policy_steps=0 the behavior policy is the current one: set it to 0")
  group = config.samples_per_prompt
  rows = config.prompts_per_step * group
  if rows % config.minibatch_size:
    raise ValueError(f"prompts_per_step * samples_per_prompt = {rows} is not a multiple of "
                     f"minibatch_size = {config.minibatch_size}")
  vocab, sft_config, model_cfg, graphdef, sft_params, sft_flops = runs_lib.load_sft(
      config.init_from, memory=config.get("memory"))
  task = runs_lib.make_task(config, vocab)
  rewards_lib.check_shaping(task, step_reward=config.step_reward,
                            illegal_penalty=config.illegal_penalty)
  runs_lib.save_config(config, workdir)
  train_task = rollout_lib.training_task(task, config.train_trap_share)
  updates_per_step = config.epochs * rows // config.minibatch_size
  score_policy = pg.scores_before_update(pg_cfg, updates_per_rollout=updates_per_step,
                                         off_policy=bool(stale))
  optim_cfg = state_lib.OptimConfig(total_steps=config.steps * updates_per_step, **config.optim)
  rollout_key, eval_key = jax.random.split(jax.random.key(config.seed))
  eval_problems = runs_lib.evaluation_set(task, config.init_from, config.eval_difficulties,
                                          config.eval_problems)
  held_out = {p.prompt for p in eval_problems}
  # Prompts RL never trains on: the held-out set, and with fresh_prompts the SFT run's own
  # training prompts (on those the policy recalls memorized solutions; fresh problems are what
  # the held-out set measures).
  skip = held_out | (runs_lib.trained_prompts(runs_lib.load_sft_config(config.init_from))
                     if config.get("fresh_prompts") else frozenset())
  prompt_len = max(prompt_length(vocab, p.prompt) for p in eval_problems) + 4
  tx = state_lib.make_optimizer(optim_cfg)
  # With LoRA the state trains the adapters (and value/reward heads) only; the policy is the
  # frozen SFT parameters merged with them, and the reference is the SFT parameters themselves.
  trainable, lora_cfg, policy_of = common.post_training_parameters(sft_params, config)
  state = state_lib.create(trainable, tx)
  train_step = pg.make_train_step(graphdef, tx, pg_cfg, lora_cfg)
  score = jax.jit(functools.partial(pg.sequence_logprobs, graphdef), static_argnums=2)

  @jax.jit
  def advantages(rewards, mask, values, logp, ref_logp, baseline, step_rewards=None,
                 step_ends=None):
    return pg.token_advantages(pg_cfg, rewards, group, mask, values, logp, ref_logp, baseline,
                               step_rewards, step_ends)

  learned = load_reward_model(config, vocab, prompt_len)
  if config.reward.dense and pg_cfg.algo not in pg.DENSE_ALGOS:
    raise ValueError(f"reward.dense=True: rl.algo={pg_cfg.algo!r} has no per-step credit; use "
                     f"one of {pg.DENSE_ALGOS}")
  reward = rewards_lib.reward_function(
      task, learned=learned, plus_verifier=config.reward.plus_verifier, dense=config.reward.dense,
      format_penalty=config.format_penalty, none_penalty=config.none_penalty,
      step_reward=config.step_reward, illegal_penalty=config.illegal_penalty)

  ckpt = Checkpointer(f"{workdir}/checkpoints", save_every=config.checkpoint_every,
                      keep=config.keep_checkpoints)
  levels = runs_lib.ints(config.train_difficulties)
  meta = {"train_flops": sft_flops, "baseline": 0.0, "pass_rates": {str(d): 0.5 for d in levels}}
  if config.pipeline:  # the pass rates the next step's prompts are drawn with: one step behind
    meta["prompt_rates"] = meta["pass_rates"]
  # With off_policy_steps = k >= 1 the checkpoint is {"state", "behind"[, "newer"]}: the
  # parameters that sample the next rollout (those of k steps before) and, for k > 1, the k - 1
  # newer ones that sample the rollouts after it; a run resumes with them (runs_lib.load_sft reads
  # every form).
  carry = state if not stale else rollout_lib.stale_carry(
      state, [jax.tree.map(jnp.copy, state.params) for _ in range(stale)])
  carry, meta, start = loop.resume(ckpt, carry, meta, what="RL step")  # numbered by RL step
  mesh = mesh_lib.make_mesh(mesh_lib.MeshConfig(**config.mesh))  # see experiments/sft.py
  carry = jax.device_put(carry, mesh_lib.state_shardings(mesh, carry))
  # queue[0] samples this step's rollout; each step the parameters it starts with join the end.
  state, queue = (carry["state"], [carry["behind"], *carry.get("newer", [])]) if stale else (
      carry, None)
  sft_params = jax.device_put(sft_params, mesh_lib.state_shardings(mesh, sft_params))  # reference
  frozen = (sft_params,) if lora_cfg.on else ()
  writer = loop.open_metrics(workdir, start)
  progress = Progress(config.steps, start=start, every=config.log_every)
  clock = PhaseClock(config.time_phases)

  def do_eval(step):
    loop.evaluate(writer, step, graphdef, policy_of(state.params), vocab, task, eval_problems,
                  jax.random.fold_in(eval_key, step), prompt_len=prompt_len,
                  max_new=config.max_new, train_flops=meta["train_flops"],
                  num_samples=config.pass_k, what="RL step", algo=pg_cfg.algo,
                  slots=config.eval_slots,
                  scores_path=os.path.join(workdir, "evals", f"step{step}.npz"))

  evaluate_at = loop.eval_steps(config.steps, config.eval_every, config.eval_log_points)
  groups = config.prompts_per_step
  sampled_groups = groups + int(round(config.dynamic_sampling * groups))
  select = (functools.partial(rollout_lib.informative_rows, group=group, groups=groups)
            if config.dynamic_sampling else None)

  def launch(step, params, pass_rates):
    """Draws step `step`'s prompts (G copies of each) and dispatches their generation."""
    problems = rollout_lib.sample_step_problems(
        train_task, rng_lib.stream(config.seed, "rl_prompts", step), levels, sampled_groups,
        skip, pass_rates if config.curriculum else None)
    return rollout_lib.launch(
        graphdef, params, [p for p in problems for _ in range(group)],
        jax.random.fold_in(rollout_key, step), vocab=vocab, prompt_len=prompt_len,
        max_new=config.max_new, temperature=config.temperature, group=group,
        slots=config.rollout_slots, respond=getattr(train_task, "respond", None))

  if start == 0:
    do_eval(0)
  launched = None  # with `pipeline`: the next step's generation, dispatched
  try:  # a pending checkpoint write finishes even when interrupted
    for step in range(start, config.steps):
      clock.start()
      if launched is None:  # on-policy, the first step, or a resumed run
        launched = launch(step, policy_of(state.params if queue is None else queue[0]),
                          meta["prompt_rates"] if config.pipeline else meta["pass_rates"])
      this, launched = launched, None
      if queue is not None:  # the rollout k steps on samples from this step's starting policy
        starting = jax.tree.map(jnp.copy, state.params)
      if config.pipeline:
        this = rollout_lib.collect(this)
        if step + 1 < config.steps:
          launched = launch(step + 1, policy_of(queue[1] if stale > 1 else starting),
                            meta["pass_rates"])
        meta["prompt_rates"] = meta["pass_rates"]
      repeated = list(this.problems)
      out = rollout_lib.finish(
          this, policy_of(state.params), sft_params, vocab=vocab, reward=reward, score=score,
          advantages=advantages, max_new=config.max_new, baseline=meta["baseline"],
          abandoned_credit=config.abandoned_credit, overlong_buffer=config.overlong_buffer,
          select=select, behavior_params=None if queue is None else policy_of(queue[0]),
          score_policy=score_policy, clock=clock,
          step_scores=learned.step_scores if config.reward.dense else None)
      if queue is not None:
        queue = queue[1:] + [starting]
      state, metrics = loop.update_on_batch(
          train_step, state, out.batch, rows=rows, minibatch_size=config.minibatch_size,
          epochs=config.epochs, mesh=mesh, frozen=frozen,
          order=lambda e: rng_lib.stream(config.seed, "rl_minibatches", step, e).permutation(rows))
      clock.mark("update", state)
      if not score_policy:  # the update's forward pass measured the KL from the reference
        metrics.update(rollout_lib.kl_metrics(metrics.pop("kl_start")))
      seq_lens = (out.prompt_lens + out.lengths)[out.rows]  # scored and trained on
      sampling_flops = (out.sampling_flops if out.sampling_flops is not None else
                        compute.generation_flops(model_cfg, out.prompt_lens, out.lengths))
      meta["train_flops"] += (sampling_flops
                              + (1 + score_policy + bool(stale))
                              * compute.forward_flops(model_cfg, seq_lens)
                              + config.epochs * compute.train_flops(model_cfg, seq_lens))
      meta["baseline"] = pg.ema(meta["baseline"], out.rewards, config.baseline_decay)
      if learned is not None:  # the reward model scored every sampled row
        meta["train_flops"] += learned.flops(out.prompt_lens + out.lengths)
      meta["pass_rates"] = rollout_lib.update_pass_rates(meta["pass_rates"], repeated,
                                                         out.correct)
      done = step + 1
      record = {**out.summary(task), **metrics, **clock.metrics()}
      loop.check_finite(record, done, ckpt)
      writer.write(done, train_flops=meta["train_flops"], algo=pg_cfg.algo, **record)
      progress.update(done, tokens=float(out.lengths.sum()), reward=record["reward"],
                      kl=record["kl"], len=record["response_length"])
      if done in evaluate_at:
        do_eval(done)
      carry = state if queue is None else rollout_lib.stale_carry(state, queue)
      ckpt.save(done, carry, meta, force=done == config.steps)
  finally:
    ckpt.close()
  # RL's gain on the held-out problems, paired per problem between the first and last
  # evaluation, with its standard error.
  loop.log_paired_gain(writer, workdir, config.steps, eval_problems, write=start < config.steps,
                       what="RL", train_flops=meta["train_flops"], algo=pg_cfg.algo)
  metrics = common.finish_post_training(writer, workdir, config, pg_cfg.algo,
                                        f"{config.task.name}: SFT then RL ({pg_cfg.algo})")
  return {"params": policy_of(state.params), "metrics": metrics}


def load_reward_model(config, vocab, prompt_len: int
                      ) -> rewards_lib.LearnedReward | rewards_lib.CriticReward | None:
  """The frozen reward model of `config.reward.model`: a verifier run (its kind, ORM or PRM, from
  its config.json) or a critic run (experiments.critic: its config has critique_max_new); None
  for the exact verifier's reward."""
  path = config.reward.model
  if not path:
    return None
  reward_vocab, _, cfg, graphdef, params, _ = runs_lib.load_sft(path)
  common.check_same_vocab(vocab, reward_vocab, "config.reward.model", "config.init_from")
  run = runs_lib.read_run_config(path)
  kind = run.get("kind")
  if "critique_max_new" in run:
    from reasoning.search.base import Model
    return rewards_lib.CriticReward(Model(graphdef, params, cfg, vocab), run["critique_max_new"])
  if kind not in ("orm", "prm"):
    raise ValueError(f"config.reward.model={path!r}: not a reward model run (its config.json "
                     f"has kind={kind!r}; experiments.verifier writes 'orm' or 'prm', "
                     f"experiments.critic a critic)")
  return rewards_lib.LearnedReward(graphdef, params, cfg, vocab, kind,
                                   aggregation=config.reward.aggregation,
                                   seq_len=prompt_len + config.max_new + 2)


if __name__ == "__main__":
  cli.main(run, "rl")

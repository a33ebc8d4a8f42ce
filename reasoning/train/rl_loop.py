"""The RL loop: from a loaded policy and its task, `steps` rounds of launch, collect, finish and
update (reasoning/train/rollout.py, pg.py), resumable, with its FLOP ledger.

- `RLConfig`: the loop's settings, typed; `RLConfig.from_config` reads and checks an
  ml_collections config (configs/countdown_rl.py documents every field), one clear error per
  bad field.
- `step_flops`: what one step costs (generation, scoring under policy, behavior and reference,
  the updates' forward and backward passes; the reward model's scoring is added by the caller).
- `RLLoop`: one run's fixed parts (model, task, reward, optimizer, evaluation set) and its
  moving state (train state, off-policy queue, meta), with `run()` the loop itself.

Off-policy (`off_policy_steps=k >= 1`): the parameters that sample a step's rollout are those of
k steps before, kept in a queue: queue[0] samples this step's rollout; each step the parameters
it starts with join the end. The checkpoint is then {"state", "behind"[, "newer"]} (`stale_carry`)
and a run resumes with them. With `pipeline`, step t+1's generation is dispatched before step t
trains, its prompts drawn with the pass rates of one step before.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from typing import Callable

import jax
import jax.numpy as jnp

from reasoning import compute, loop, mesh as mesh_lib, rng as rng_lib, runs as runs_lib
from reasoning.checkpoint import Checkpointer
from reasoning.logging import PhaseClock, Progress
from reasoning.model import Model
from reasoning.train import pg, rewards as rewards_lib, rollout as rollout_lib, state as state_lib


def _check(config) -> pg.PGConfig:
  """The RL config's checks (a clear error naming the field) and its `PGConfig`."""
  if config.rollout_slots < 0 or config.rollout_slots % config.samples_per_prompt:
    raise ValueError(f"rollout_slots={config.rollout_slots}: 0 (the static batch) or a positive "
                     f"multiple of samples_per_prompt={config.samples_per_prompt}")
  if config.eval_slots < 0:
    raise ValueError(f"eval_slots={config.eval_slots}: 0 (static batches) or a slot count")
  runs_lib.check_positive(config, "steps", "prompts_per_step", "samples_per_prompt",
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
  if config.reward.dense and pg_cfg.algo not in pg.DENSE_ALGOS:
    raise ValueError(f"reward.dense=True: rl.algo={pg_cfg.algo!r} has no per-step credit; use "
                     f"one of {pg.DENSE_ALGOS}")
  return pg_cfg


@dataclasses.dataclass(frozen=True)
class RLConfig(loop.OnlineConfig):
  """What the RL loop reads of a run's config (configs/countdown_rl.py documents each field)."""
  curriculum: bool
  dynamic_sampling: float
  off_policy_steps: int
  pipeline: bool
  train_trap_share: float | None
  baseline_decay: float
  abandoned_credit: float
  overlong_buffer: int
  format_penalty: float
  none_penalty: float
  step_reward: float
  illegal_penalty: float
  reward_dense: bool
  reward_plus_verifier: bool
  time_phases: bool
  pg: pg.PGConfig

  @classmethod
  def from_config(cls, config) -> RLConfig:
    return cls.read(config, pg=_check(config), reward_dense=bool(config.reward.dense),
                    reward_plus_verifier=bool(config.reward.plus_verifier))


def step_flops(model_cfg, out: rollout_lib.Rollout, *, score_policy: bool, off_policy: bool,
               epochs: int) -> float:
  """One step's FLOPs: the rollout's generation, a forward pass over the trained rows under the
  reference (and the policy before the update where it scores them, and the behavior policy
  off-policy), and `epochs` training passes."""
  seq_lens = (out.prompt_lens + out.lengths)[out.rows]  # scored and trained on
  sampling = (out.sampling_flops if out.sampling_flops is not None else
              compute.generation_flops(model_cfg, out.prompt_lens, out.lengths))
  return (sampling + (1 + score_policy + off_policy) * compute.forward_flops(model_cfg, seq_lens)
          + epochs * compute.train_flops(model_cfg, seq_lens))


class RLLoop:
  """One RL run. `policy_of(trainable)` is the policy the trained parameters make (the frozen SFT
  parameters merged with LoRA adapters, or the parameters themselves); `reference` is the SFT
  policy; `learned` the frozen reward model, if any (its scoring FLOPs join the ledger)."""

  def __init__(self, config: RLConfig, workdir: str, *, task, vocab, model_cfg,
               graphdef, trainable, reference, policy_of: Callable, lora_cfg, sft_flops: float,
               eval_problems, skip, prompt_len: int, learned=None):
    self.config, self.workdir = config, workdir
    self.task, self.vocab, self.model_cfg, self.graphdef = task, vocab, model_cfg, graphdef
    self.policy_of, self.eval_problems, self.skip = policy_of, eval_problems, skip
    self.prompt_len, self.learned = prompt_len, learned
    self.train_task = rollout_lib.training_task(task, config.train_trap_share)
    self.levels = list(config.train_difficulties)
    self.score_policy = pg.scores_before_update(config.pg,
                                                updates_per_rollout=config.updates_per_step,
                                                off_policy=bool(config.off_policy_steps))
    self.rollout_key, self.eval_key = jax.random.split(jax.random.key(config.seed))
    optim_cfg = state_lib.OptimConfig(total_steps=config.steps * config.updates_per_step,
                                      **config.optim)
    tx = state_lib.make_optimizer(optim_cfg)
    self.train_step = pg.make_train_step(graphdef, tx, config.pg, lora_cfg)
    self.score = jax.jit(functools.partial(pg.sequence_logprobs, graphdef), static_argnums=2)
    pg_cfg, group = config.pg, config.samples_per_prompt

    @jax.jit
    def advantages(rewards, mask, values, logp, ref_logp, baseline, step_rewards=None,
                   step_ends=None):
      return pg.token_advantages(pg_cfg, rewards, group, mask, values, logp, ref_logp, baseline,
                                 step_rewards, step_ends)

    self.advantages = advantages
    self.reward = rewards_lib.reward_function(
        task, learned=learned, plus_verifier=config.reward_plus_verifier,
        dense=config.reward_dense, format_penalty=config.format_penalty,
        none_penalty=config.none_penalty, step_reward=config.step_reward,
        illegal_penalty=config.illegal_penalty)
    self.ckpt = Checkpointer(f"{workdir}/checkpoints", save_every=config.checkpoint_every,
                             keep=config.keep_checkpoints)
    self._resume(state_lib.create(trainable, tx), sft_flops, reference, lora_cfg.on)
    groups = config.prompts_per_step
    self.sampled_groups = groups + int(round(config.dynamic_sampling * groups))
    self.select = (functools.partial(rollout_lib.informative_rows,
                                     group=config.samples_per_prompt, groups=groups)
                   if config.dynamic_sampling else None)
    self.launched: rollout_lib.Launched | None = None  # pipelined: the next step's, dispatched

  def _resume(self, state, sft_flops: float, reference, lora: bool) -> None:
    """The train state, queue and meta of the latest checkpoint (or the start), on the mesh."""
    meta = {"train_flops": sft_flops, "baseline": 0.0,
            "pass_rates": {str(d): 0.5 for d in self.levels}}
    if self.config.pipeline:  # the pass rates the next step's prompts are drawn with
      meta["prompt_rates"] = meta["pass_rates"]
    stale = self.config.off_policy_steps
    carry = state if not stale else rollout_lib.stale_carry(
        state, [jax.tree.map(jnp.copy, state.params) for _ in range(stale)])
    carry, self.meta, self.start = loop.resume(self.ckpt, carry, meta, what="RL step")
    self.mesh = mesh_lib.make_mesh(self.config.mesh)
    carry = jax.device_put(carry, mesh_lib.state_shardings(self.mesh, carry))
    self.queue: list | None
    self.state, self.queue = ((carry["state"], [carry["behind"], *carry.get("newer", [])])
                              if stale else (carry, None))
    self.reference = jax.device_put(reference, mesh_lib.state_shardings(self.mesh, reference))
    self.frozen = (self.reference,) if lora else ()

  def evaluate(self, step: int) -> None:
    config = self.config
    loop.evaluate(self.writer, step, self.graphdef, self.policy_of(self.state.params), self.vocab,
                  self.task, self.eval_problems, jax.random.fold_in(self.eval_key, step),
                  prompt_len=self.prompt_len, max_new=config.max_new,
                  train_flops=self.meta["train_flops"], num_samples=config.pass_k,
                  what="RL step", algo=config.pg.algo, slots=config.eval_slots,
                  scores_path=os.path.join(self.workdir, "evals", f"step{step}.npz"))

  def launch(self, step: int, params, pass_rates) -> rollout_lib.Launched:
    """Draws step `step`'s prompts (G copies of each) and dispatches their generation."""
    config = self.config
    problems = rollout_lib.sample_step_problems(
        self.train_task, rng_lib.stream(config.seed, "rl_prompts", step), self.levels,
        self.sampled_groups, self.skip, pass_rates if config.curriculum else None)
    return rollout_lib.launch(
        self.graphdef, params, [p for p in problems for _ in range(config.samples_per_prompt)],
        jax.random.fold_in(self.rollout_key, step), vocab=self.vocab,
        prompt_len=self.prompt_len, max_new=config.max_new, temperature=config.temperature,
        group=config.samples_per_prompt, slots=config.rollout_slots,
        respond=getattr(self.train_task, "respond", None))

  def rollout(self, step: int, launched):
    """Step `step`'s finished rollout (rewards, advantages, the batch), its problems (one per
    row), and the next step's launched generation where `pipeline` dispatches it before this
    step trains."""
    config, meta, policy_of = self.config, self.meta, self.policy_of
    if launched is None:  # on-policy, the first step, or a resumed run
      launched = self.launch(step, policy_of(self.state.params if self.queue is None
                                             else self.queue[0]),
                             meta["prompt_rates"] if config.pipeline else meta["pass_rates"])
    this, launched = launched, None
    if self.queue is not None:  # the rollout k steps on samples from this step's starting policy
      starting = jax.tree.map(jnp.copy, self.state.params)
    if config.pipeline:
      assert self.queue is not None  # pipeline needs off_policy_steps >= 1 (checked)
      this = rollout_lib.collect(this)
      if step + 1 < config.steps:
        launched = self.launch(step + 1, policy_of(self.queue[1] if config.off_policy_steps > 1
                                                   else starting), meta["pass_rates"])
      meta["prompt_rates"] = meta["pass_rates"]
    out = rollout_lib.finish(
        this, policy_of(self.state.params), self.reference, vocab=self.vocab, reward=self.reward,
        score=self.score, advantages=self.advantages, max_new=config.max_new,
        baseline=meta["baseline"], abandoned_credit=config.abandoned_credit,
        overlong_buffer=config.overlong_buffer, select=self.select,
        behavior_params=None if self.queue is None else policy_of(self.queue[0]),
        score_policy=self.score_policy, clock=self.clock,
        step_scores=self.learned.step_scores if config.reward_dense else None)
    if self.queue is not None:
      self.queue = self.queue[1:] + [starting]
    return out, list(this.problems), launched

  def update(self, step: int, out: rollout_lib.Rollout, problems) -> dict:
    """The minibatch epochs on the rollout's batch, then the ledger, baseline and pass rates."""
    config, meta = self.config, self.meta
    self.state, metrics = loop.update_on_batch(
        self.train_step, self.state, out.batch, rows=config.rows,
        minibatch_size=config.minibatch_size, epochs=config.epochs, mesh=self.mesh,
        frozen=self.frozen,
        order=lambda e: rng_lib.stream(config.seed, "rl_minibatches", step, e).permutation(
            config.rows))
    self.clock.mark("update", self.state)
    if not self.score_policy:  # the update's forward pass measured the KL from the reference
      metrics.update(rollout_lib.kl_metrics(metrics.pop("kl_start")))
    meta["train_flops"] += step_flops(self.model_cfg, out, score_policy=self.score_policy,
                                      off_policy=bool(config.off_policy_steps),
                                      epochs=config.epochs)
    meta["baseline"] = pg.ema(meta["baseline"], out.rewards, config.baseline_decay)
    if self.learned is not None:  # the reward model scored every sampled row
      meta["train_flops"] += self.learned.flops(out.prompt_lens + out.lengths)
    meta["pass_rates"] = rollout_lib.update_pass_rates(meta["pass_rates"], problems, out.correct)
    return metrics

  def step(self, step: int) -> None:
    """One RL step: the rollout (launching the next one where pipelined), the update, the
    step's record in metrics.jsonl and on the progress line."""
    self.clock.start()
    out, problems, self.launched = self.rollout(step, self.launched)
    metrics = self.update(step, out, problems)
    done = step + 1
    record = {**out.summary(self.task), **metrics, **self.clock.metrics()}
    loop.check_finite(record, done, self.ckpt)
    self.writer.write(done, train_flops=self.meta["train_flops"], algo=self.config.pg.algo,
                      **record)
    self.progress.update(done, tokens=float(out.lengths.sum()), reward=record["reward"],
                         kl=record["kl"], len=record["response_length"])

  def save(self, done: int) -> None:
    carry = (self.state if self.queue is None
             else rollout_lib.stale_carry(self.state, self.queue))
    self.ckpt.save(done, carry, self.meta, force=done == self.config.steps)

  def run(self):
    """Steps from the resumed one to `config.steps`, evaluating and checkpointing; returns the
    trained parameters' policy. The metrics writer stays open for the caller's summary."""
    config = self.config
    self.writer = loop.open_metrics(self.workdir, self.start)
    self.progress = Progress(config.steps, start=self.start, every=config.log_every)
    self.clock = PhaseClock(config.time_phases)
    if self.start == 0:
      self.evaluate(0)
    loop.run_steps(self.step, start=self.start, total=config.steps, ckpt=self.ckpt,
                   save=self.save, evaluate=self.evaluate,
                   evaluate_at=loop.eval_steps(config.steps, config.eval_every,
                                               config.eval_log_points))
    return self.policy_of(self.state.params)


def reward_model(path: str, vocab, *, aggregation: str, seq_len: int
                 ) -> rewards_lib.LearnedReward | rewards_lib.CriticReward | None:
  """The frozen reward model of the run at `path` (`config.reward.model`): a verifier run (its
  kind, ORM or PRM, from its config.json; PRM steps aggregated by `aggregation`, solutions scored
  in windows of `seq_len` tokens) or a critic run (experiments.critic: its config has
  critique_max_new); None for "", the exact verifier's reward."""
  if not path:
    return None
  reward_vocab, _, cfg, graphdef, params, _ = runs_lib.load_sft(path)
  runs_lib.check_same_vocab(vocab, reward_vocab, "config.reward.model", "config.init_from")
  run = runs_lib.read_run_config(path)
  kind = run.get("kind")
  if "critique_max_new" in run:
    return rewards_lib.CriticReward(Model(graphdef, params, cfg, vocab), run["critique_max_new"])
  if kind not in ("orm", "prm"):
    raise ValueError(f"config.reward.model={path!r}: not a reward model run (its config.json "
                     f"has kind={kind!r}; experiments.verifier writes 'orm' or 'prm', "
                     f"experiments.critic a critic)")
  return rewards_lib.LearnedReward(graphdef, params, cfg, vocab, kind, aggregation=aggregation,
                                   seq_len=seq_len)

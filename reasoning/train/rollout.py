"""RL rollouts: the prompts of a step, G samples per prompt from the jitted sampler, their
rewards, and the typed batch the policy-gradient step trains on (reasoning/train/pg.py).

One step of `experiments.rl`: `sample_step_problems` (a pure function of the seed and step),
`launch` (dispatch the generation), `finish` (verify on the host, score under the policy and the
frozen reference, per-algorithm advantages), then minibatch updates on `Rollout.batch`.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from reasoning import mesh as mesh_lib, sampling
from reasoning.logging import PhaseClock
from reasoning.tasks import Problem
from reasoning.tasks import tool_use
from reasoning.tasks.base import RETRY_LINE, retry_count
from reasoning.text import pad_prompts, prompt_length, prompt_width, round_up
from reasoning.train import pg, rewards as rewards_lib


@dataclasses.dataclass(frozen=True)
class Rollout:
  """One step's samples. `batch` holds the PG step's inputs for the rows it trains on (`rows`
  of the sampled ones: all of them unless a `select` kept fewer), each [R, W] aligned with the W
  generated columns of tokens [R, P + W] (the prompt's P columns predict nothing trained on);
  old_logp and old_values when the policy scored the rollout before its update (finish's
  score_policy); behavior_logp when the rollout was sampled by an older policy. The other
  fields describe every sampled row."""
  batch: pg.PGBatch         # per-token arrays over the W generated columns
  rewards: np.ndarray       # [B] float32: the reward optimized
  correct: np.ndarray       # [B] bool: the task's exact verdict (the gold reward)
  completions: list[str]    # [B] generated text
  prompt_lens: np.ndarray   # [B] prompt tokens (BOS included)
  lengths: np.ndarray       # [B] generated tokens, the stop token included
  rows: np.ndarray          # [R] indices of the rows in `batch`
  kl_start: float | None = 0.0  # mean over the trained rows of sum_t log pi/pi_ref (nats per
                                # sequence); None when the policy's scoring is left to the update
  sampling_flops: float | None = None  # tool rollouts: every turn's prefill and decode counted

  def summary(self, task) -> dict[str, float]:
    """What the rollout looked like, for metrics.jsonl (malformed: no answer `task` can read).
    pass_rate is the exact verifier's, whatever reward is optimized; kl_start estimates the
    sequence KL from the reference (the initial policy) on the samples, and kl_distance is its
    square root, the d of Gao et al. 2022's reward-overoptimization laws."""
    c = self.completions
    return {"reward": float(self.rewards.mean()), "pass_rate": float(self.correct.mean()),
            **({} if self.kl_start is None else kl_metrics(self.kl_start)),
            "response_length": float(self.lengths.mean()),
            "malformed": float(np.mean([rewards_lib.stated_answer(task, x) is None
                                        for x in c])),
            "answered_none": float(np.mean([x.endswith("ANSWER: none\n") for x in c])),
            "retries": float(np.mean([retry_count(x) for x in c])),
            "kept": len(self.rows) / len(self.rewards),
            **({"tool_calls": float(np.mean([tool_use.calls_made(x) for x in c]))}
               if hasattr(task, "respond") else {})}


def kl_metrics(kl_start: float) -> dict[str, float]:
  """kl_start (the sequence KL from the initial policy, nats) and its square root kl_distance,
  the d of Gao et al. 2022's reward-overoptimization laws."""
  return {"kl_start": float(kl_start), "kl_distance": float(np.sqrt(max(kl_start, 0.0)))}


def stale_carry(state, queue: list) -> dict:
  """The checkpointed carry of an RL run whose rollouts are sampled k = len(queue) steps stale:
  the train state, the sampler of the next rollout ("behind") and, for k > 1, the newer samplers
  of the rollouts after it, oldest first ("newer")."""
  carry = {"state": state, "behind": queue[0]}
  if len(queue) > 1:
    carry["newer"] = list(queue[1:])
  return carry


def informative_rows(rewards, group: int, groups: int) -> np.ndarray:
  """DAPO's dynamic sampling (Yu et al. 2025) as a row selection: the rows of the first `groups`
  groups (G = `group` consecutive rows each) whose rewards are not all equal; a group that is all
  right or all wrong has zero group-relative advantage and only dilutes the batch. When fewer
  than `groups` are informative the batch is filled with the first uninformative groups (their
  advantages are zero), so its shape is fixed."""
  grouped = np.asarray(rewards).reshape(-1, group)
  if len(grouped) < groups:
    raise ValueError(f"{len(grouped)} groups sampled, {groups} wanted")
  varied = grouped.max(1) > grouped.min(1)
  order = np.concatenate([np.flatnonzero(varied), np.flatnonzero(~varied)])[:groups]
  return (np.sort(order)[:, None] * group + np.arange(group)[None]).reshape(-1)


def training_task(task, train_trap_share: float | None):
  """The task RL samples its prompts from: `task` with `train_trap_share` traps when that is set.
  The held-out problems stay the SFT run's, at the task's own share."""
  if train_trap_share is None:
    return task
  if hasattr(task, "task"):  # a wrapper (tasks.chat.ChatFormat): the share of the task inside
    return dataclasses.replace(task, task=training_task(task.task, train_trap_share))
  return dataclasses.replace(task, trap_share=train_trap_share)


def sample_step_problems(task, rng: np.random.Generator, levels: Sequence[int], count: int,
                         held_out: set[str], pass_rates: dict[str, float] | None = None):
  """`count` problems, none held out, their difficulty uniform over `levels`, or with
  `pass_rates` ({str(difficulty): running pass rate}) weighted by p(1-p) + 0.02: the levels
  where the policy's outcome is most uncertain carry the most signal."""
  if pass_rates is not None:
    w = np.array([pass_rates[str(d)] * (1 - pass_rates[str(d)]) + 0.02 for d in levels])
  else:
    w = np.ones(len(levels))
  chosen = rng.choice(levels, size=count, p=w / w.sum())
  problems = []
  for d in chosen:
    while True:
      [p] = task.sample(rng, 1, int(d))
      if p.prompt not in held_out:
        problems.append(p)
        break
  return problems


def update_pass_rates(pass_rates: dict[str, float], problems: Sequence[Problem], rewards,
                      decay: float = 0.8) -> dict[str, float]:
  """The curriculum's running pass rate per difficulty after a step's rewards."""
  difficulty = np.array([p.difficulty for p in problems])
  out = dict(pass_rates)
  for d in out:
    rows = difficulty == int(d)
    if rows.any():
      out[d] = decay * out[d] + (1 - decay) * float((np.asarray(rewards)[rows] > 0).mean())
  return out


@dataclasses.dataclass(frozen=True)
class Launched:
  """A rollout's generation, dispatched (`launch`) and not yet waited for: `samples` are device
  arrays until `collect` copies them to the host."""
  problems: Sequence[Problem]
  prompts: jax.Array         # [B, P] padded prompts
  prompt_lens: np.ndarray    # [B]
  samples: Any               # sampling.Samples, or tools.ToolSamples for a task with tools


def launch(graphdef, params, problems: Sequence[Problem], key, *, vocab, prompt_len: int,
           max_new: int, temperature: float, group: int = 1, slots: int = 0,
           respond: Callable | None = None) -> Launched:
  """Dispatches the sampling of one completion per entry of `problems` with `params` and returns
  at once (JAX's asynchronous dispatch): the host can verify another batch while this one is
  generated. `group`: the number of consecutive copies of each prompt, prefilled once; `slots`
  > 0: the slot engine at that many slots (sampling.generate). With `respond` (a task's tool
  environment) the completions are generated in turns, the environment answering each call
  (tools.generate, on the host: it returns when they are done)."""
  prompt_lens = np.array([prompt_length(vocab, p.prompt) for p in problems])
  width = prompt_width(prompt_lens, prompt_len)  # wider only for a longer dataset prompt
  prompts = jnp.asarray(pad_prompts(vocab, [p.prompt for p in problems], width))
  if respond is not None:
    from reasoning import tools
    samples = tools.generate(graphdef, params, vocab, [p.prompt for p in problems], key,
                             respond=respond, max_new=max_new, temperature=temperature,
                             prompt_len=width)
    return Launched(problems, prompts, prompt_lens, samples)
  samples = sampling.generate(graphdef, params, prompts, key, max_new=max_new, stop="answer",
                              temperature=temperature, specials=vocab.specials, group=group,
                              slots=slots)
  return Launched(problems, prompts, prompt_lens, samples)


def collect(launched: Launched) -> Launched:
  """Waits for a launched generation and copies its samples to the host."""
  if isinstance(launched.samples, sampling.Samples):  # tool rollouts are on the host already
    return dataclasses.replace(launched, samples=mesh_lib.to_host(launched.samples))
  return launched


def generated_batch(launched: Launched, rows=None, samples=None):
  """(tokens [R, T], mask [R, T-1]) of a launched generation's `rows` (all by default): prompt
  then completion, and 1 on the generated tokens up to and including the stop token, aligned with
  the predicted tokens (tokens[:, 1:]). `samples`: the generation already collected to the host.
  The width is the generated one rounded up to 16, not max_new: columns after the longest row are
  padding every loss masks out (at most max_new/16 shapes compile)."""
  out = samples if samples is not None else collect(launched).samples
  rows = np.arange(len(launched.problems)) if rows is None else rows
  gen_tokens, lengths = out.tokens[rows], out.lengths[rows]
  width_new = min(gen_tokens.shape[1], round_up(max(int(lengths.max()), 1), 16))
  prompts = launched.prompts[rows]
  tokens = jnp.concatenate([prompts, jnp.asarray(gen_tokens[:, :width_new])], 1)
  generated = np.arange(width_new)[None] < lengths[:, None]
  if getattr(out, "env", None) is not None:  # tool output: read by the policy, never trained
    generated = generated & ~out.env[rows, :width_new]
  mask = jnp.concatenate([jnp.zeros_like(prompts), jnp.asarray(generated)], 1)
  return tokens, mask[:, 1:].astype(jnp.float32)


def finish(launched: Launched, params, ref_params, *, vocab,
           reward: Callable, score: Callable,
           advantages: Callable, max_new: int, baseline: float = 0.0,
           abandoned_credit: float = 1.0, overlong_buffer: int = 0,
           select: Callable[[np.ndarray], np.ndarray] | None = None,
           behavior_params=None, score_policy: bool = True,
           step_scores: Callable | None = None,
           clock: PhaseClock | None = None) -> Rollout:
  """Rewards a launched generation's completions with `reward(problems, completions) ->
  (rewards, correct)`: the reward optimized and the exact verifier's verdict (plus
  DAPO's overlong shaping with `overlong_buffer`), keeps the rows `select(rewards)` picks (all
  by default), scores their tokens under the policy and the reference with `score(params,
  tokens, start) -> (logp, values, _)` (pg.sequence_logprobs; start = P - 1: the generated
  columns only) and computes `advantages(rewards, mask, values, logp, ref_logp, baseline)`.
  Without `select` the scoring does not depend on the rewards: it is dispatched first, and the
  host decodes and verifies while the device scores. With abandoned_credit < 1,
  the tokens of attempts abandoned before the last `retry` get that share of the advantage.
  `behavior_params`: the older policy that sampled the completions (an asynchronous sampler k
  steps stale); the batch then carries its log-probs as behavior_logp, for truncated
  importance sampling (pg.truncated_is_weights). `score_policy=False`: the policy's log-probs
  and values are not computed here (pg.scores_before_update: a single on-policy update computes
  them in its own forward pass); the batch then has no old_logp, and kl_start is None.
  `step_scores(problems, completions) -> [[score of each closed line]]` (a PRM's, dense
  rewards): each score is rewarded on the token that ends its line
  (rewards.dense_step_rewards) and `advantages` gets them as step_rewards and step_ends; the
  rollout's `rewards` (and what `select` sees) are then the outcome reward plus the step
  rewards of the row.
  `clock` (logging.PhaseClock): the time spent waiting for the generation, scoring, rewarding
  and computing advantages, each charged to its phase."""
  clock = clock or PhaseClock()
  out = collect(launched).samples
  clock.mark("generate")
  problems, prompts = launched.problems, launched.prompts
  start = prompts.shape[1] - 1  # the position predicting the first generated token

  def scored(rows):
    tokens, mask = generated_batch(launched, rows, samples=out)
    width_new = tokens.shape[1] - prompts.shape[1]
    mask = mask[:, start:]  # the generated columns
    tokens, mask = (mesh_lib.split_like(params, x) for x in (tokens, mask))  # data-parallel
    logp, values, _ = score(params, tokens, start) if score_policy else (None, None, None)
    ref_logp, _, _ = score(ref_params, tokens, start)
    behavior = None if behavior_params is None else score(behavior_params, tokens, start)[0]
    clock.mark("score", logp, ref_logp, behavior)
    return width_new, tokens, mask, logp, values, ref_logp, behavior

  if select is None:  # dispatched before the host work below, which then overlaps it
    rows = np.arange(len(problems))
    pending = scored(rows)
  completions = [vocab.decode(r) for r in out.tokens]
  rewards, correct = reward(problems, completions)
  if overlong_buffer:
    rewards = rewards + rewards_lib.overlong_penalty(out.lengths, max_new, overlong_buffer)
  outcome, dense = rewards, None
  if step_scores is not None:
    dense = rewards_lib.dense_step_rewards(vocab, out.tokens, out.lengths,
                                           step_scores(problems, completions))
    rewards = outcome + dense[0].sum(1)
  clock.mark("reward")
  if select is not None:
    rows = np.asarray(select(rewards))
    pending = scored(rows)
  width_new, tokens, mask, logp, values, ref_logp, behavior = pending
  steps = {}
  if dense is not None:  # onto the predicted-token columns of the batch
    steps = {name: jnp.asarray(x[rows, :width_new])
             for name, x in zip(("step_rewards", "step_ends"), dense)}
  policy_scored = logp is not None
  if not policy_scored:  # the advantages do not read them (pg.scores_before_update)
    logp, values = ref_logp, jnp.zeros_like(ref_logp)
  adv, returns = advantages(jnp.asarray(outcome[rows]), mask, values, logp, ref_logp, baseline,
                            **steps)
  if abandoned_credit != 1.0:
    credit = abandoned_mask(vocab, out.tokens[rows, :width_new], out.lengths[rows])
    credit = np.where(credit, abandoned_credit, 1.0).astype(np.float32)
    adv = adv * jnp.asarray(credit)
  batch = pg.PGBatch(tokens, mask, ref_logp, adv, returns,
                     old_logp=logp if policy_scored else None,
                     old_values=values if policy_scored else None, behavior_logp=behavior)
  kl_start = float(pg.sequence_kl(logp, ref_logp, mask)) if policy_scored else None
  clock.mark("advantages", adv)
  return Rollout(batch, rewards, np.asarray(correct, bool), completions, launched.prompt_lens,
                 out.lengths, rows, kl_start, getattr(out, "flops", None))


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

"""Quiet-STaR (reasoning/train/quiet_star.py) on a task answered directly, against the same model
trained without thoughts for the same FLOPs.

  python -m experiments.quiet_star --config configs/arithmetic_quiet_star.py [--workdir DIR]

1. A base model is trained on the task's direct answers (the prompt, then at once the answer
   line): from scratch on the character vocabulary plus START and END, or, with `init_from` (a
   Hugging Face model directory, or a run on one), that model with two new token ids for START
   and END (`quiet_star.with_meta_tokens`) fine-tuned for `base_steps` steps (0: as it is).
2. For each thought length m of `thought_lens`: Quiet-STaR from the base for `steps` steps
   (thoughts at the answer positions, `thoughts` per text, n_true true tokens scored).
3. The plain arm: the base trained on further direct answers with the same optimizer, evaluated
   every `eval_every` steps, until it has spent the largest arm's FLOPs.
Evaluation on the held-out problems, teacher forced: exact match (every answer token the
argmax: what greedy decoding writes, with a thought sampled before each token for Quiet-STaR)
and the answer's log-likelihood. Each arm is compared with the plain arm's first evaluation at
no fewer FLOPs, paired per problem (difference and its standard error).

Writes config.json, metrics.jsonl (one record per evaluation), summary.json,
plots/quiet_star.png and checkpoints/ (the base model; a rerun skips finished arms).
"""

from __future__ import annotations

import json
import os
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from experiments import cli
from reasoning import (compute, loop, mesh as mesh_lib, model as model_lib, plots, rng as rng_lib,
                       runs as runs_lib)
from reasoning.checkpoint import Checkpointer
from reasoning.tasks.base import answer_line
from reasoning.text import VOCAB, pad_examples
from reasoning.train import quiet_star as qs, sft, state as state_lib


def run(config, workdir: str) -> dict:
  lengths = check_config(config)
  task = runs_lib.make_task(config)
  runs_lib.save_config(config, workdir)
  key = jax.random.key(config.seed)
  vocab, model_cfg, graphdef, params, init_flops, never = base_model(config, key)
  data = direct_data(config, vocab, *problems(config, task))
  mesh = mesh_lib.make_mesh(mesh_lib.MeshConfig())
  ckpt = Checkpointer(f"{workdir}/checkpoints", save_every=1, keep=1)
  meta = {"base_flops": init_flops, "arms": {}}
  params, meta, start = loop.resume(ckpt, params, meta, what="phase")
  writer = loop.open_metrics(workdir, start)
  phases = ["base", *(f"m={m}" for m in lengths), "plain"]
  logged = start  # metrics records so far; a phase's checkpoint is numbered by its last one

  def phase(i: int) -> None:
    nonlocal params, logged
    name, records = phases[i], []
    if name == "base":
      params = train_base(config, graphdef, params, data.examples, vocab, model_cfg, mesh, meta)
      scores = _summary(evaluate_plain(graphdef, params, data.eval_tokens, data.eval_mask),
                        data.difficulty)
      meta["arms"]["base"] = {"flops": meta["base_flops"], **scores}
      records = [{"arm": "base", "train_flops": meta["base_flops"], **scores}]
    elif name == "plain":
      records = plain_phase(config, graphdef, params, model_cfg, data, meta, lengths)
    else:
      records = [thought_phase(config, graphdef, params, model_cfg, data, meta, int(name[2:]),
                               key, never, vocab.pad)]
    for record in records:
      logged += 1
      writer.write(logged, **record)

  loop.run_steps(phase, start=len(meta["arms"]), total=len(phases), ckpt=ckpt,
                 save=lambda _: ckpt.save(logged, params, meta, force=True))
  writer.close()
  return report(config, workdir, compare(meta["arms"], lengths))


class Data(NamedTuple):
  """The direct answers a run trains and evaluates on: the training (prompt, answer) pairs and
  their padded rows, the held-out rows, their thought positions and difficulties, and k, the
  most answer tokens (EOS included) of any row."""
  examples: list[tuple[str, str]]
  train_tokens: np.ndarray
  train_mask: np.ndarray
  eval_tokens: np.ndarray
  eval_mask: np.ndarray
  eval_at: np.ndarray
  k: int
  difficulty: np.ndarray


def direct_data(config, vocab, train, held) -> Data:
  direct = lambda problems: pad_examples(vocab, [p.prompt for p in problems],
                                         [answer_line(p.answer) + "\n" for p in problems],
                                         config.seq_len)
  train_tokens, train_mask = direct(train)
  eval_tokens, eval_mask = direct(held)
  k = int(max(train_mask.sum(1).max(), eval_mask.sum(1).max()))
  return Data([(p.prompt, answer_line(p.answer) + "\n") for p in train], train_tokens,
              train_mask, eval_tokens, eval_mask, qs.thought_positions(eval_mask, k), k,
              np.array([p.difficulty for p in held]))


def thought_phase(config, graphdef, base, model_cfg, data: Data, meta: dict, m: int, key, never,
                  pad) -> dict:
  """The Quiet-STaR arm with thoughts of length m, into meta["arms"]; its metrics record."""
  result = quiet_arm(config, graphdef, base, model_cfg, m, data, key, meta["base_flops"], never,
                     pad)
  scores = _summary(result, data.difficulty)
  meta["arms"][f"m={m}"] = {"flops": result["flops"], **scores,
                            "per_problem": result["exact"].astype(int).tolist()}
  return {"arm": f"m={m}", "train_flops": result["flops"], **scores,
          "mix_weight": result["mix_weight"],
          "own_plain_exact": float(result["own_plain_exact"].mean())}


def plain_phase(config, graphdef, base, model_cfg, data: Data, meta: dict,
                lengths: list[int]) -> list[dict]:
  """The plain arm to the largest Quiet-STaR arm's FLOPs, into meta["arms"]; a metrics record
  per evaluation."""
  target = max(meta["arms"][f"m={m}"]["flops"] for m in lengths)
  points = plain_arm(config, graphdef, base, model_cfg, data, meta["base_flops"], target)
  meta["arms"]["plain"] = [{"flops": f, **_summary(r, data.difficulty),
                            "per_problem": r["exact"].astype(int).tolist()} for f, r in points]
  return [{"arm": "plain", "train_flops": f, **_summary(r, data.difficulty)} for f, r in points]


def problems(config, task):
  """(training problems, held-out problems): `train_problems` per difficulty, none held out."""
  held = runs_lib.held_out_problems(task, config.difficulties, config.eval_problems, config.seed)
  held_out = {p.prompt for p in held}
  train = [p for d in runs_lib.ints(config.difficulties)
           for p in task.sample(rng_lib.stream(config.seed, "train_problems", d),
                                config.train_problems, d)
           if p.prompt not in held_out]
  return train, held


def check_config(config) -> list[int]:
  """The config's checks; returns the thought lengths."""
  runs_lib.check_positive(config, "train_problems", "eval_problems", "seq_len", "batch_size",
                          "n_true", "thoughts", "texts_per_step", "steps", "eval_every")
  if config.base_steps < 0 or (config.base_steps == 0 and not config.init_from):
    raise ValueError(f"base_steps={config.base_steps}: must be >= 0, and >= 1 for a model "
                     f"trained from scratch (no init_from)")
  lengths = runs_lib.ints(config.thought_lens)
  if any(m < 1 for m in lengths):
    raise ValueError(f"thought_lens={tuple(lengths)}: each thought length must be >= 1")
  return lengths


def train_base(config, graphdef, params, examples, vocab, model_cfg, mesh, meta: dict):
  """The base model every arm starts from: `base_steps` of SFT on direct answers (its FLOPs
  added to meta's base_flops); the loaded model itself with none."""
  print(f"base model: {model_lib.count_params(params) / 1e6:.2f}M parameters, "
        f"{len(examples)} direct-answer examples", flush=True)
  if config.base_steps:
    params, flops, _ = sft.finetune(
        graphdef, params, examples, vocab, model_cfg, mesh, optim=dict(config.base_optim),
        steps=config.base_steps, batch_size=config.batch_size, seq_len=config.seq_len,
        seed=config.seed)
    meta["base_flops"] += flops
  return params


def report(config, workdir: str, summary: dict) -> dict:
  """summary.json, plots/quiet_star.png and a line per arm."""
  with open(os.path.join(workdir, "summary.json"), "w") as f:
    json.dump(summary, f, indent=2)
  os.makedirs(os.path.join(workdir, "plots"), exist_ok=True)
  plots.quiet_star(summary, os.path.join(workdir, "plots", "quiet_star.png"),
                   title=f"{config.task.name}, direct answers: Quiet-STaR vs no thoughts at "
                         f"equal FLOPs (seed {config.seed})")
  for row in summary["arms"]:
    print(f"{row['arm']}: exact {100 * row['exact']:.1f}% (plain at >= its FLOPs "
          f"{100 * row['plain_exact']:.1f}%, paired {100 * row['gain']:+.1f} ± "
          f"{100 * row['gain_se']:.1f}), answer log-lik {row['logp']:.3f} (plain "
          f"{row['plain_logp']:.3f})", flush=True)
  return summary

def base_model(config, key):
  """(vocab, model config, graphdef, params, FLOPs already spent, ids a thought never holds) of
  the model the base is trained from, with START and END its last two ids."""
  if not config.init_from:
    vocab, flops = VOCAB, 0.0
    model_cfg = model_lib.ModelConfig(vocab_size=VOCAB.size + 2, **config.model)
    graphdef, params = model_lib.init(model_cfg, jax.random.fold_in(key, 0))
    unused = ()
  else:
    vocab, _, model_cfg, _, params, flops = runs_lib.load_sft(config.init_from)
    init_ids = vocab.encode(config.meta_init)
    if not init_ids:
      raise ValueError(f"meta_init={config.meta_init!r} has no tokens to start START and END at")
    unused = tuple(range(vocab.size, model_cfg.vocab_size))  # rows past the tokenizer's
    model_cfg, graphdef, params = qs.with_meta_tokens(model_cfg, params, init_ids)
  start = model_cfg.vocab_size - 2
  specials = {vocab.pad, vocab.eos} | ({vocab.bos} if vocab.bos is not None else set())
  return (vocab, model_cfg, graphdef, params, flops,
          tuple(sorted(specials)) + unused + (start, start + 1))


def _summary(result: dict, difficulty: np.ndarray) -> dict:
  out = {"exact": float(result["exact"].mean()), "logp": float(result["logp"].mean())}
  for d in sorted(set(difficulty.tolist())):
    out[f"exact/d{d}"] = float(result["exact"][difficulty == d].mean())
  return out


def _plain(graphdef, params, tokens, loss_mask):
  logits = model_lib.apply(graphdef, params, tokens).logits
  logp, mask = sft.token_logprobs(logits, tokens), loss_mask[:, 1:] > 0
  hit = jnp.argmax(logits[:, :-1], -1) == tokens[:, 1:]
  return jnp.where(mask, logp, 0.0).sum(1), jnp.all(hit | ~mask, 1)


def evaluate_plain(graphdef, params, tokens, loss_mask, chunk: int = 500) -> dict:
  """Teacher-forced answer log-likelihood and exact match of the plain model, per problem."""
  score = jax.jit(lambda p, t, m: _plain(graphdef, p, t, m))
  logp, exact = [], []
  for i in range(0, len(tokens), chunk):
    lp, ex = score(params, jnp.asarray(tokens[i:i + chunk]), jnp.asarray(loss_mask[i:i + chunk]))
    logp.append(np.asarray(lp))
    exact.append(np.asarray(ex))
  return {"logp": np.concatenate(logp), "exact": np.concatenate(exact)}


def quiet_arm(config, graphdef, base, model_cfg, m, data: Data, key, base_flops, never,
              pad) -> dict:
  """Quiet-STaR from the base with thoughts of length m; its held-out scores and FLOPs. START
  and END are the model's last two ids."""
  train_tokens, train_mask, k = data.train_tokens, data.train_mask, data.k
  eval_tokens, eval_mask, eval_at = data.eval_tokens, data.eval_mask, data.eval_at
  start = model_cfg.vocab_size - 2
  cfg = qs.QuietConfig(start_id=start, end_id=start + 1, thought_len=m, n_true=config.n_true,
                       thoughts=config.thoughts, temperature=config.temperature,
                       policy_weight=config.policy_weight, never=never, pad_id=pad)
  params = {"model": jax.tree.map(jnp.copy, base),
            "mixer": qs.init_mixer(jax.random.fold_in(key, 1000 + m), model_cfg.d_model)}
  tx = state_lib.optimizer_for(dict(config.optim), config.steps)
  n = train_tokens.shape[1]
  rows = config.texts_per_step * config.thoughts
  # FLOPs of a step: m sampling passes over the growing layout, one training pass over all of it.
  step_flops = (compute.forward_flops(model_cfg, [n + s * k for s in range(1, m + 1)] * rows)
                + compute.train_flops(model_cfg, [n + cfg.blocks * k] * rows))

  def batch_at(step, state):  # thoughts sampled from the parameters being trained
    pick = rng_lib.stream(config.seed, "quiet_star_batches", m, step).choice(
        len(train_tokens), config.texts_per_step, replace=False)
    tokens = jnp.asarray(np.repeat(train_tokens[pick], config.thoughts, axis=0))
    mask = np.repeat(train_mask[pick], config.thoughts, axis=0)
    at = jnp.asarray(qs.thought_positions(mask, k))
    step_key = jax.random.fold_in(jax.random.fold_in(key, 2000 + m), step)
    thoughts = qs.sample_thoughts(graphdef, state.params["model"], tokens, at, step_key, cfg)
    batch = {"tokens": tokens, "loss_mask": jnp.asarray(mask), "at": at, "thoughts": thoughts}
    return batch, step_flops, float(mask.sum())

  state, _, metrics = loop.fine_tune(
      qs.make_train_step(graphdef, tx, cfg), state_lib.create(params, tx), config.steps, batch_at,
      show={"nll": "nll", "w": "mix_weight"}, every=max(1, config.steps // 5))
  params = state.params
  scores: dict[str, list] = {"mixed_logp": [], "mixed_exact": [], "plain_exact": [], "w": []}
  for i in range(0, len(eval_tokens), 250):
    got = qs.answer_scores(graphdef, params, jnp.asarray(eval_tokens[i:i + 250]),
                           jnp.asarray(eval_mask[i:i + 250]), jnp.asarray(eval_at[i:i + 250]),
                           jax.random.fold_in(jax.random.fold_in(key, 3000 + m), i), cfg)
    for name in ("mixed_logp", "mixed_exact", "plain_exact"):
      scores[name].append(np.asarray(got[name]))
  return {"flops": base_flops + config.steps * step_flops,
          "logp": np.concatenate(scores["mixed_logp"]),
          "exact": np.concatenate(scores["mixed_exact"]),
          "own_plain_exact": np.concatenate(scores["plain_exact"]),
          "mix_weight": float(metrics["mix_weight"])}


def plain_arm(config, graphdef, base, model_cfg, data: Data, base_flops,
              target_flops) -> list[tuple[float, dict]]:
  """The base trained on further direct answers until `target_flops`, evaluated every
  `eval_every` steps: [(FLOPs, scores)]."""
  train_tokens, train_mask = data.train_tokens, data.train_mask
  eval_tokens, eval_mask = data.eval_tokens, data.eval_mask
  rows = config.texts_per_step * config.thoughts  # the arms' batch of rows
  step_flops = compute.train_flops(model_cfg, [train_tokens.shape[1]] * rows)
  steps = int(np.ceil((target_flops - base_flops) / step_flops))
  steps = int(np.ceil(steps / config.eval_every) * config.eval_every)
  tx = state_lib.optimizer_for(dict(config.optim), steps)
  state = state_lib.create(jax.tree.map(jnp.copy, base), tx)
  points, flops = [], base_flops
  print(f"plain arm: {steps} steps of {rows} direct answers to {target_flops:.3g} FLOPs",
        flush=True)

  def batch_at(step, _):
    pick = rng_lib.stream(config.seed, "quiet_star_batches", 0, step).choice(
        len(train_tokens), rows, replace=False)
    mask = train_mask[pick]
    return ({"tokens": jnp.asarray(train_tokens[pick]), "loss_mask": jnp.asarray(mask)},
            step_flops, float(mask.sum()))

  def evaluate(done, state):
    nonlocal flops
    flops += step_flops
    if done % config.eval_every == 0:
      points.append((flops, evaluate_plain(graphdef, state.params, eval_tokens, eval_mask)))

  loop.fine_tune(sft.make_train_step(graphdef, tx), state, steps, batch_at, after=evaluate)
  return points


def compare(arms: dict, lengths: list[int]) -> dict:
  """Each Quiet-STaR arm against the plain arm's first evaluation at no fewer FLOPs, paired per
  problem; the plain arm's curve."""
  plain = arms["plain"]
  rows = []
  for m in lengths:
    arm = arms[f"m={m}"]
    match = next((p for p in plain if p["flops"] >= arm["flops"]), plain[-1])
    d = np.array(arm["per_problem"], float) - np.array(match["per_problem"], float)
    rows.append({"arm": f"m={m}", "thought_len": m, "flops": arm["flops"],
                 "exact": arm["exact"], "logp": arm["logp"], "plain_flops": match["flops"],
                 "plain_exact": match["exact"], "plain_logp": match["logp"],
                 "gain": float(d.mean()), "gain_se": float(d.std(ddof=1) / np.sqrt(len(d)))
                 if len(d) > 1 else float("nan"),
                 **{key: v for key, v in arm.items() if key.startswith("exact/")}})
  return {"base": arms["base"], "arms": rows,
          "plain": [{key: v for key, v in p.items() if key != "per_problem"} for p in plain]}


if __name__ == "__main__":
  cli.main(run, "quiet_star")

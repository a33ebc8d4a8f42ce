"""Expert iteration with MCTS: self-play on training problems, the policy learns from the search.

  python -m experiments.expert_iteration --config configs/countdown_expert_iteration.py \
      --config.init_from=SFT_WORKDIR [--config.target=sft] [--config.prm=PRM_WORKDIR]

Per iteration: run the mctx searcher (reasoning/search/mcts.py, AlphaZero-style step commits)
on a fresh draw of training problems with the CURRENT policy; verify each search's final answer
(the outcome z); train the policy towards the search (reasoning/train/expert_iteration.py:
'policy' = cross-entropy to mctx's action_weights over the K candidates plus the value head onto
z, or 'sft' = fine-tune on the verified trajectories); evaluate the raw policy (greedy, no search)
on the held-out problems. Leaf values (`evaluator`): 'outcome' (default; AlphaZero's game rules:
the verifier's verdict at finished solutions, the policy's value head inside), 'value' (value
head only) or 'prm' (the reward model at `prm`). Search at test time never reads the verifier;
here, on training problems, the verifier is the environment.

Writes config.json, metrics.jsonl (one record per iteration), checkpoints/ and
plots/train_scaling.png. A rerun resumes after the last completed iteration.
"""

from __future__ import annotations

import math
import os

import jax
import jax.numpy as jnp
import numpy as np

from experiments import common
from experiments.sft import batch_at, example_lengths
from experiments.star import training_problems
from reasoning import compute, mesh as mesh_lib, plots
from reasoning.checkpoint import Checkpointer
from reasoning.logging import MetricsWriter, Progress, read_metrics
from reasoning.search import mcts
from reasoning.search.base import Model
from reasoning.text import VOCAB, pad_examples, prompt_length, round_up
from reasoning.train import expert_iteration as exit_lib, sft, state as state_lib

TARGETS = ("policy", "sft")
EVALUATORS = ("outcome", "value", "prm")


def search_round(config, policy: Model, evaluator: Model, value, task, problems, key):
  """MCTS on `problems` in chunks: (completions, outcomes [P], trace rows, search FLOPs).
  value: mcts.traced_mcts's evaluator kind ('prm', 'value' or a judge)."""
  completions, traces, flops = [], [], 0.0
  for start in range(0, len(problems), config.mcts_batch):
    part = problems[start:start + config.mcts_batch]
    prompts = [p.prompt for p in part]
    prompts += [prompts[-1]] * (config.mcts_batch - len(part))  # one compiled shape
    result, trace = mcts.traced_mcts(
        policy, evaluator, prompts, jax.random.fold_in(key, start),
        num_candidates=config.num_candidates, num_simulations=config.num_simulations,
        max_moves=config.max_moves, step_tokens=config.step_tokens, value=value,
        policy=config.mcts_policy, commit="step")
    completions += result.completions[:len(part)]
    traces.append(jax.tree.map(lambda x: x[:, :len(part)], trace))
    flops += float(result.flops[:len(part)].sum())
  outcomes = np.array([task.verify(p, c) for p, c in zip(problems, completions)], np.float32)
  # Chunks size their prefixes to their own prompts: left-pad them to one width.
  width = max(t["root_tokens"].shape[-1] for t in traces)
  for t in traces:
    pad = width - t["root_tokens"].shape[-1]
    t["root_tokens"] = np.pad(t["root_tokens"], [(0, 0), (0, 0), (pad, 0)])
  trace = jax.tree.map(lambda *xs: np.concatenate(xs, axis=1), *traces)
  return completions, outcomes, trace, flops


def train_policy_targets(config, graphdef, params, rows, mesh, seed, model_cfg):
  """`epochs` passes of the (pi, z) loss over the trace rows. Returns (params, FLOPs, steps,
  metrics of the last step)."""
  n = len(rows["weights"])
  steps = max(1, math.ceil(config.epochs * n / config.batch_size))
  tx = state_lib.optimizer_for(dict(config.optim), steps)
  state = state_lib.create(jax.tree.map(jnp.copy, params), tx)
  state = jax.device_put(state, mesh_lib.state_shardings(mesh, state))
  step_fn = _policy_step(graphdef, tx, config.value_coef)
  k, t = rows["cands"].shape[1:]
  flops, metrics = 0.0, {}
  progress = Progress(steps, every=max(1, steps // 4))
  for step in range(steps):
    epoch, at = divmod(step * config.batch_size, n)
    order = np.random.default_rng([seed, epoch]).permutation(n)
    idx = order[np.arange(at, at + config.batch_size) % n]
    batch = exit_lib.trim_prefix({key: value[idx] for key, value in rows.items()})
    state, metrics = step_fn(state, mesh_lib.shard_batch(mesh, batch))
    lengths = ((batch["prefix"] != 0).sum(1)[:, None] + batch["cand_len"]).reshape(-1)
    flops += compute.train_flops(model_cfg, lengths)
    progress.update(step + 1, tokens=float(lengths.sum()))
  metrics = {key: float(v) for key, v in jax.device_get(metrics).items()}
  return state.params, flops, steps, metrics


def train_sft_targets(config, graphdef, params, examples, mesh, seed, model_cfg):
  """SFT of the current policy on the verified (prompt, completion) search trajectories."""
  steps = max(1, math.ceil(config.epochs * len(examples) / config.batch_size))
  tx = state_lib.optimizer_for(dict(config.optim), steps)
  state = state_lib.create(jax.tree.map(jnp.copy, params), tx)
  state = jax.device_put(state, mesh_lib.state_shardings(mesh, state))
  train_step = sft.make_train_step(graphdef, tx)
  pools = [pad_examples(VOCAB, [p for p, _ in examples], [c for _, c in examples],
                        model_cfg.max_len)]
  flops, metrics = 0.0, {}
  for step in range(steps):
    host_batch = batch_at(step, seed, pools, config.batch_size)
    state, metrics = train_step(state, mesh_lib.shard_batch(mesh, host_batch))
    flops += compute.train_flops(model_cfg, example_lengths(host_batch))
  metrics = {key: float(v) for key, v in jax.device_get(metrics).items()}
  return state.params, flops, steps, metrics


def _policy_step(graphdef, tx, value_coef):
  return state_lib.make_step(
      lambda params, batch: exit_lib.search_policy_loss(graphdef, params, batch, value_coef), tx)


def run(config, workdir: str) -> dict:
  if config.target not in TARGETS:
    raise ValueError(f"config.target must be one of {TARGETS}, got {config.target!r}")
  common.save_config(config, workdir)
  sft_config, model_cfg, graphdef, sft_params, sft_flops = common.load_sft(config.init_from)
  if config.evaluator not in EVALUATORS or (config.evaluator == "prm") != bool(config.prm):
    raise ValueError(f"config.evaluator must be one of {EVALUATORS}, with config.prm (a reward "
                     f"model workdir) iff 'prm'; got {config.evaluator!r}, prm={config.prm!r}")
  task = common.make_task(config)
  eval_problems = common.held_out_problems(task, config.eval_difficulties, config.eval_problems,
                                           sft_config["seed"])
  problems = training_problems(config, task, {p.prompt for p in eval_problems})
  evaluator, value = None, config.evaluator
  if config.evaluator == "prm":
    _, prm_cfg, prm_graphdef, prm_params, _ = common.load_sft(config.prm)
    evaluator = Model(prm_graphdef, prm_params, prm_cfg)
  elif config.evaluator == "outcome":
    value = exit_lib.make_judge(task, problems)
  prompt_len = round_up(max(prompt_length(VOCAB, p.prompt) for p in problems + eval_problems), 8)
  key = jax.random.key(config.seed)
  mesh = mesh_lib.make_mesh(mesh_lib.MeshConfig(**config.mesh))
  print(f"expert iteration ({config.target} targets) on {len(problems)} training problems, "
        f"{config.problems_per_iteration} per iteration, MCTS {config.num_simulations} "
        f"simulations x K={config.num_candidates}, evaluator {config.evaluator}", flush=True)

  ckpt = Checkpointer(os.path.join(workdir, "checkpoints"), save_every=1,
                      keep=config.keep_checkpoints)
  params, meta, start = common.resume_iterations(ckpt, sft_params, {"train_flops": sft_flops})
  writer = MetricsWriter(os.path.join(workdir, "metrics.jsonl"), resume_step=start)

  def do_eval(iteration, params, **extra):
    common.evaluate_iteration(writer, iteration, meta["train_flops"], graphdef, params, task,
                              eval_problems, key, prompt_len=prompt_len,
                              max_new=config.max_new, **extra)

  if start == 0:
    do_eval(0, sft_params)
  try:
    for it in range(start + 1, config.iterations + 1):
      it_key = jax.random.fold_in(key, it)
      pick = np.random.default_rng([config.seed, 9, it]).choice(
          len(problems), size=min(config.problems_per_iteration, len(problems)), replace=False)
      batch_problems = [problems[i] for i in pick]
      policy = Model(graphdef, params, model_cfg)
      completions, outcomes, trace, search_flops = search_round(
          config, policy, evaluator or policy, value, task, batch_problems, it_key)
      print(f"iteration {it}: search solved {outcomes.mean():.1%} of {len(batch_problems)}",
            flush=True)
      if config.target == "policy":
        rows = exit_lib.policy_examples(trace, outcomes)
        params, train_flops, steps, metrics = train_policy_targets(
            config, graphdef, params, rows, mesh, config.seed * 1000 + it, model_cfg)
        n_examples = len(rows["weights"])
      else:
        examples = [(p.prompt, c) for p, c, z in zip(batch_problems, completions, outcomes) if z]
        n_examples = len(examples)
        steps, train_flops, metrics = 0, 0.0, {}
        if examples:
          params, train_flops, steps, metrics = train_sft_targets(
              config, graphdef, params, examples, mesh, config.seed * 1000 + it, model_cfg)
      meta["train_flops"] += search_flops + train_flops
      do_eval(it, params, search_solved=float(outcomes.mean()), examples=n_examples,
              train_steps=steps, search_flops=search_flops, update_flops=train_flops,
              **{f"train/{k}": v for k, v in metrics.items()})
      ckpt.save(it, params, meta, force=True)
  finally:
    ckpt.close()

  records = read_metrics(writer.path)
  os.makedirs(os.path.join(workdir, "plots"), exist_ok=True)
  plot_path = os.path.join(workdir, "plots", "train_scaling.png")
  sft_records = read_metrics(os.path.join(config.init_from, "metrics.jsonl"))
  label = f"expert iteration ({config.target})"
  plots.train_scaling({label: sft_records + records}, plot_path,
                      keys=[f"greedy/d{d}" for d in common.difficulties(config.eval_difficulties)],
                      title=f"{config.task.name}: SFT then {label}, raw policy")
  print(f"wrote {plot_path}", flush=True)
  return {"params": params, "metrics": records[-1]}


if __name__ == "__main__":
  common.main(run, "expert_iteration")

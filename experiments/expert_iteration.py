"""Expert iteration with MCTS: self-play on training problems, the policy learns from the search.

  python -m experiments.expert_iteration --config configs/countdown_expert_iteration.py \
      --config.init_from=SFT_WORKDIR [--config.target=sft] [--config.prm=PRM_WORKDIR]

Per iteration: run the mctx searcher (reasoning/search/mcts.py, AlphaZero-style step commits)
on a fresh draw of training problems with the CURRENT policy; verify each search's final answer
(the outcome z); train the policy towards the search (reasoning/train/expert_iteration.py:
'policy' = cross-entropy to mctx's action_weights over the K candidates plus the value head onto
z, or 'sft' = fine-tune on the verified trajectories); evaluate the raw policy (greedy, no search)
on the held-out problems. Leaf values (`evaluator`): 'outcome' (AlphaZero's game rules: the
verifier's verdict at finished solutions, the policy's value head inside), 'value' (value head
only) or 'prm' (the reward model at `prm`). Search at test time never reads the verifier; here,
on training problems, the verifier is the environment.

Writes config.json, metrics.jsonl (one record per iteration), TensorBoard events, checkpoints/
and plots/train_scaling.png. A rerun resumes after the last completed iteration.
"""

from __future__ import annotations

import math

import jax
import numpy as np

from experiments import cli
from reasoning import loop, mesh as mesh_lib, rng as rng_lib, runs as runs_lib
from reasoning.checkpoint import Checkpointer
from reasoning.logging import read_metrics
from reasoning.search import mcts
from reasoning.model import Model
from reasoning.text import prompt_length, round_up
from reasoning.train import expert_iteration as exit_lib, sft, star

TARGETS = ("policy", "sft")
EVALUATORS = ("outcome", "value", "prm")


def run(config, workdir: str) -> dict:
  check_config(config)
  vocab, sft_config, model_cfg, graphdef, sft_params, sft_flops = runs_lib.load_sft(
      config.init_from)
  task = runs_lib.make_task(config)
  runs_lib.save_config(config, workdir)
  eval_problems = runs_lib.evaluation_set(task, config.init_from, config.eval_difficulties,
                                          config.eval_problems)
  problems = star.training_problems(task, config.seed, runs_lib.ints(
      config.train_difficulties), config.train_problems, {p.prompt for p in eval_problems})
  evaluator, value = search_evaluator(config, task, problems, vocab)
  prompt_len = round_up(max(prompt_length(vocab, p.prompt) for p in problems + eval_problems), 8)
  key = jax.random.key(config.seed)
  mesh = mesh_lib.make_mesh(mesh_lib.MeshConfig(**config.mesh))
  print(f"expert iteration ({config.target} targets) on {len(problems)} training problems, "
        f"{config.problems_per_iteration} per iteration, MCTS {config.num_simulations} "
        f"simulations x K={config.num_candidates}, evaluator {config.evaluator}", flush=True)
  ckpt = Checkpointer(f"{workdir}/checkpoints", save_every=1, keep=config.keep_checkpoints)
  params, meta, start = loop.resume(ckpt, sft_params, {"train_flops": sft_flops},
                                    what="iteration")
  writer = loop.open_metrics(workdir, start)

  do_eval = loop.evaluator(writer, graphdef, vocab, task, eval_problems, key,
                           prompt_len=prompt_len, max_new=config.max_new, meta=meta)

  if start == 0:
    do_eval(0, sft_params)

  def iteration(i):
    nonlocal params
    it = i + 1
    pick = rng_lib.stream(config.seed, "exit_problems", it).choice(
        len(problems), size=min(config.problems_per_iteration, len(problems)), replace=False)
    batch_problems = [problems[j] for j in pick]
    completions, trace, search_flops = search(config, Model(graphdef, params, model_cfg, vocab),
                                              evaluator, value, batch_problems,
                                              jax.random.fold_in(key, it))
    outcomes = np.array([task.verify(p, c) for p, c in zip(batch_problems, completions)],
                        np.float32)
    print(f"iteration {it}: search solved {outcomes.mean():.1%} of {len(batch_problems)}",
          flush=True)
    params, train_flops, steps, metrics, n_examples = learn_from_search(
        config, graphdef, params, vocab, model_cfg, mesh, batch_problems, completions, trace,
        outcomes, seed=config.seed * 1000 + it)
    meta["train_flops"] += search_flops + train_flops
    do_eval(it, params, search_solved=float(outcomes.mean()), examples=n_examples,
            train_steps=steps, search_flops=search_flops, update_flops=train_flops,
            **{f"train/{k}": v for k, v in metrics.items()})

  loop.run_steps(iteration, start=start, total=config.iterations, ckpt=ckpt,
                 save=lambda done: ckpt.save(done, params, meta, force=True))
  writer.close()
  records = read_metrics(writer.path)
  label = f"expert iteration ({config.target})"
  loop.plot_train_scaling(workdir, label, records, config.init_from,
                          runs_lib.ints(config.eval_difficulties),
                          title=f"{config.task.name}: SFT then {label}, raw policy",
                          problems=config.eval_problems)
  return {"params": params, "metrics": records[-1]}


def check_config(config) -> None:
  if config.target not in TARGETS:
    raise ValueError(f"config.target must be one of {TARGETS}, got {config.target!r}")
  if config.evaluator not in EVALUATORS or (config.evaluator == "prm") != bool(config.prm):
    raise ValueError(f"config.evaluator must be one of {EVALUATORS}, with config.prm (a reward "
                     f"model workdir) iff 'prm'; got {config.evaluator!r}, prm={config.prm!r}")
  runs_lib.check_positive(config, "iterations", "problems_per_iteration", "mcts_batch",
                          "batch_size", "keep_checkpoints")


def search(config, policy: Model, evaluator, value, problems, key):
  """MCTS from every problem, committing a step at a time: (completions, trace, FLOPs)."""
  return mcts.traced_mcts_chunks(
      policy, evaluator or policy, [p.prompt for p in problems], key, batch=config.mcts_batch,
      num_candidates=config.num_candidates, num_simulations=config.num_simulations,
      max_moves=config.max_moves, step_tokens=config.step_tokens, value=value,
      policy=config.mcts_policy, commit="step")


def search_evaluator(config, task, problems, vocab):
  """(evaluator model, value) of the MCTS: the PRM run at `config.prm`, the exact outcome judge
  of the training problems, or the policy's own value head (evaluator None)."""
  if config.evaluator == "prm":
    prm_vocab, _, prm_cfg, prm_graphdef, prm_params, _ = runs_lib.load_sft(config.prm)
    return Model(prm_graphdef, prm_params, prm_cfg, prm_vocab), config.evaluator
  if config.evaluator == "outcome":
    return None, exit_lib.make_judge(task, problems, vocab)
  return None, config.evaluator


def learn_from_search(config, graphdef, params, vocab, model_cfg, mesh, problems, completions,
                      trace, outcomes, *, seed: int):
  """The update on an iteration's searches: with target 'policy', the visit distributions and
  outcomes (AlphaZero's targets, exit_lib.train_on_search); with 'sft', SFT on the verified
  completions. (params, FLOPs, steps, last metrics, examples)."""
  if config.target == "policy":
    rows = exit_lib.policy_examples(trace, outcomes)
    params, train_flops, steps, metrics = exit_lib.train_on_search(
        graphdef, params, rows, model_cfg, mesh, optim=dict(config.optim),
        epochs=config.epochs, batch_size=config.batch_size, value_coef=config.value_coef,
        seed=seed)
    return params, train_flops, steps, metrics, len(rows["weights"])
  examples = [(p.prompt, c) for p, c, z in zip(problems, completions, outcomes) if z]
  steps, train_flops, metrics = 0, 0.0, {}
  if examples:
    steps = max(1, math.ceil(config.epochs * len(examples) / config.batch_size))
    params, train_flops, metrics = sft.finetune(
        graphdef, params, examples, vocab, model_cfg, mesh, optim=dict(config.optim),
        steps=steps, batch_size=config.batch_size, seq_len=model_cfg.max_len, seed=seed)
  return params, train_flops, steps, metrics, len(examples)


if __name__ == "__main__":
  cli.main(run, "expert_iteration")

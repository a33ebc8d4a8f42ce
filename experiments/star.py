"""STaR: bootstrapped rationales with rationalization, from an SFT checkpoint.

  python -m experiments.star --config configs/countdown_star.py --config.init_from=SFT_WORKDIR \
      [--config.rationalize=False] [--workdir DIR]

Per iteration (reasoning/train/star.py): sample rationales for the training problems with the
current policy, keep the verified ones, rationalize the failures with a hint, and fine-tune the
ORIGINAL SFT parameters on the union; then evaluate the new policy (greedy pass@1, no hint) on
the held-out problems. The problems are one fixed set, as in the paper, or (`fresh_problems`) a
new draw every iteration after the first; with `accumulate` the fine-tune set is the union of
every iteration's examples. Iteration 0 is the SFT checkpoint itself. The compute axis counts
everything: SFT, every round's sampling (hinted rows included) and every fine-tune.

Writes config.json, metrics.jsonl (one record per iteration), TensorBoard events, checkpoints/
(one per iteration) and plots/train_scaling.png. A rerun resumes after the last completed
iteration: each iteration's data is a function of the previous iteration's parameters and keys.
"""

from __future__ import annotations


import jax

from experiments import cli, common
from reasoning import compute, evaluation, loop, mesh as mesh_lib, rng as rng_lib, runs as runs_lib
from reasoning.checkpoint import Checkpointer
from reasoning.logging import read_metrics
from reasoning.text import prompt_length, round_up
from reasoning.train import star


def run(config, workdir: str) -> dict:
  runs_lib.check_positive(config, "iterations", "train_problems", "samples", "max_new",
                          "finetune.batch_size", "keep_checkpoints")
  vocab, sft_config, model_cfg, graphdef, base_params, sft_flops = runs_lib.load_sft(
      config.init_from)
  task = runs_lib.make_task(config)
  runs_lib.save_config(config, workdir)
  eval_problems = runs_lib.evaluation_set(task, config.init_from, config.eval_difficulties,
                                          config.eval_problems)
  held_out = {p.prompt for p in eval_problems}
  levels = runs_lib.ints(config.train_difficulties)
  problems = star.training_problems(task, config.seed, levels, config.train_problems, held_out)
  # Prompt shapes: one for plain prompts, one for hinted ones (a few compilations in all).
  prompt_len = round_up(max(prompt_length(vocab, p.prompt) for p in problems + eval_problems), 8)
  key = jax.random.key(config.seed)
  mesh = mesh_lib.make_mesh(mesh_lib.MeshConfig(**config.mesh))
  print(f"STaR on {len(problems)} training problems, {config.iterations} iterations, "
        f"rationalization {'on' if config.rationalize else 'off'}", flush=True)
  ckpt = Checkpointer(f"{workdir}/checkpoints", save_every=1, keep=config.keep_checkpoints)
  meta: dict = {"train_flops": sft_flops, "base_unsolved": None, "rescued": [], "examples": []}
  params, meta, start = loop.resume(ckpt, base_params, meta, what="iteration")
  writer = loop.open_metrics(workdir, start)
  do_eval = loop.evaluator(writer, graphdef, vocab, task, eval_problems, key,
                           prompt_len=prompt_len, max_new=config.max_new, meta=meta)
  if start == 0:
    do_eval(0, base_params)

  def iteration(i):
    nonlocal params
    it = i + 1
    round_key = jax.random.fold_in(key, it)
    complete = sampler(graphdef, params, vocab, round_key, prompt_len=prompt_len,
                       max_new=config.max_new, temperature=config.temperature)
    got, stats = collect_round(config, task, problems, held_out, levels, it, complete, meta,
                               vocab)
    gen_flops = compute.generation_flops(model_cfg, got.prompt_tokens, got.new_tokens)
    print(f"iteration {it}: {got.solved.sum()} solved, {got.rationalized.sum()} rationalized, "
          f"{len(got.examples)} examples", flush=True)
    params, ft_flops, steps, loss = finetune_round(config, graphdef, base_params, got.examples,
                                                   vocab, model_cfg, mesh, it, len(problems))
    meta["train_flops"] += gen_flops + ft_flops
    rescued = [problems[j] for j in meta["rescued"]]
    do_eval(it, params, examples=len(got.examples), finetune_steps=steps, finetune_loss=loss,
            generation_flops=gen_flops, finetune_flops=ft_flops, **stats,
            **rescued_now(task, graphdef, params, vocab, rescued, round_key,
                          prompt_len=prompt_len, max_new=config.max_new))

  loop.run_steps(iteration, start=start, total=config.iterations, ckpt=ckpt,
                 save=lambda done: ckpt.save(done, params, meta, force=True))
  writer.close()
  records = read_metrics(writer.path)
  label = "STaR" + ("" if config.rationalize else " (no rationalization)")
  loop.plot_train_scaling(workdir, label, records, config.init_from,
                          runs_lib.ints(config.eval_difficulties),
                          title=f"{config.task.name}: SFT then {label}",
                          problems=config.eval_problems)
  return {"params": params, "metrics": records[-1]}


def finetune_round(config, graphdef, base_params, examples, vocab, model_cfg, mesh, it: int,
                   problems: int):
  """(params, FLOPs, steps, loss) of iteration `it`'s fine-tune of the base policy on its
  rationales (STaR restarts from the base each time); the base itself when there are none."""
  if not examples:  # nothing to learn from: the next round samples the base policy again
    print(f"warning: STaR iteration {it}: no verified rationale among {problems} "
          "problems; the policy cannot bootstrap (train the SFT longer?)", flush=True)
    return base_params, 0.0, 0, float("nan")
  params, flops, steps, metrics = common.finetune(config, graphdef, base_params, examples, vocab,
                                                  model_cfg, mesh, config.seed * 1000 + it)
  return params, flops, steps, metrics["loss"]


def sampler(graphdef, params, vocab, key, *, prompt_len: int, max_new: int, temperature: float):
  """complete(prompts) -> (texts, lengths) by the policy `params` at `temperature`. Hinted
  prompts and a fresh draw's longer prompts get a wider shape (rare compilations)."""
  def complete(prompts):
    length = prompt_len + 24 if any("\nhint " in p for p in prompts) else prompt_len
    length = max(length, round_up(max(prompt_length(vocab, p) for p in prompts), 8))
    return evaluation.complete(graphdef, params, vocab, prompts, key, prompt_len=length,
                               max_new=max_new, temperature=temperature)
  return complete


def collect_round(config, task, problems, held_out, levels, it: int, complete, meta: dict,
                  vocab):
  """Iteration `it`'s verified rationales (star.collect) on the fixed problems or a fresh draw,
  trap-balanced and accumulated over iterations as the config says: (collected, stats)."""
  round_problems = (star.training_problems(task, config.seed, levels, config.train_problems,
                                           held_out, it)
                    if config.fresh_problems and it > 1 else problems)
  got = star.collect(complete, task, round_problems, samples=config.samples,
                     rationalize=config.rationalize,
                     rationalize_samples=config.rationalize_samples,
                     rng=rng_lib.stream(config.seed, "rationalization", it),
                     vocab_len=lambda prompt: prompt_length(vocab, prompt))
  stats = star.track_rescued(meta, got, round_problems is problems)
  if config.balance_traps:
    got.examples = star.balance_traps(got.examples, {p.prompt: p for p in round_problems},
                                      config.task.trap_share,
                                      rng_lib.stream(config.seed, "trap_balance", it))
  if config.accumulate:  # the union over iterations; a problem's newest rationale wins
    got.examples = star.accumulate(meta, got.examples)
  return got, stats


def rescued_now(task, graphdef, params, vocab, rescued, key, *, prompt_len: int,
                max_new: int) -> dict:
  """Of the rescued problems (never solved by the SFT policy, then rationalized), how many this
  iterate now solves greedily with no hint: what rationalization taught it."""
  texts = (evaluation.complete(graphdef, params, vocab, [p.prompt for p in rescued], key,
                               prompt_len=prompt_len, max_new=max_new, temperature=0.0)[0]
           if rescued else [])
  verdicts = [task.verify(p, c) for p, c in zip(rescued, texts)]
  return {"rescued_traps": sum(p.is_trap for p in rescued),
          "rescued_now_solved": int(sum(verdicts)),
          "rescued_solvable_now_solved": int(sum(v for p, v in zip(rescued, verdicts)
                                                 if not p.is_trap))}


if __name__ == "__main__":
  cli.main(run, "star")

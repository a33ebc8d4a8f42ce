"""A critic that names a solution's first wrong step and why, fine-tuned from an SFT policy.

  python -m experiments.critic --config configs/countdown_critic.py --config.init_from=SFT_WORKDIR \
      [--config.prm=PRM_WORKDIR] [--workdir DIR]

1. The policy samples `samples` solutions per training problem; the task's step oracle writes the
   critique of each well-formed one (reasoning/train/critic.py): `step 2 is wrong: 6 is not in
   24 5` / `ANSWER: 2`, or `all steps are right` / `ANSWER: none`. Every wrong solution is kept,
   right ones up to `right_share` of the set; `synthetic_problems` adds synthetic flawed
   solutions (countdown_traces.flawed_solution) at fresh problems.
2. A copy of the policy is fine-tuned on (problem + solution + `check`, critique) with the SFT
   loss: the critic.
3. On the held-out problems the policy samples `eval_samples` solutions per problem (the
   `policy` set) and `eval_flawed` synthetic flawed ones are written per problem (the `flawed`
   set); the critic critiques each greedily. Scored against the oracle's first wrong step: accuracy over all
   solutions, `wrong_named` (the wrong ones whose first wrong step it names), `right_passed`,
   the reason line's exact match; beside it, the verdicts of naming the last step (a baseline),
   and with `prm` the PRM's lowest-scored step and its first step below `prm_threshold`; the
   critic against each, paired per solution.

Writes config.json, metrics.jsonl (the fine-tune's record, then the evaluation's),
critiques.jsonl (every held-out critique with the oracle's) and checkpoints/ (the critic). A
rerun after the fine-tune only evaluates again.
"""

from __future__ import annotations

import json
import os

import jax
import numpy as np

from experiments import cli, common
from reasoning import (compute, critique as critique_lib, evaluation, loop, mesh as mesh_lib,
                       rng as rng_lib, runs as runs_lib)
from reasoning.model import Model
from reasoning.tasks import countdown_traces
from reasoning.tasks.base import has_step_oracle
from reasoning.text import prompt_length, round_up
from reasoning.train import critic, star, verifier_data
from reasoning.scoring import score_completions


def run(config, workdir: str) -> dict:
  task = runs_lib.make_task(config)
  check_config(config, task)
  vocab, sft_config, model_cfg, graphdef, policy, sft_flops = runs_lib.load_sft(
      config.init_from)
  runs_lib.save_config(config, workdir)
  eval_problems = runs_lib.evaluation_set(task, config.init_from, config.eval_difficulties,
                                          config.eval_problems)
  held_out = {p.prompt for p in eval_problems}
  levels = runs_lib.ints(config.train_difficulties)
  data_key, eval_key, critic_key = jax.random.split(jax.random.key(config.seed), 3)
  mesh = mesh_lib.make_mesh(mesh_lib.MeshConfig(**config.mesh))
  prompt_len = round_up(max(prompt_length(vocab, p.prompt) for p in eval_problems) + 4, 8)

  def solutions(params, problems, n, key):
    """n sampled solutions per problem, problem-major, and their generation FLOPs."""
    repeated = [p for p in problems for _ in range(n)]
    texts, lengths = evaluation.complete(
        graphdef, params, vocab, [p.prompt for p in repeated], key, prompt_len=prompt_len,
        max_new=config.max_new, temperature=config.temperature, slots=config.slots)
    prompt_lens = [prompt_length(vocab, p.prompt) for p in repeated]
    return repeated, texts, compute.generation_flops(model_cfg, prompt_lens, lengths)

  def make_examples():
    problems = star.training_problems(task, config.seed, levels, config.train_problems, held_out)
    repeated, texts, gen_flops = solutions(policy, problems, config.samples, data_key)
    if config.synthetic_problems:  # flawed solutions at fresh problems, no sampling
      more, flawed_texts = verifier_data.synthetic_solutions(
          task, config.seed, levels, config.synthetic_problems, config.synthetic_per_problem,
          held_out)
      repeated, texts = repeated + more, texts + flawed_texts
    examples = critic.examples(task, repeated, texts, right_share=config.right_share,
                               rng=rng_lib.stream(config.seed, "critic_right"))
    fitting = [(p, c) for p, c in examples if prompt_length(vocab, p + c) + 1 <= config.seq_len]
    dropped, examples = len(examples) - len(fitting), fitting
    if not examples:
      raise ValueError(f"{config.init_from}: none of the policy's {len(texts)} solutions gives a "
                       f"critic example (well formed, within seq_len={config.seq_len}); add "
                       f"synthetic_problems")
    wrong = sum(not c.startswith(critique_lib.ALL_RIGHT) for _, c in examples)
    print(f"critic data: {len(texts)} solutions, {len(examples)} critiques ({wrong} of wrong "
          f"solutions; {dropped} longer than seq_len={config.seq_len} dropped)", flush=True)
    return examples, gen_flops, {"dropped": dropped, "wrong_examples": wrong}

  params, meta = common.finetune_once(config, workdir, graphdef, policy, vocab, model_cfg, mesh,
                                      sft_flops, make_examples)
  record = evaluate(config, task, eval_problems, solutions, policy,
                    Model(graphdef, params, model_cfg, vocab), eval_key, critic_key, workdir)
  writer = loop.open_metrics(workdir, 1)
  writer.write(2, train_flops=meta["train_flops"], **record)
  writer.close()
  return {"params": params, "metrics": record}


def check_config(config, task) -> None:
  runs_lib.check_positive(config, "train_problems", "samples", "eval_problems", "eval_samples",
                          "max_new", "critique_max_new", "seq_len", "finetune.batch_size")
  if not 0.0 < config.right_share < 1.0:
    raise ValueError(f"right_share={config.right_share}: the share of right solutions among the "
                     f"critiques must be in (0, 1)")
  for field, value in (("synthetic_problems", config.synthetic_problems),
                       ("eval_flawed", config.eval_flawed)):
    if value:
      countdown_traces.require_countdown(task, f"{field}={value}",
                                         "flawed_solution to make synthetic solutions with")
  if not has_step_oracle(task):
    raise ValueError(f"task {config.task.name}: the critic's critiques come from a step oracle, "
                     f"which this task has not")


def evaluate(config, task, eval_problems, solutions, policy, critic_model, key, critic_key,
             workdir: str) -> dict:
  """The critic's verdicts, and the baselines', on the policy's held-out solutions and on
  `eval_flawed` synthetic flawed solutions per held-out problem."""
  repeated, texts, _ = solutions(policy, eval_problems, config.eval_samples, key)
  sets = {"policy": (repeated, texts)}
  if config.eval_flawed:
    sets["flawed"] = verifier_data.flawed_completions(
        eval_problems, config.eval_flawed, rng_lib.stream(config.seed, "critic_flawed"))
  prm = runs_lib.load_sft(config.prm) if config.prm else None
  record, rows = {}, []
  for name, (problems, texts) in sets.items():
    judged_set = judge_set(config, task, problems, texts, critic_model, critic_key, prm)
    if judged_set is None:
      print(f"warning: none of the {len(texts)} {name} solutions is well formed (an answer "
            f"line last) within the critic's context: nothing to critique", flush=True)
      continue
    got, judged = judged_set
    record.update({f"{name}/{k}": v for k, v in got.items()})
    rows += [dict(r, set=name) for r in judged]
  if not record:
    raise ValueError(f"{config.init_from}: no well-formed held-out solution to critique "
                     f"(set eval_flawed > 0 for synthetic ones)")
  with open(os.path.join(workdir, "critiques.jsonl"), "w") as f:
    f.writelines(json.dumps(r) + "\n" for r in rows)
  return record


def judge_set(config, task, problems, texts, critic_model, key, prm):
  """One solution set's scores ({verdict source}/{score}) and its critiques, one row each; None
  when no solution can be judged."""
  spent = []

  def generate(prompts):
    written, flops = critique_lib.write(critic_model, prompts, key, max_new=config.critique_max_new,
                                  slots=config.slots)
    spent.append(flops.sum())
    return written

  total = len(texts)
  kept, written, verdicts, truth = critic.judge(
      generate, task, problems, texts,
      lambda prompt: critique_lib.fits(critic_model, prompt, config.critique_max_new))
  if not kept:
    return None
  problems, texts = [problems[i] for i in kept], [texts[i] for i in kept]
  oracle = [critique_lib.critique(task, p, c) for p, c in zip(problems, texts)]
  verdict_sets = {"critic": verdicts,
                  "last_step": [len(critique_lib.solution_lines(c)) for c in texts]}
  record = {"solutions": len(kept), "not_judged": total - len(kept),
            "with_wrong_step": sum(t is not None for t in truth)}
  if prm is not None:
    record["prm/flops_per_solution"] = prm_verdicts(prm, problems, texts, config.prm_threshold,
                                                    verdict_sets)
  difficulty = [p.difficulty for p in problems]
  for name, predicted in verdict_sets.items():
    scores = critic.score_verdicts(truth, predicted, difficulty)
    record.update({f"{name}/{k}": v for k, v in scores.items()})
  hits = {name: np.array([t == v for t, v in zip(truth, predicted)], float)
          for name, predicted in verdict_sets.items()}
  for name in hits:  # the critic against each baseline on the same solutions, paired
    if name != "critic":
      d = hits["critic"] - hits[name]
      record[f"critic_minus_{name}"] = float(d.mean())
      record[f"se/critic_minus_{name}"] = (float(d.std(ddof=1) / np.sqrt(len(d))) if len(d) > 1
                                           else float("nan"))
  wrong = [i for i, t in enumerate(truth) if t is not None]
  record["critic/reason_exact"] = (float(np.mean([written[i] == oracle[i] for i in wrong]))
                                   if wrong else float("nan"))
  record["critic/flops_per_solution"] = sum(spent) / len(kept)
  print(f"{len(kept)} solutions ({len(wrong)} with a wrong step; {total - len(kept)} malformed "
        f"or too long, not judged); verdicts, % (SE):")
  print_scores(record, list(verdict_sets))
  rows = [{"prompt": p.prompt, "solution": c, "critique": w, "oracle": o}
          for p, c, w, o in zip(problems, texts, written, oracle)]
  return record, rows


def prm_verdicts(prm, problems, texts, threshold: float, verdict_sets: dict) -> float:
  """Adds the PRM's verdicts to `verdict_sets` (its lowest-scored step, and the first step below
  `threshold`); returns its scoring FLOPs per solution."""
  prm_vocab, _, prm_cfg, prm_graphdef, prm_params, _ = prm
  lengths = [prompt_length(prm_vocab, p.prompt + c) for p, c in zip(problems, texts)]
  _, step_scores = score_completions(prm_graphdef, prm_params, prm_vocab,
                                     [p.prompt for p in problems], texts,
                                     seq_len=round_up(max(lengths) + 1, 16), kind="prm")
  verdict_sets["prm_min"] = [critic.prm_verdict(s, None) for s in step_scores]
  verdict_sets["prm_threshold"] = [critic.prm_verdict(s, threshold) for s in step_scores]
  return compute.forward_flops(prm_cfg, lengths) / len(problems)


def print_scores(record: dict, sources: list[str]) -> None:
  """Each verdict source's accuracy, wrong steps named and right solutions passed (SE), the
  critic's paired margins over the baselines, and how often its reason line is exact."""
  for name in sources:
    print(f"  {name:14s}" + "  ".join(
        f"{what} {100 * record[f'{name}/{what}']:.1f} ± {100 * record[f'{name}/se/{what}']:.1f}"
        for what in ("accuracy", "wrong_named", "right_passed")), flush=True)
  print("  critic minus, paired: " + "  ".join(
      f"{name} {100 * record[f'critic_minus_{name}']:+.1f} ± "
      f"{100 * record[f'se/critic_minus_{name}']:.1f}" for name in sources if name != "critic"))
  print(f"  critic reason line exact on wrong solutions: "
        f"{100 * record['critic/reason_exact']:.1f}%", flush=True)


if __name__ == "__main__":
  cli.main(run, "critic")

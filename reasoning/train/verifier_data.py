"""What a reward model (ORM or PRM, reasoning/train/verifier.py) trains and is judged on: the
policy's own samples, their step and outcome labels (the task's exact oracle or Monte-Carlo
rollouts), synthetic flawed attempts, and held-out ROC-AUCs."""

from __future__ import annotations

import jax
import numpy as np

from reasoning import evaluation, rng as rng_lib, scoring
from reasoning.tasks import countdown_traces
from reasoning.tasks.base import has_step_oracle
from reasoning.text import prompt_length, round_up
from reasoning.train import verifier


def sample_solutions(graphdef, params, vocab, problems, n: int, key, *, prompt_len: int,
                     max_new: int):
  """n completions per problem at temperature 1: (repeated problems, completions, tokens made)."""
  repeated = [p for p in problems for _ in range(n)]
  texts, lengths = evaluation.complete(graphdef, params, vocab, [p.prompt for p in repeated], key,
                                       prompt_len=prompt_len, max_new=max_new, temperature=1.0,
                                       group=n)
  return repeated, texts, lengths


def training_problems(task, seed: int, levels, count: int, held_out: set[str],
                      stream: str = "verifier_problems"):
  """`count` problems, none held out, each at a difficulty drawn uniformly from `levels`."""
  rng = rng_lib.stream(seed, stream)
  out: list = []
  while len(out) < count:
    [p] = task.sample(rng, 1, int(rng.choice(levels)))
    if p.prompt not in held_out:
      out.append(p)
  return out


def check_synthetic(task, *, synthetic_problems: int, kind: str, labels: str) -> None:
  """Refuses synthetic attempts before any sampling where they cannot be made or labelled."""
  if not synthetic_problems:
    return
  countdown_traces.require_countdown(task, f"synthetic_problems={synthetic_problems}",
                                     "flawed_solution to make synthetic attempts with")
  if kind == "prm" and labels != "oracle":
    raise ValueError("synthetic_problems: synthetic attempts are labelled by the oracle; "
                     f"they do not mix with labels={labels!r}")


def synthetic_solutions(task, seed: int, levels, count: int, per_problem: int, held_out):
  """`per_problem` flawed attempts (countdown_traces.flawed_solution) at each of `count` fresh
  training problems: (repeated problems, completions). They cost no sampling, and the exact
  oracle labels them like the policy's own samples."""
  if not count:
    return [], []
  problems = training_problems(task, seed, levels, count, held_out, stream="synthetic_problems")
  return flawed_completions(problems, per_problem, rng_lib.stream(seed, "synthetic_attempts"))


def flawed_completions(problems, per_problem: int, rng: np.random.Generator):
  """(problems repeated `per_problem` times, one countdown_traces.flawed_solution each, as
  completion text)."""
  repeated = [p for p in problems for _ in range(per_problem)]
  return repeated, ["\n".join(countdown_traces.flawed_solution(p, rng)) + "\n" for p in repeated]


def build_targets(task, problems, completions, *, kind: str, labels: str, complete=None,
                  mc_rollouts: int = 0, mc_hard: bool = False):
  """Per completion: step labels (oracle or Monte-Carlo through `complete(queries) -> texts`;
  zeros for an ORM on a task without a step oracle, whose PRM targets go unused) and the
  outcome."""
  if has_step_oracle(task):
    steps, outcomes = verifier.oracle_targets(task, problems, completions)
  else:
    if kind == "prm" and labels == "oracle":
      raise ValueError(f"labels='oracle': task {task.name} has no per-step oracle; "
                       f"train the PRM on Monte-Carlo labels (--config.labels=mc)")
    outcomes = [task.verify(p, c) for p, c in zip(problems, completions)]
    steps = [[0.0] * len(scoring.closed_lines(c)) for c in completions]
  if kind == "prm" and labels == "mc":
    soft, hard = verifier.monte_carlo_labels(
        complete, task, problems, [scoring.closed_lines(c) for c in completions], mc_rollouts)
    steps = hard if mc_hard else soft
  return steps, outcomes


def training_targets(task, problems, graphdef, params, vocab, sample_key, label_key, *,
                     prompt_len: int, max_new: int, max_len: int, samples: int, kind: str,
                     labels: str, mc_rollouts: int, mc_hard: bool, synthetic=([], [])):
  """The reward model's training set: `samples` policy solutions of each problem labelled by
  `kind` and `labels` (`build_targets`), plus the `synthetic` (problems, completions) labelled by
  the oracle, as `scoring.reward_targets` arrays. Returns (targets, seq_len, the policy's
  generated lengths)."""
  sample = dict(prompt_len=prompt_len, max_new=max_new)
  repeated, completions, gen_lengths = sample_solutions(graphdef, params, vocab, problems,
                                                        samples, sample_key, **sample)
  steps, outcomes = build_targets(
      task, repeated, completions, kind=kind, labels=labels,
      complete=continuations(graphdef, params, vocab, label_key, max_len=max_len, **sample),
      mc_rollouts=mc_rollouts, mc_hard=mc_hard)
  extra, extra_completions = synthetic
  if extra:
    extra_steps, extra_outcomes = verifier.oracle_targets(task, extra, extra_completions)
    repeated, completions = repeated + extra, completions + extra_completions
    steps, outcomes = steps + extra_steps, outcomes + extra_outcomes
  seq_len = scoring.seq_len_for(vocab, [p.prompt for p in repeated], completions,
                                 minimum=prompt_len + max_new + 2)
  targets = scoring.reward_targets(vocab, [p.prompt for p in repeated], completions, steps,
                                    outcomes, seq_len)
  print(f"data: {len(completions)} solutions, {np.mean(outcomes):.3f} correct, "
        f"{np.mean([x for s in steps for x in s]):.3f} of steps labelled good", flush=True)
  return targets, seq_len, gen_lengths


def continuations(graphdef, params, vocab, key, *, max_len: int, prompt_len: int,
                  max_new: int):
  """complete(queries) -> texts: Monte-Carlo continuations of step prefixes at temperature 1,
  as long as the model's context (max_len) leaves room for after the longest prefix."""
  def complete(queries):
    length = round_up(max(prompt_len, max(prompt_length(vocab, q) for q in queries)), 16)
    room = evaluation.room_to_generate(max_len, length, max_new, what="a step prefix",
                                       hint=" for Monte-Carlo continuations")
    texts, _ = evaluation.complete(graphdef, params, vocab, queries,
                                   jax.random.fold_in(key, len(queries)), prompt_len=length,
                                   max_new=room, temperature=1.0)
    return texts
  return complete


def held_out_aucs(task, problems, completions, graphdef, params, vocab, *, kind: str,
                  seq_len: int, seed: int = 0) -> dict[str, float]:
  """Held-out ROC-AUC: of step scores against oracle step labels (PRM, where the task has a
  step oracle), and of solution scores (every aggregation for a PRM) against the outcome, each
  with its standard error (`..._se`, problems redrawn: `verifier.roc_auc_se`).
  `problems` and `completions` are the policy's samples (one problem per completion)."""
  oracle = has_step_oracle(task)
  if oracle:
    oracle_steps, outcomes = verifier.oracle_targets(task, problems, completions)
  else:
    outcomes = [task.verify(p, c) for p, c in zip(problems, completions)]
  prompts = [p.prompt for p in problems]
  seq_len = scoring.seq_len_for(vocab, prompts, completions, minimum=seq_len)
  result = {"eval/solutions": len(completions), "eval/correct": float(np.mean(outcomes))}
  for how in scoring.AGGREGATIONS if kind == "prm" else ("orm",):
    scores, step_scores = scoring.score_completions(
        graphdef, params, vocab, prompts, completions, seq_len=seq_len, kind=kind,
        aggregation="min" if how == "orm" else how)
    result[f"auc/outcome_{how}"] = verifier.roc_auc(scores, outcomes)
    result[f"auc/outcome_{how}_se"] = verifier.roc_auc_se(
        scores, outcomes, prompts, rng_lib.stream(seed, "auc_bootstrap"))
  if kind == "prm" and oracle:
    flat = ([s for ss in step_scores for s in ss], [x for ls in oracle_steps for x in ls])
    result["auc/step"] = verifier.roc_auc(*flat)
    result["auc/step_se"] = verifier.roc_auc_se(
        *flat, [p for p, ls in zip(prompts, oracle_steps) for _ in ls],
        rng_lib.stream(seed, "auc_bootstrap"))
    result["eval/steps"] = sum(len(ls) for ls in oracle_steps)
    result.update(step_auc_by_difficulty([p.difficulty for p in problems], step_scores,
                                         oracle_steps))
  return result


def step_auc_by_difficulty(difficulties, step_scores, step_labels) -> dict:
  """{auc/step_dD, auc/first_step_dD}: step ROC-AUC per difficulty, over all steps and over
  first steps alone (nan where one class is missing). The pooled AUC is dominated by easy steps,
  while a tree search lives or dies by its ranking of the first move (docs/verifiers.md)."""
  out = {}
  difficulties = np.asarray(difficulties)
  for d in sorted(set(difficulties.tolist())):
    rows = [i for i in np.flatnonzero(difficulties == d) if len(step_labels[i])]
    out[f"auc/step_d{d}"] = verifier.roc_auc([s for i in rows for s in step_scores[i]],
                                             [x for i in rows for x in step_labels[i]])
    out[f"auc/first_step_d{d}"] = verifier.roc_auc([step_scores[i][0] for i in rows],
                                                   [step_labels[i][0] for i in rows])
  return out

"""Reward models: an ORM scores a whole solution, a PRM scores every step (Lightman et al. 2023).

Both read the transformer's `reward` head (a logit; sigmoid gives P(correct)):
  ORM  at the EOS token, label = the task verifier's outcome;
  PRM  at each step's closing newline, label = the oracle's `step_labels` (the analogue of
       PRM800K's human labels) or a Monte-Carlo estimate (Math-Shepherd, Wang et al. 2024): from
       each step prefix, k policy completions; soft label = share that verify, hard = any.
Targets are built on the host from text; the loss is a masked binary cross-entropy, so soft
labels need no special case.
"""

from __future__ import annotations

from typing import Callable, Sequence

import jax.numpy as jnp
import numpy as np
import optax
import scipy.stats

from reasoning import model as model_lib
from reasoning.scoring import closed_lines
from reasoning.tasks import Problem, Task
from reasoning.tasks.base import ANSWER_PREFIX
from reasoning.train.state import make_step


def reward_loss(graphdef, params, batch, kind: str):
  """Masked binary cross-entropy of the reward head; kind 'prm' or 'orm'. Also returns accuracy."""
  logits = model_lib.apply(graphdef, params, batch["tokens"]).reward
  mask, labels = batch[f"{kind}_mask"], batch[f"{kind}_labels"]
  n = jnp.maximum(mask.sum(), 1.0)
  loss = (optax.sigmoid_binary_cross_entropy(logits, labels) * mask).sum() / n
  accuracy = (((logits > 0) == (labels > 0.5)) * mask).sum() / n
  return loss, {"loss": loss, "accuracy": accuracy}


def make_train_step(graphdef, tx: optax.GradientTransformation, kind: str):
  if kind not in ("prm", "orm"):
    raise ValueError(f"verifier.kind must be 'prm' or 'orm', got {kind!r}")
  return make_step(lambda params, batch: reward_loss(graphdef, params, batch, kind), tx)


def monte_carlo_labels(complete: Callable[[list[str]], list[str]], task: Task,
                       problems: Sequence[Problem], solutions: Sequence[Sequence[str]], k: int):
  """Math-Shepherd labels for each line of each solution: (soft, hard), lists of lists.

  complete(prompts) -> completions samples one continuation per prompt from the policy; it is
  called once, with every query of every solution (a query is a problem's prompt plus the
  first i+1 lines of its solution, repeated k times), so the policy runs in large batches.
  soft[j][i] = share of the k continuations (prefix + continuation) that verify; hard = any.
  An answer line ends a solution, so its label is the verifier's verdict on the prefix itself.
  """
  queries, plan = [], []
  for problem, lines in zip(problems, solutions):
    prefixes = ["".join(line + "\n" for line in lines[:i + 1]) for i in range(len(lines))]
    rollouts = [not line.startswith(ANSWER_PREFIX) for line in lines]
    plan.append((problem, prefixes, rollouts))
    queries += [problem.prompt + pre for pre, r in zip(prefixes, rollouts) if r for _ in range(k)]
  continuations = iter(complete(queries) if queries else [])
  soft = []
  for problem, prefixes, rollouts in plan:
    soft.append([float(np.mean([task.verify(problem, pre + next(continuations)) for _ in range(k)]))
                 if r else task.verify(problem, pre) for pre, r in zip(prefixes, rollouts)])
  return soft, [[float(x > 0) for x in row] for row in soft]


def roc_auc(scores: Sequence[float], labels: Sequence[int]) -> float:
  """Area under the ROC curve (Mann-Whitney U with average ranks for ties); nan if one class."""
  scores, labels = np.asarray(scores, np.float64), np.asarray(labels) > 0.5
  pos, neg = labels.sum(), (~labels).sum()
  if pos == 0 or neg == 0:
    return float("nan")
  ranks = scipy.stats.rankdata(scores, method="average")
  return float((ranks[labels].sum() - pos * (pos + 1) / 2) / (pos * neg))


def roc_auc_se(scores: Sequence[float], labels: Sequence[int], groups: Sequence,
               rng: np.random.Generator, draws: int = 200) -> float:
  """Standard error of `roc_auc` by a cluster bootstrap: whole groups (the steps of one problem's
  solutions are not independent draws) resampled with replacement `draws` times; nan where fewer
  than two groups or too few redraws hold both classes."""
  scores, labels = np.asarray(scores, np.float64), np.asarray(labels) > 0.5
  _, group = np.unique(np.asarray(groups), return_inverse=True)
  members = [np.flatnonzero(group == g) for g in range(group.max() + 1 if len(group) else 0)]
  if len(members) < 2:
    return float("nan")
  aucs = []
  for _ in range(draws):
    rows = np.concatenate([members[g] for g in rng.integers(0, len(members), len(members))])
    aucs.append(roc_auc(scores[rows], labels[rows]))
  aucs = np.asarray(aucs)
  aucs = aucs[np.isfinite(aucs)]
  return float(aucs.std(ddof=1)) if len(aucs) >= draws // 2 else float("nan")


def oracle_targets(task: Task, problems: Sequence[Problem], completions: Sequence[str]):
  """(step labels per completion from the task's oracle, outcome per completion)."""
  steps = [task.step_labels(p, closed_lines(c)) for p, c in zip(problems, completions)]
  outcomes = [task.verify(p, c) for p, c in zip(problems, completions)]
  return steps, outcomes



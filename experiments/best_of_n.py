"""Best-of-N with majority vote, ORM and PRM selectors, scored with the exact verifier.

  python -m experiments.best_of_n --config configs/countdown_bon.py --config.policy=SFT_DIR \
      --config.orm=ORM_DIR --config.prm=PRM_DIR
"""

from __future__ import annotations

import os

import jax
import numpy as np

from experiments import cli
from reasoning import compute, evaluation, plots, runs as runs_lib, scoring
from reasoning.logging import MetricsWriter
from reasoning.search import best_of_n as bon
from reasoning.tasks import extract_answer
from reasoning.text import prompt_length

# (label, verifier kind or None, selector)
METHODS: tuple[tuple[str, str | None, str], ...] = (
    ("majority", None, "majority"), ("ORM best", "orm", "best"),
    ("ORM weighted", "orm", "weighted"), ("PRM best", "prm", "best"),
    ("PRM weighted", "prm", "weighted"))


def run(config, workdir: str) -> dict:
  vocab, sft_config, model_cfg, graphdef, policy, _ = runs_lib.load_sft(config.policy)
  reward_params = {}
  for kind in ("orm", "prm"):
    reward_vocab, *_, params, _ = runs_lib.load_sft(config[kind])
    runs_lib.check_same_vocab(vocab, reward_vocab, f"config.{kind}", "config.policy")
    reward_params[kind] = params
  task = runs_lib.make_task(config, vocab)
  runs_lib.save_config(config, workdir)
  problems = runs_lib.evaluation_set(task, config.policy, config.eval_difficulties,
                                     config.eval_problems)
  prompt_len = max(prompt_length(vocab, p.prompt) for p in problems) + 4
  sample_key, boot_seed = jax.random.key(config.seed), config.seed

  m = config.pool
  correct, answers, scores, gen_flops, score_flops = sample_and_score(
      config, task, problems, vocab, graphdef, policy, reward_params, model_cfg, prompt_len,
      sample_key)
  writer = MetricsWriter(os.path.join(workdir, "metrics.jsonl"), resume_step=-1)  # recomputed
  difficulty = np.array([p.difficulty for p in problems])
  ns = [2**i for i in range(int(np.log2(m)) + 1)]
  curves: dict[int, dict] = {}
  for d in sorted(set(difficulty.tolist())):
    rows = np.flatnonzero(difficulty == d)
    for label, scorer, selector in METHODS:
      s = np.zeros((len(rows), m)) if scorer is None else scores[scorer][rows]
      for n in ns:
        rng = np.random.default_rng([boot_seed, d, n])
        mean, lo, hi = bon.bootstrap_accuracy(correct[rows], [answers[r] for r in rows], s, n,
                                              selector, rng, config.resamples)
        flops = n * (gen_flops + (score_flops if scorer else 0.0))
        curves.setdefault(d, {}).setdefault(label, []).append((n, mean, lo, hi))
        # The proxy the `best` selectors maximize (Gao et al.'s best-of-n against its reward model).
        proxy = ({"proxy": bon.selected_score(s, n, np.random.default_rng([boot_seed, d, n, 1]),
                                              config.resamples)} if selector == "best" else {})
        writer.write(n, difficulty=d, method=label, accuracy=mean, low=lo, high=hi,
                     test_flops=flops, **proxy)
    best = {label: c[-1][1] for label, c in curves[d].items()}
    print(f"difficulty {d}, best-of-{m}: " + "  ".join(f"{k}={v:.3f}" for k, v in best.items()),
          flush=True)
  os.makedirs(os.path.join(workdir, "plots"), exist_ok=True)
  path = os.path.join(workdir, "plots", "best_of_n.png")
  plots.best_of_n(curves, path, title=f"{config.task.name}: best-of-N on held-out problems")
  print(f"wrote {path}", flush=True)
  return {"curves": curves}


def sample_and_score(config, task, problems, vocab, graphdef, policy, reward_params, model_cfg,
                     prompt_len: int, key):
  """`config.pool` samples per problem at T = 1, verified, their answers, their ORM and PRM
  scores, and the FLOPs of one sample and of one scoring: (correct [P, m], answers [P][m],
  {"orm", "prm": scores [P, m]}, generation FLOPs, scoring FLOPs)."""
  m = config.pool
  prompts = [p.prompt for p in problems for _ in range(m)]
  completions, lengths = evaluation.complete(graphdef, policy, vocab, prompts, key,
                                             prompt_len=prompt_len, max_new=config.max_new,
                                             temperature=1.0, group=m)
  print(f"sampled {len(completions)} completions", flush=True)
  # The longest re-encoded sample, not prompt + max_new: a decoded sample need not re-encode
  # to as many tokens as were sampled. Few lengths: one compiled shape per multiple of 16.
  seq_len = scoring.seq_len_for(vocab, prompts, completions,
                                 minimum=prompt_len + config.max_new + 2)
  correct = np.array([task.verify(p, c) for p, c in zip([q for q in problems for _ in range(m)],
                                                        completions)]).reshape(-1, m)
  flat_answers = [extract_answer(c) for c in completions]
  answers = [flat_answers[i * m:(i + 1) * m] for i in range(len(problems))]
  scores: dict[str, np.ndarray] = {}
  for kind in ("orm", "prm"):
    s, _ = scoring.score_completions(graphdef, reward_params[kind], vocab, prompts, completions,
                                      seq_len=seq_len, kind=kind,
                                      aggregation=config.prm_aggregation)
    scores[kind] = s.reshape(-1, m)
  # Test-time compute per problem for best-of-N: N samples, plus N scorings by a verifier.
  gen_flops = (compute.generation_flops(model_cfg, [prompt_len] * len(lengths), lengths)
               / len(lengths))
  score_flops = compute.forward_flops(model_cfg, [prompt_len + lengths.mean()])
  return correct, answers, scores, gen_flops, score_flops


if __name__ == "__main__":
  cli.main(run, "best_of_n")

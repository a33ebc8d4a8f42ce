"""Reward-model overoptimization (Gao et al. 2022) measured against the exact verifier: for RL
runs that optimized a learned reward (`--config.reward.model`), the proxy reward they optimized
and the gold reward (the exact verifier's pass rate on the same samples) against the distance
d = sqrt(KL) of the policy from its start, each fitted with R(d) = r0 + d (alpha - beta log d),
with the d where the gold reward peaks and its 90% parametric-bootstrap interval (each step's gold
share redrawn as a binomial of its samples).

  python -m experiments.rl --config configs/countdown_rl.py --config.init_from=runs/demo/sft \
      --config.reward.model=runs/demo/prm --workdir runs/rl_prm
  python scripts/overoptimization.py --out runs/overoptimization prm=runs/rl_prm
  python scripts/overoptimization.py --out runs/overoptimization_bon --bon runs/bon

With --bon, best-of-n against the same kind of reward model: `experiments.best_of_n`'s 'PRM best'
and 'ORM best' selections at n = 1, 2, 4, ..., d = sqrt(log n - (n - 1) / n), fitted with the
best-of-n form R(d) = r0 + d (alpha - beta d).

Each point is one RL step's rollout (its prompts x samples, e.g. 256 completions), the gold
reward the verified share of them. Writes OUT/overoptimization.json and OUT/overoptimization.png.
"""

from __future__ import annotations

import argparse
import json
import os

import numpy as np

from experiments.cli import labelled
from reasoning import plots, rng as rng_lib, scaling
from reasoning.logging import read_metrics


def bon_curve(workdir: str, method: str, difficulty: int) -> dict:
  """A best-of-N run's `method` ('PRM best', 'ORM best') at `difficulty` as Gao et al.'s
  best-of-n points: d = sqrt(KL of best-of-n) = sqrt(log n - (n - 1) / n), the proxy score of
  the selected sample, the gold reward (the exact verifier's accuracy), rows the problems."""
  with open(os.path.join(workdir, "config.json")) as f:
    config = json.load(f)
  records = [r for r in read_metrics(os.path.join(workdir, "metrics.jsonl"))
             if r.get("method") == method and r.get("difficulty") == difficulty and "proxy" in r]
  if not records:
    raise ValueError(f"{workdir}: no best-of-n points of {method!r} at d{difficulty} with a "
                     f"proxy score (experiments.best_of_n logs one per n)")
  n = np.array([r["step"] for r in records], float)
  return {"reward_model": config["prm" if method.startswith("PRM") else "orm"],
          "rows": config["eval_problems"], "form": "bon", "step": n.tolist(),
          "d": scaling.bon_distance(n).tolist(), "proxy": [r["proxy"] for r in records],
          "gold": [r["accuracy"] for r in records]}


def curve(workdir: str) -> dict:
  """A run's rollout records as arrays: step, d, proxy (the reward optimized), gold, rows."""
  with open(os.path.join(workdir, "config.json")) as f:
    config = json.load(f)
  records = [r for r in read_metrics(os.path.join(workdir, "metrics.jsonl"))
             if "kl_distance" in r and "pass_rate" in r]
  if len(records) < 4:
    raise ValueError(f"{workdir}: {len(records)} RL steps with kl_distance logged; a fit needs 4 "
                     f"or more (an RL run of this codebase logs one per step)")
  model = (config.get("reward") or {}).get("model", "")
  return {"reward_model": model or "the exact verifier", "form": "rl",
          "rows": config["prompts_per_step"] * config["samples_per_prompt"],
          "step": [r["step"] for r in records], "d": [r["kl_distance"] for r in records],
          "proxy": [r["reward"] for r in records], "gold": [r["pass_rate"] for r in records]}


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("runs", nargs="*", type=labelled, help="LABEL=RL_WORKDIR")
  parser.add_argument("--out", required=True)
  parser.add_argument("--bon", default="", help="an experiments.best_of_n workdir: its 'PRM best' "
                                                "and 'ORM best' curves as best-of-n points")
  parser.add_argument("--bon_difficulty", type=int, default=1)
  args = parser.parse_args()
  items = [(label, lambda w=workdir: curve(w)) for label, workdir in args.runs]
  if args.bon:
    items += [(f"best-of-n, {m}", lambda m=m: bon_curve(args.bon, m, args.bon_difficulty))
              for m in ("PRM best", "ORM best")]
  if not items:
    raise SystemExit("error: nothing to fit: give label=RL workdir runs or --bon")
  result = {}
  for i, (label, load) in enumerate(items):
    c = load()
    for key in ("gold", "proxy"):
      try:
        c[f"fit_{key}"] = scaling.overoptimization_fit(c["d"], c[key], c["form"])
      except ValueError as e:  # a policy that has not moved (d = 0) has no curve to fit
        c[f"fit_{key}"] = None
        print(f"{label}: {key} not fitted: {e}")
    if c["fit_gold"] is not None:  # the gold reward is a share of `rows` samples: binomial
      c["fit_gold"]["interval"] = scaling.overoptimization_interval(
          c["d"], c["gold"], c["rows"], rng_lib.stream(0, "fit_bootstrap", i), c["form"])
    result[label] = c
    peaks = "; ".join(
        f"{key} {'peaks' if c[f'fit_{key}']['inside'] else 'is highest'} at d = "
        f"{c[f'fit_{key}']['d_peak']:.2f}" + (
            " [{:.2f}, {:.2f}]".format(*c[f"fit_{key}"]["interval"]["d_peak"])
            if "interval" in c[f"fit_{key}"] else "") + f" (R² {c[f'fit_{key}']['r2']:.2f})"
        for key in ("gold", "proxy") if c[f"fit_{key}"] is not None)
    points = (f"n = 1..{int(max(c['step']))} on {c['rows']} problems" if c["form"] == "bon"
              else f"{len(c['d'])} steps of {c['rows']} samples")
    print(f"{label} ({c['reward_model']}, {points}, d up to "
          f"{max(c['d']):.2f}): gold {100 * c['gold'][0]:.1f} -> {100 * c['gold'][-1]:.1f}%, "
          f"proxy {c['proxy'][0]:.3f} -> {c['proxy'][-1]:.3f}; {peaks or 'no fit'}")
  os.makedirs(args.out, exist_ok=True)
  with open(os.path.join(args.out, "overoptimization.json"), "w") as f:
    json.dump(result, f, indent=1)
  path = os.path.join(args.out, "overoptimization.png")
  what = "best-of-n" if not args.runs else "RL" if not args.bon else "RL and best-of-n"
  plots.overoptimization(result, path, title=f"{what} against a learned reward: proxy and gold "
                                             f"(exact verifier) reward against d = sqrt(KL)")
  print(f"wrote {path}")


if __name__ == "__main__":
  main()

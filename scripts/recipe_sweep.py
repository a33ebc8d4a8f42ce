"""The RL recipe sweep: several recipes (configs/countdown_rl.py RECIPES) from one SFT
checkpoint over several seeds, then each recipe's compute curve fitted (scripts/fit_scaling.py):
which has the highest asymptote and which the best efficiency, with intervals.

  python scripts/recipe_sweep.py --init_from runs/demo/sft --out runs/recipes \
      [--recipes default,grpo,dapo,dr_grpo,gspo,cispo] [--seeds 0,1,2] [--variant sweep] \
      [--set steps=130]

`default` is the config without a recipe (its positive-only GRPO); `async1`, `async2`,
`async4` sample each rollout with the policy of 1, 2 or 4 steps before (countdown_rl.ASYNC). Each run is `experiments.rl` in OUT/<recipe>/seed<seed>, evaluated at log-spaced steps
(eval_log_points) so its curve spans the decades of RL compute; a finished run is skipped and an
interrupted one resumes, so rerunning the sweep continues it. `--fit_only` fits what is there.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import time

from configs import countdown_rl
from reasoning import curves
from reasoning.logging import read_metrics


def finished(workdir: str, steps: int) -> bool:
  path = os.path.join(workdir, "metrics.jsonl")
  if not os.path.exists(path):
    return False
  return any(r.get("step") == steps and "greedy/all" in r for r in read_metrics(path))


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--init_from", required=True, help="the SFT workdir every run starts from")
  parser.add_argument("--out", required=True)
  parser.add_argument("--recipes", default="grpo,dapo,dr_grpo,gspo,cispo")
  parser.add_argument("--seeds", default="0,1,2")
  parser.add_argument("--variant", default="sweep",
                      help="a config variant joined before the recipe ('' for the default config)")
  parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                      help="a --config.FIELD=VALUE override for every run")
  parser.add_argument("--log_points", type=int, default=None,
                      help="evaluations at log-spaced steps (default: the config's)")
  parser.add_argument("--key", default="sampled/d1")
  parser.add_argument("--fit_only", action="store_true")
  parser.add_argument("--python", default=sys.executable,
                      help="the command that runs each RL run's Python (default this interpreter; "
                           "scripts/reproduce.sh passes its PY)")
  args = parser.parse_args()
  recipes = args.recipes.split(",")
  known = [*countdown_rl.RECIPES, *countdown_rl.ASYNC]
  unknown = [r for r in recipes if r not in known and r != "default"]
  if unknown:
    parser.error(f"unknown recipes {unknown}; configs/countdown_rl.py has {known}")
  seeds = [int(s) for s in args.seeds.split(",")]
  overrides = [f"--config.{s}" for s in args.set]
  if args.log_points is not None:
    overrides.append(f"--config.eval_log_points={args.log_points}")
  config = countdown_rl.get_config(args.variant or None)
  steps = next((int(s.split("=")[1]) for s in args.set if s.startswith("steps=")), config.steps)
  python = shlex.split(args.python)
  groups = {}
  for recipe in recipes:
    groups[recipe] = []
    for seed in seeds:
      workdir = os.path.join(args.out, recipe, f"seed{seed}")
      groups[recipe].append(workdir)
      if args.fit_only or finished(workdir, steps):
        continue
      variant = ",".join(filter(None, [args.variant, recipe if recipe != "default" else ""]))
      cmd = [*python, "-m", "experiments.rl",
             "--config=configs/countdown_rl.py" + (f":{variant}" if variant else ""),
             f"--config.init_from={args.init_from}", f"--config.seed={seed}",
             f"--workdir={workdir}", *overrides]
      print(f"[{time.strftime('%H:%M:%S')}] {recipe} seed {seed}: {' '.join(cmd[len(python):])}", flush=True)
      os.makedirs(workdir, exist_ok=True)
      with open(os.path.join(args.out, f"{recipe}_seed{seed}.log"), "a") as log:
        subprocess.run(cmd, check=True, stdout=log, stderr=subprocess.STDOUT)
  groups = {k: v for k, v in groups.items() if all(finished(w, steps) for w in v)}
  if not groups:
    raise SystemExit("no recipe has all its runs finished; nothing to fit")
  curves.fit_groups(groups, args.out, key=args.key,
                    title=f"RL from one SFT checkpoint: {', '.join(groups)} "
                          f"({len(seeds)} seeds each)")


if __name__ == "__main__":
  main()

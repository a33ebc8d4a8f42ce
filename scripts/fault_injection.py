"""Kill -9 runs at random moments, rerun them, and check they end exactly as uninterrupted runs.

  python scripts/fault_injection.py --kills 20 --out /tmp/fault_injection

For each of SFT, RL (from that SFT), the PRM and STaR on their `:tiny` configs: one uninterrupted
reference run, then for each kill a fresh workdir where the same command is killed with SIGKILL
after a random delay (a named numpy stream, so the kill points are reproducible; a delay the run
outlives is halved and tried again) and then rerun to completion. Every rerun's last checkpoint
must equal the reference's bit for bit, and its metrics.jsonl the reference's line for line
(wall-clock fields aside). Kills land anywhere: start-up, steps, evaluations, checkpoint writes.
Prints one line per kill and a JSON summary; exits 1 if any run differs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np

PY = sys.executable
EXPERIMENTS = {  # name: (module, config, extra flags given the output directory)
    "sft": ("experiments.sft", "configs/countdown_sft.py:tiny", lambda out: []),
    "rl": ("experiments.rl", "configs/countdown_rl.py:tiny",
           lambda out: [f"--config.init_from={out}/ref/sft", "--config.optim.lr=3e-3"]),
    "verifier": ("experiments.verifier", "configs/countdown_verifier.py:tiny",
                 lambda out: [f"--config.init_from={out}/ref/sft"]),
    "star": ("experiments.star", "configs/countdown_star.py:tiny",
             lambda out: [f"--config.init_from={out}/ref/sft"]),
}


def command(name: str, workdir: str, out: str) -> list[str]:
  module, config, extra = EXPERIMENTS[name]
  return [PY, "-m", module, "--config", config, "--workdir", workdir, *extra(out)]


def run(cmd: list[str], log) -> float:
  t0 = time.perf_counter()
  subprocess.run(cmd, check=True, stdout=log, stderr=log)
  return time.perf_counter() - t0


def latest_state(workdir: str) -> list[np.ndarray]:
  """The arrays of the latest checkpoint, restored without a model (orbax reads its metadata)."""
  import orbax.checkpoint as ocp
  directory = os.path.join(workdir, "checkpoints")
  step = max(int(d) for d in os.listdir(directory) if d.isdigit())
  state = ocp.StandardCheckpointer().restore(os.path.join(directory, str(step), "state"))
  import jax
  return [np.asarray(x) for x in jax.tree.leaves(state)]


def metrics(workdir: str) -> list[dict]:
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    return [{k: v for k, v in json.loads(line).items() if k != "time"} for line in f]


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("--kills", type=int, default=20)
  parser.add_argument("--out", default="runs/fault_injection")
  parser.add_argument("--seed", type=int, default=0)
  args = parser.parse_args()
  shutil.rmtree(args.out, ignore_errors=True)
  os.makedirs(args.out)
  log = open(os.path.join(args.out, "log.txt"), "w")
  rng = np.random.default_rng([args.seed, 1])
  per = [args.kills // len(EXPERIMENTS) + (i < args.kills % len(EXPERIMENTS))
         for i in range(len(EXPERIMENTS))]
  summary, ok = {}, True
  for (name, _), kills in zip(EXPERIMENTS.items(), per):
    ref = os.path.join(args.out, "ref", name)
    seconds = run(command(name, ref, args.out), log)
    points, same_state, same_metrics = [], True, True
    for k in range(kills):
      delay = float(rng.uniform(1.0, seconds))
      while True:
        workdir = os.path.join(args.out, "killed", f"{name}_{k}")
        shutil.rmtree(workdir, ignore_errors=True)
        proc = subprocess.Popen(command(name, workdir, args.out), stdout=log, stderr=log)
        try:
          proc.wait(timeout=delay)
          delay /= 2  # it finished first: kill earlier
        except subprocess.TimeoutExpired:
          proc.send_signal(signal.SIGKILL)
          proc.wait()
          break
      run(command(name, workdir, args.out), log)  # the rerun, to completion
      state = all(np.array_equal(a, b) for a, b in
                  zip(latest_state(ref), latest_state(workdir), strict=True))
      lines = metrics(ref) == metrics(workdir)
      same_state, same_metrics = same_state and state, same_metrics and lines
      points.append(round(delay, 2))
      print(f"{name}: killed at {delay:.1f} s of {seconds:.1f} s; after the rerun, state "
            f"identical: {state}, metrics identical: {lines}", flush=True)
    ok &= same_state and same_metrics
    summary[name] = {"kills_at_seconds": points, "reference_seconds": round(seconds, 1),
                     "same_state": same_state, "same_metrics": same_metrics}
  print(json.dumps(summary, indent=2))
  sys.exit(0 if ok else 1)


if __name__ == "__main__":
  main()

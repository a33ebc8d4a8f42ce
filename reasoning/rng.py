"""Named numpy random streams: every host-side random choice draws from one of these.

`stream(seed, name, *path)` is `np.random.default_rng([seed, NUMBER, *path])`, a generator that
depends only on the run's seed, the stream's name and its position (a difficulty, a step, an
epoch), so a resumed run draws exactly what an uninterrupted one does and two streams never
share draws. The numbers are fixed: changing one changes every run's data.
"""

from __future__ import annotations

import numpy as np

STREAMS = {
    "train_problems": 1,     # SFT's training problems, per difficulty
    "held_out": 2,           # the held-out evaluation problems, per difficulty
    "batch_order": 3,        # epoch-wise shuffles of an SFT pool
    "rl_prompts": 4,         # RL's prompts of a step
    "rl_minibatches": 5,     # RL's minibatch order per step and epoch
    "hints": 6,              # which SFT prompts carry the rationalization hint
    "verifier_problems": 6,  # the reward model's training problems (no path)
    "verifier_batches": 7,   # the reward model's minibatches, per step
    "failed_attempts": 8,    # SFT's failed attempts before a retry, per difficulty
    "synthetic_problems": 8,  # the reward model's synthetic-attempt problems (no path)
    "traces": 9,             # search-trace SFT formats, per difficulty
    "synthetic_attempts": 9,  # the flawed attempts written at those problems (no path)
    "trap_balance": 11,      # STaR's trap down-sampling, per iteration
    "fit_bootstrap": 12,     # a scaling fit's bootstrap redraws, per fitted curve
    "critic_right": 13,      # which right solutions the critic's training set keeps (no path)
    "critic_flawed": 14,     # the critic's held-out synthetic flawed solutions (no path)
    "revision_pairs": 15,    # how many wrong attempts precede each revision target (no path)
    "quiet_star_batches": 16,  # Quiet-STaR's texts per step (per thought length; 0: plain arm)
    "distill_prompts": 17,   # distillation's prompts of a step
    "distill_minibatches": 18,  # distillation's minibatch order per step and epoch
    "tool_traces": 19,       # which SFT examples call the tool, per difficulty
    "random_solutions": 20,  # a uniformly random correct solution per SFT example
    "bootstrap_problems": 21,  # STaR's and expert iteration's training problems, per difficulty
    "rationalization": 22,   # STaR's rationalization choices, per iteration
    "exit_problems": 23,     # expert iteration's problems of an iteration
    "auc_bootstrap": 24,     # a held-out ROC-AUC's bootstrap redraws of problems (no path)
}
# Streams drawn without a path. A number is shared only between one of these and a stream drawn
# per difficulty (1 and up): numpy's seeding drops trailing zeros, so [seed, n, 0] would draw what
# [seed, n] does, and `stream` refuses an all-zero path on a shared number.
NO_PATH = frozenset({"verifier_problems", "synthetic_problems", "synthetic_attempts",
                     "critic_right", "critic_flawed", "revision_pairs",
                     "auc_bootstrap"})
_SHARED = frozenset(STREAMS[name] for name in NO_PATH)


def stream(seed: int, name: str, *path: int) -> np.random.Generator:
  """The generator of stream `name` at `path` (ints) of a run seeded with `seed`."""
  if name not in STREAMS:
    raise ValueError(f"unknown random stream {name!r}; known: {', '.join(sorted(STREAMS))}")
  if bool(path) == (name in NO_PATH):
    raise ValueError(f"random stream {name!r} is drawn " + (
        "without a path" if name in NO_PATH else "with a path (a difficulty, step, ...)"))
  if name not in NO_PATH and STREAMS[name] in _SHARED and not any(path):
    raise ValueError(f"random stream {name!r} at path {path}: an all-zero path draws what the "
                     f"stream without a path of number {STREAMS[name]} draws")
  return np.random.default_rng([int(seed), STREAMS[name], *(int(p) for p in path)])

"""Test-time compute scaling on held-out Countdown: best-of-N (majority, PRM-weighted), PRM beam
search, lookahead search and MCTS (mctx), each at several budgets, plus the compute-optimal
frontier chosen per difficulty on a validation half.

  python -m experiments.search --config configs/countdown_search.py \
      --config.policy=SFT_DIR --config.prm=PRM_DIR

Machine: 2 CPU cores; see the README's "Measured" table for time and results.
"""

import ml_collections


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.seed = 0
  c.policy = "runs/demo/sft"
  c.prm = "runs/demo/prm"
  c.prm_aggregation = "last"
  c.task = ml_collections.ConfigDict({"name": "countdown", "trap_share": 0.1})
  c.eval_difficulties = "1,2"
  c.eval_problems = 100            # per difficulty; even indices validate, odd ones test
  c.temperature = 1.0
  c.max_new = 64                   # best-of-N completion length
  c.best_of_n = "1,2,4,8,16,32"    # N
  c.beam = "4,8,16"                # samples per round (beams = N / expand)
  c.lookahead = "4,8,16"
  c.lookahead_depth = 1
  c.expand = 4
  c.mcts = "8,16,32"               # simulations per move
  c.mcts_candidates = 4            # K sampled next steps per node
  c.mcts_batch = 256               # problems per jitted MCTS call
  c.max_steps = 6                  # search rounds / MCTS moves
  c.step_tokens = 20
  if arg == "tiny":
    c.eval_problems = 4
    c.best_of_n = "1,2"
    c.beam = "2"
    c.lookahead = "2"
    c.expand = 2
    c.mcts = "2"
    c.mcts_candidates = 2
    c.max_steps = 2
    c.step_tokens = 8
    c.max_new = 16
  elif arg == "small":  # make reproduce SCALE=small
    c.eval_problems = 40
    c.best_of_n = "1,2,4,8,16"
    c.beam = "4,8"
    c.lookahead = "4,8"
    c.mcts = "4,8"
    c.mcts_batch = 80
  elif arg is not None:
    raise ValueError(f"configs/countdown_search.py: unknown variant {arg!r}; "
                     "expected 'tiny', 'small' or none")
  return c

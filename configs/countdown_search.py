"""Test-time compute scaling on Countdown: best-of-N (majority, PRM-weighted), PRM beam search,
lookahead search and MCTS at several budgets, with the compute-optimal frontier.

  python -m experiments.search --config configs/countdown_search.py --config.policy=runs/demo/sft \
      --config.prm=runs/demo/prm

`:small` is the demo's. Results, times and machine: docs/search.md.
"""

from configs import common


def get_config(arg: str | None = None) -> common.ConfigDict:
  c = common.ConfigDict()
  c.seed = 0
  c.policy = "runs/demo/sft"
  c.prm = "runs/demo/prm"
  c.prm_aggregation = "last"
  c.task = common.countdown()
  c.eval_difficulties = (1, 2)
  c.eval_problems = 100            # per difficulty; even indices validate, odd ones test
  c.temperature = 1.0
  c.max_new = 64                   # best-of-N completion length
  c.best_of_n = (1, 2, 4, 8, 16, 32)    # N; the pool of max N samples also bins problems by the
                                   # policy's pass rate
  c.bins = 5                       # model-relative difficulty bins (quantiles)
  c.beam = (4, 8, 16)                # samples per round (beams = N / expand)
  c.lookahead = (4, 8, 16)
  c.lookahead_depth = 1
  c.expand = 4
  c.mcts = (8, 16, 32)               # simulations per move
  c.mcts_candidates = 4            # K sampled next steps per node
  c.mcts_batch = 256               # problems per jitted MCTS call
  c.max_steps = 6                  # search rounds / MCTS moves
  c.step_tokens = 20
  return common.variant(
      c, arg, "configs/countdown_search.py",
      tiny={"eval_problems": 4, "best_of_n": (1, 2), "beam": (2,), "lookahead": (2,), "expand": 2,
            "mcts": (2,), "mcts_candidates": 2, "max_steps": 2, "step_tokens": 8, "max_new": 16},
      small={"eval_problems": 40, "best_of_n": (1, 2, 4, 8, 16), "beam": (4, 8),
             "lookahead": (4, 8), "mcts": (4, 8), "mcts_batch": 80})

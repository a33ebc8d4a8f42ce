"""Test-time search on a real model: SmolLM2-135M-Instruct after SFT on the arithmetic scratchpad
(configs/smollm2_sft.py), with its PRM (configs/smollm2_prm.py): best-of-N (majority vote and
PRM-weighted) and PRM beam search against test-time FLOPs per problem; `--config.mcts=2,4` adds
MCTS at those simulations per move.

  python -m experiments.search --config configs/smollm2_search.py --workdir runs/smollm2_search

A step is a scratchpad line (any token ending in a newline); 30 held-out problems per difficulty,
even indices validate the compute-optimal choice, odd ones test it. `:tiny` is for tests.
"""

from configs import common, countdown_search, smollm2_sft


def get_config(arg: str | None = None) -> common.ConfigDict:
  c = countdown_search.get_config()
  c.policy = "runs/smollm2_sft"
  c.prm = "runs/smollm2_prm"
  c.task = smollm2_sft.task()
  c.eval_difficulties = (2, 3)
  c.eval_problems = 30
  c.max_new = 64
  c.best_of_n = (1, 2, 4, 8, 16)
  c.beam = (4, 8)
  c.lookahead = ()
  c.mcts = ()
  c.mcts_batch = 30
  c.max_steps = 6
  c.step_tokens = 16
  return common.variant(
      c, arg, "configs/smollm2_search.py",
      tiny={"eval_problems": 2, "best_of_n": (1, 2), "beam": (2,), "expand": 2, "mcts": (2,),
            "mcts_candidates": 2, "mcts_batch": 4, "max_steps": 2, "step_tokens": 8,
            "max_new": 16})

"""Test-time search on math word problems with a Hugging Face policy and PRM: best-of-N (majority
vote and PRM-weighted), PRM beam search, lookahead search and MCTS, against test-time FLOPs.

  python -m experiments.search --config configs/hf_search.py --config.policy=<hf_sft workdir> \
      --config.prm=<hf_verifier workdir> --config.task.path=/data/gsm8k_test.jsonl

MCTS runs on the model's tokenizer: a step ends at any token ending in a newline, and an answer
line is matched on the tokenizer's own encoding of `ANSWER: `. `:tiny` is for tests.
"""

from configs import common, countdown_search


def get_config(arg: str | None = None) -> common.ConfigDict:
  c = common.on_math(countdown_search.get_config(common.base_variant(arg)), "policy", "prm")
  c.mcts = (8, 16)
  c.mcts_batch = 16
  c.max_new = 256
  c.max_steps = 8
  c.step_tokens = 48
  return common.variant(c, arg, "configs/hf_search.py",
                        tiny=common.math_tiny(c, eval_problems=2, max_new=16, max_steps=2,
                                              step_tokens=8, mcts=(2,), mcts_batch=2))

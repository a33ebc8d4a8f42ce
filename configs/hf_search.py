"""Test-time search on math word problems with a Hugging Face policy and PRM: best-of-N (majority
vote and PRM-weighted), PRM beam search and lookahead search, against test-time FLOPs.

  python -m experiments.search --config configs/hf_search.py --config.policy=<hf_sft workdir> \
      --config.prm=<hf_verifier workdir> --config.task.path=/data/gsm8k_test.jsonl

MCTS and rStar match answer lines on character ids and stay char-vocabulary only for now, so
`mcts` is empty here. `:tiny` is for tests.
"""

import os
import runpy

import ml_collections

_base = runpy.run_path(os.path.join(os.path.dirname(__file__), "countdown_search.py"))["get_config"]


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  c = _base("tiny" if arg == "tiny" else None)
  c.policy = ""
  c.prm = ""
  c.task = ml_collections.ConfigDict({"name": "math_jsonl", "path": "tests/data/math_sample.jsonl",
                                      "template": "{question}\n"})  # the prompt, no chat template
  c.eval_difficulties = "1,2,3"
  c.mcts = ""
  c.max_new = 256
  c.max_steps = 8
  c.step_tokens = 48
  if arg == "tiny":
    c.eval_difficulties = "1"
    c.eval_problems = 2
    c.max_new = 16
    c.max_steps = 2
    c.step_tokens = 8
  elif arg is not None:
    raise ValueError(f"configs/hf_search.py: unknown variant {arg!r}; expected 'tiny' or none")
  return c

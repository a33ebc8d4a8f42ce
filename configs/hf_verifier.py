"""A PRM (Monte-Carlo labels, Math-Shepherd) or ORM on math word problems, from an SFT run of a
Hugging Face model (configs/hf_sft.py).

  python -m experiments.verifier --config configs/hf_verifier.py --config.init_from=<hf_sft workdir> \
      --config.task.path=/data/gsm8k_train.jsonl [--config.kind=orm]

A dataset has no per-step oracle, so PRM labels come from k policy rollouts per step prefix
(soft: the share that verify) and held-out evaluation reports solution-level AUC only.
`:tiny` is for tests.
"""

import os
import runpy

import ml_collections

_base = runpy.run_path(os.path.join(os.path.dirname(__file__), "countdown_verifier.py"))["get_config"]


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  c = _base("tiny" if arg == "tiny" else None)
  c.init_from = ""
  c.task = ml_collections.ConfigDict({"name": "math_jsonl", "path": "tests/data/math_sample.jsonl",
                                      "template": "{question}\n"})  # the prompt, no chat template
  c.labels = "mc"
  c.train_difficulties = "1,2,3"
  c.eval_difficulties = "1,2,3"
  c.max_new = 256
  c.optim.lr = 1e-5
  c.batch_size = 16
  if arg == "tiny":
    c.train_difficulties = "1"
    c.eval_difficulties = "1"
    c.eval_problems = 1
    c.max_new = 16
  elif arg is not None:
    raise ValueError(f"configs/hf_verifier.py: unknown variant {arg!r}; expected 'tiny' or none")
  return c

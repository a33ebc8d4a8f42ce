"""A PRM (Monte-Carlo labels, Math-Shepherd) or ORM on math word problems, from an SFT run of a
Hugging Face model (configs/hf_sft.py).

  python -m experiments.verifier --config configs/hf_verifier.py --config.init_from=<hf_sft workdir> \
      --config.task.path=/data/gsm8k_train.jsonl [--config.kind=orm]

A dataset has no per-step oracle, so PRM labels come from k policy rollouts per step prefix
(soft: the share that verify) and held-out evaluation reports solution-level AUC only.
`:tiny` is for tests.
"""

from configs import common, countdown_verifier


def get_config(arg: str | None = None) -> common.ConfigDict:
  c = common.on_math(countdown_verifier.get_config(common.base_variant(arg)), "init_from")
  c.labels = "mc"
  c.max_new = 256
  c.optim.lr = 1e-5
  c.batch_size = 16
  return common.variant(c, arg, "configs/hf_verifier.py",
                        tiny=common.math_tiny(c, eval_problems=1, max_new=16))

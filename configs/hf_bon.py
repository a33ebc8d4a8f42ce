"""Best-of-N on math word problems with a Hugging Face policy, ORM and PRM: majority vote and
reward-model selectors with bootstrap intervals.

  python -m experiments.best_of_n --config configs/hf_bon.py --config.policy=<hf_sft workdir> \
      --config.orm=<hf_verifier kind=orm> --config.prm=<hf_verifier workdir> \
      --config.task.path=/data/gsm8k_test.jsonl

The reward models are trained from the same model (configs/hf_verifier.py), so all three read
one tokenizer. `:tiny` is for tests.
"""

from configs import common, countdown_bon


def get_config(arg: str | None = None) -> common.ConfigDict:
  c = common.on_math(countdown_bon.get_config(common.base_variant(arg)), "policy", "orm", "prm")
  c.max_new = 256
  c.pool = 16
  return common.variant(c, arg, "configs/hf_bon.py",
                        tiny=common.math_tiny(c, eval_problems=2, pool=2, max_new=16))

"""rStar on math word problems with Hugging Face models: MCTS with one-step and finish-the-
solution actions, answers picked with and without a second policy's mutual consistency.

  python -m experiments.rstar --config configs/hf_rstar.py --config.generator=<hf_sft workdir> \
      --config.prm=<hf_verifier workdir> --config.discriminator=<another policy on the same model> \
      --config.task.path=/data/gsm8k_test.jsonl

The generator, the PRM and the discriminator read one tokenizer. `:tiny` is for tests.
"""

from configs import common, countdown_rstar


def get_config(arg: str | None = None) -> common.ConfigDict:
  c = common.on_math(countdown_rstar.get_config(common.base_variant(arg)), "generator", "prm",
                     "discriminator")
  c.simulations = (4, 8, 16)
  c.step_tokens = 48
  c.finish_tokens = 256
  c.batch = 16
  return common.variant(
      c, arg, "configs/hf_rstar.py",
      tiny=common.math_tiny(c, eval_problems=2, simulations=(2,), step_tokens=12,
                            finish_tokens=24, batch=2))

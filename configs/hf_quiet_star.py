"""Quiet-STaR on a Hugging Face model: the model, with two new token ids for the start and end of
a thought, answers arithmetic directly (`compute 347*25`, then at once the answer line) and
learns to think before each answer token; compared with the same model trained on further
direct answers for as many FLOPs.

  python -m experiments.quiet_star --config configs/hf_quiet_star.py \
      --config.init_from=<Hugging Face model directory, or a run on one>

The base is the model fine-tuned on direct answers for `base_steps` steps (0: as it is). `:tiny`
is for tests.
"""

from configs import arithmetic_quiet_star, common


def get_config(arg: str | None = None) -> common.ConfigDict:
  c = arithmetic_quiet_star.get_config(common.base_variant(arg))
  c.init_from = ""
  c.train_problems = 5000
  c.eval_problems = 200
  c.base_steps = 200
  c.batch_size = 16
  c.base_optim = common.optim(1e-5, 20, b2=0.95)
  c.thought_lens = (4, 8)
  c.texts_per_step = 8
  c.steps = 100
  c.optim = common.optim(1e-6, 10, b2=0.95)
  c.eval_every = 50
  return common.variant(c, arg, "configs/hf_quiet_star.py",
                        tiny={"train_problems": 64, "eval_problems": 4, "base_steps": 2,
                              "batch_size": 4, "thought_lens": (2,), "texts_per_step": 2,
                              "steps": 2, "eval_every": 2, "base_optim.lr": 1e-3,
                              "base_optim.warmup_steps": 1, **common.FAST_OPTIM})

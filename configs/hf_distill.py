"""On-policy distillation on math word problems between Hugging Face models on one tokenizer.

  python -m experiments.distill --config configs/hf_distill.py --config.init_from=<student> \
      --config.teacher=<teacher> --config.task.path=/data/gsm8k_train.jsonl

The student (`init_from`: an SFT run or a model directory) samples, the teacher (`teacher`: any
run or model directory on the same tokenizer) scores every generated position with its full
next-token distribution, and the student descends the per-token reverse KL. The step holds the
teacher's [B, T, V] log-probabilities: at a 49k vocabulary keep minibatch_size x (prompt +
max_new) small. `:tiny` is for tests.
"""

from configs import common, countdown_distill


def get_config(arg: str | None = None) -> common.ConfigDict:
  c = common.on_math(countdown_distill.get_config(common.base_variant(arg)), "init_from",
                     "teacher")
  c.optim.lr = 1e-5
  c.steps = 200
  c.prompts_per_step = 16
  c.samples_per_prompt = 4
  c.minibatch_size = 16
  c.max_new = 256
  return common.variant(
      c, arg, "configs/hf_distill.py",
      tiny=common.math_tiny(c, eval_problems=1, **common.FAST_OPTIM, steps=2, prompts_per_step=2,
                            samples_per_prompt=2, minibatch_size=4, max_new=16))

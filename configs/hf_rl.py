"""RL (GRPO by default) on math word problems from an SFT run of a Hugging Face model.

  python -m experiments.rl --config configs/hf_rl.py --config.init_from=<hf_sft workdir> \
      --config.task.path=/data/gsm8k_train.jsonl [--config.rl.algo=ppo|rloo|reinforce]

The model, its tokenizer and the held-out problems come from the SFT run (configs/hf_sft.py);
the reward is the task verifier's (exact-fraction answer match). `:tiny` is for tests.
"""

from configs import common, countdown_rl


def get_config(arg: str | None = None) -> common.ConfigDict:
  c = common.on_math(countdown_rl.get_config(common.base_variant(arg)),  # its RL settings
                     "init_from")
  c.none_penalty = 0.0               # the dataset has no trap problems
  c.rl.negative_scale = 1.0          # textbook GRPO: Countdown's positive-only default is a
                                     # finding about its 0.86M policy, untested on real models
  c.optim.lr = 1e-6
  c.steps = 200
  c.prompts_per_step = 16
  c.samples_per_prompt = 8
  c.minibatch_size = 32
  c.max_new = 256
  return common.variant(
      c, arg, "configs/hf_rl.py",
      tiny=common.math_tiny(c, eval_problems=1, **common.FAST_OPTIM, steps=2, prompts_per_step=2,
                            samples_per_prompt=2, minibatch_size=4, max_new=16))

"""A critic on a Hugging Face model: the policy, fine-tuned on critiques of its own Countdown
solutions written by the task's exact step oracle, names the first wrong step and why.

  python -m experiments.critic --config configs/hf_critic.py --config.init_from=<hf_sft workdir \
      on Countdown> [--config.prm=<hf_verifier workdir with labels=oracle>]

The critic needs a task with a step oracle, so it runs on the synthetic tasks through the model's
tokenizer (SFT first: configs/hf_sft.py with `--config.task.name=countdown`). `:tiny` is for
tests.
"""

from configs import common, countdown_critic


def get_config(arg: str | None = None) -> common.ConfigDict:
  c = countdown_critic.get_config(common.base_variant(arg))
  c.init_from = ""
  c.max_new = 128
  c.critique_max_new = 96
  c.seq_len = 384
  c.slots = 32
  c.finetune = common.ConfigDict({"epochs": 2, "min_steps": 20, "batch_size": 16})
  c.optim = common.optim(1e-5, 10, b2=0.95)
  return common.variant(c, arg, "configs/hf_critic.py",
                        tiny={"max_new": 24, "critique_max_new": 24, "seq_len": 192,
                              "slots": 4, "finetune.min_steps": 1, "finetune.batch_size": 4,
                              **common.FAST_OPTIM})

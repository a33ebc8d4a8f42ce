"""RL on Countdown straight from a pretrained Hugging Face model (the TinyZero set-up): GRPO with
the verifier's outcome reward, no SFT.

  python -m experiments.rl --config configs/hf_countdown_rl.py \
      --config.init_from=/models/Qwen2.5-3B

`init_from` is a Hugging Face model directory (config.json, *.safetensors, tokenizer.json; local
files only) or an SFT run on one (configs/hf_sft.py with `--config.task.name=countdown`). The
prompt states the format in words before the problem line; the model's own tokenizer encodes
it, and the oracle's step labels, traps and step rewards are Countdown's as on the character
model. The held-out problems are drawn with seed 0 for a base model (the SFT run's seed
otherwise). `:tiny` is for tests (a tiny random model).
"""

from configs import common, countdown_rl, hf_rl

TEMPLATE = ("Use the numbers after 'countdown' to reach the number after 'to' with + - * /, each "
            "number at most once. Write one operation per line, like 5*3=15, then a last line "
            "'ANSWER: ' and the target, or 'ANSWER: none' if it cannot be reached.\n"
            "{question}\n")


def get_config(arg: str | None = None) -> common.ConfigDict:
  c = hf_rl.get_config(common.base_variant(arg))  # real-model RL settings
  c.task = common.countdown()
  c.task.template = TEMPLATE
  c.train_difficulties = c.eval_difficulties = (1, 2)
  c.none_penalty = countdown_rl.get_config().none_penalty  # Countdown has traps
  return common.variant(c, arg, "configs/hf_countdown_rl.py",
                        tiny={"train_difficulties": (1,), "eval_difficulties": (1,),
                              "eval_problems": 2, "max_new": 24})

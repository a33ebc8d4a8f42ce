"""STaR (bootstrapped rationales with rationalization) on math word problems, from an SFT run of
a Hugging Face model (configs/hf_sft.py) or a base model directory.

  python -m experiments.star --config configs/hf_star.py --config.init_from=<hf_sft workdir> \
      --config.task.path=/data/gsm8k_train.jsonl

Rationalization appends `task.hint_template` (the answer in place of `{hint}`) to the prompt; a
kept rationale is stored with the hint-free prompt. `--config.task.name=countdown` runs it on
Countdown through the model's tokenizer. `:tiny` is for tests.
"""

from configs import common, countdown_star


def get_config(arg: str | None = None) -> common.ConfigDict:
  c = common.on_math(countdown_star.get_config(), "init_from")
  c.train_problems = 500             # per difficulty, drawn from the file, held-out excluded
  c.eval_problems = 100
  c.balance_traps = False            # the dataset has no trap problems
  c.iterations = 3
  c.max_new = 256
  c.seq_len = 384
  c.finetune = common.ConfigDict({"epochs": 1, "min_steps": 20, "batch_size": 16})
  c.optim = common.optim(1e-5, 10, b2=0.95)
  return common.variant(
      c, arg, "configs/hf_star.py",
      tiny=common.math_tiny(c, train_problems=4, eval_problems=1, iterations=1, samples=2,
                            rationalize_samples=1, max_new=16, seq_len=192,
                            **{"finetune.min_steps": 1, "finetune.batch_size": 4},
                            **common.FAST_OPTIM))

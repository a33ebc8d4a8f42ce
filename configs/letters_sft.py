"""SFT on letter counting ("how many r in strawberry"), words of 3-11 letters, 10% traps.

  python -m experiments.sft --config configs/letters_sft.py[:tiny]

Machine: 2 CPU cores. Same model and budget as configs/countdown_sft.py.
"""

from configs import countdown_sft


def get_config(arg: str | None = None):
  c = countdown_sft.get_config(arg)
  c.task.name = "letters"
  c.train_difficulties = c.eval_difficulties = (1, 2, 3)
  return c

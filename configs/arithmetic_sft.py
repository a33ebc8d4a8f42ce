"""SFT on multi-digit addition/multiplication scratchpads (difficulties 1-3 digits, 10% traps).

  python -m experiments.sft --config configs/arithmetic_sft.py[:tiny]

Machine: 2 CPU cores. Same model and budget as configs/countdown_sft.py; the scratchpad makes
every step locally checkable, so accuracy is high at 1-2 digits and falls with length.
"""

from configs import countdown_sft


def get_config(arg: str | None = None):
  c = countdown_sft.get_config(arg)
  c.task.name = "arithmetic"
  c.train_difficulties = c.eval_difficulties = (1, 2, 3)
  return c

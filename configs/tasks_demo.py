"""The task demo: sampled problems with solver solutions and oracle labels, and a summary table.

  python -m experiments.tasks_demo --config configs/tasks_demo.py
  python -m experiments.tasks_demo --config configs/tasks_demo.py:tiny --config.seed=1

Machine: any CPU. Time: about 10 s (the 6-number Countdown solver dominates); tiny: about 1 s.
Expected: every family and difficulty shows a trap share near `trap_share` and all reference
solutions verify to 1.0 ("verified" column = 1.000).
"""

import ml_collections


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.seed = 0
  config.tasks = "countdown,arithmetic,letters"  # comma-separated names from reasoning.tasks.TASKS
  config.trap_share = 0.1
  config.examples_per_task = 2
  config.problems_per_difficulty = 200
  if arg == "tiny":
    config.problems_per_difficulty = 20
    config.examples_per_task = 1
  elif arg is not None:
    raise ValueError(f"configs/tasks_demo.py: unknown variant {arg!r}; expected 'tiny' or none")
  return config

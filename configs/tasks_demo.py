"""The task demo: sampled problems with solver solutions and oracle labels, and a summary table.

  python -m experiments.tasks_demo --config configs/tasks_demo.py
  python -m experiments.tasks_demo --config configs/tasks_demo.py:tiny --config.seed=1

Expected: every family and difficulty shows a trap share near `trap_share` and all reference
solutions verify to 1.0 ("verified" column = 1.000).
"""

from configs import common


def get_config(arg: str | None = None) -> common.ConfigDict:
  c = common.ConfigDict()
  c.seed = 0
  c.tasks = ("countdown", "arithmetic", "letters")  # names from reasoning.tasks.TASKS
  c.trap_share = 0.1
  c.examples_per_task = 2
  c.problems_per_difficulty = 200
  return common.variant(c, arg, "configs/tasks_demo.py",
                        tiny={"problems_per_difficulty": 20, "examples_per_task": 1})

"""rStar on Countdown: MCTS with two action types, answers picked with and without a second
policy's mutual consistency, compared at equal FLOPs.

  python -m experiments.rstar --config configs/countdown_rstar.py --config.generator=runs/demo/sft \
      --config.prm=runs/demo/prm --config.discriminator=<another policy workdir>

Machine: 2 CPU cores. Results: docs/search.md.
"""

from configs import common


def get_config(arg: str | None = None) -> common.ConfigDict:
  c = common.ConfigDict()
  c.seed = 0
  c.generator = "runs/demo/sft"
  c.value = "prm"                # leaf and answer scores: 'prm' (c.prm) | 'value' (value head)
  c.prm = "runs/demo/prm"
  c.discriminator = "runs/demo/rl"
  c.task = common.countdown()
  c.eval_difficulties = (1, 2)
  c.eval_problems = 100          # per difficulty, from the generator's SFT held-out set
  c.simulations = (4, 8, 16, 32)
  c.num_candidates = 4           # per node: 3 one-step actions + 1 finish-the-solution action
  c.step_tokens = 16
  c.finish_tokens = 48
  c.max_trajectories = 8         # distinct finished trajectories per problem, best first
  c.batch = 200
  return common.variant(
      c, arg, "configs/countdown_rstar.py",
      tiny={"eval_problems": 3, "simulations": (2, 3), "num_candidates": 2, "step_tokens": 8,
            "finish_tokens": 24, "batch": 4},
      small={"eval_problems": 30, "simulations": (4, 8), "batch": 60})

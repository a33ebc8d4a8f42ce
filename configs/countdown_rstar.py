"""rStar mutual consistency on Countdown: a generator policy's MCTS trajectories checked by a
second policy.

  python -m experiments.rstar --config configs/countdown_rstar.py --config.generator=runs/demo/sft \
      --config.prm=runs/demo/prm --config.discriminator=runs/demo/rl_grpo

The discriminator should differ from the generator (another seed, or another training run such
as the RL or STaR policy). Machine: 2 CPU cores; figures in docs/results.md.
"""

import ml_collections


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.seed = 0
  c.generator = "runs/demo/sft"
  c.value = "prm"                # leaf and answer scores: 'prm' (c.prm) | 'value' (value head)
  c.prm = "runs/demo/prm"
  c.discriminator = "runs/demo/rl_grpo"
  c.task = ml_collections.ConfigDict({"name": "countdown", "trap_share": 0.1})
  c.eval_difficulties = "1,2"
  c.eval_problems = 100          # per difficulty, from the generator's SFT held-out set
  c.simulations = "4,8,16,32"
  c.num_candidates = 4           # per node: 3 one-step actions + 1 finish-the-solution action
  c.step_tokens = 16
  c.finish_tokens = 48
  c.max_trajectories = 8         # distinct finished trajectories per problem, best first
  c.batch = 200
  if arg == "tiny":
    c.eval_problems = 3
    c.simulations = "2,3"
    c.num_candidates = 2
    c.step_tokens = 8
    c.finish_tokens = 24
    c.batch = 4
  elif arg == "small":  # make reproduce SCALE=small
    c.eval_problems = 30
    c.simulations = "4,8"
    c.batch = 60
  elif arg is not None:
    raise ValueError(f"configs/countdown_rstar.py: unknown variant {arg!r}; "
                     "expected 'tiny', 'small' or none")
  return c

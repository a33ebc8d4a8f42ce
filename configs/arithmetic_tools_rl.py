"""RL (GRPO) with the calc tool from configs/arithmetic_tools_sft.py's run: rollouts interleave
the policy's lines and the environment's, whose tokens carry no loss.

  python -m experiments.rl --config configs/arithmetic_tools_rl.py --workdir runs/tools_rl
  python scripts/tool_use.py --out runs/tools_eval sft=runs/tools_sft rl=runs/tools_rl

The reward is the exact answer's; the metrics add `tool_calls` per rollout answer and
`eval/tool_calls` per held-out greedy answer. Results, times and machine: docs/tools.md.
"""

from configs import arithmetic_tools_sft, common, countdown_rl


def get_config(arg: str | None = None) -> common.ConfigDict:
  c = countdown_rl.get_config()
  c.init_from = "runs/tools_sft"
  sft = arithmetic_tools_sft.get_config()
  c.task = sft.task                  # the SFT run's task, its tools included
  c.train_difficulties = c.eval_difficulties = sft.eval_difficulties
  c.eval_problems = 200              # per difficulty
  c.none_penalty = 0.0               # no traps
  c.rl.negative_scale = 1.0          # textbook GRPO: wrong answers are pushed down too
  c.steps = 40
  c.prompts_per_step = 16
  c.minibatch_size = 64
  c.eval_log_points = 4
  common.outputs(c, checkpoint_every=10, log_every=1, eval_every=40)
  return common.variant(
      c, arg, "configs/arithmetic_tools_rl.py",
      small={"steps": 20, "eval_problems": 50, "eval_every": 20, "eval_log_points": 3},
      tiny={"eval_problems": 4, "steps": 3, "prompts_per_step": 4, "samples_per_prompt": 2,
            "minibatch_size": 4, "eval_every": 2, "checkpoint_every": 1, "rollout_slots": 4,
            "eval_slots": 4, "eval_log_points": 0, "optim.warmup_steps": 1})

"""SFT on 4-6-digit multiplication with the environment's calc tool (reasoning/tools.py).

  python -m experiments.sft --config configs/arithmetic_tools_sft.py --workdir runs/tools_sft

Half the examples (`task.tools.trace_share`) call the tool, `call calc 4821*37`, read the
environment's `result 178377` (not trained on) and state it; the other half state an answer
alone, computed by the model itself. RL from this run
(configs/arithmetic_tools_rl.py) measures whether the policy learns to call. Results, times and
machine: docs/tools.md.
"""

from configs import common, countdown_sft


def get_config(arg: str | None = None) -> common.ConfigDict:
  c = countdown_sft.get_config()
  c.task = common.task({"name": "arithmetic", "trap_share": 0.0, "ops": "*",
                        "tools": common.tools(trace_share=0.5)})
  c.train_difficulties = c.eval_difficulties = (4, 5, 6)
  c.hint_share = 0.0                 # tool traces carry no STaR hint
  c.steps = 600
  c.seq_len = c.pack_len = 96
  common.outputs(c, checkpoint_every=200, log_every=50, eval_every=300)
  return common.variant(
      c, arg, "configs/arithmetic_tools_sft.py",
      small={"steps": 300, "eval_problems": 100, "eval_every": 300, "pass_k": 0},
      tiny={"train_problems": 300, "eval_problems": 8, "steps": 6, "batch_size": 8,
            "optim.warmup_steps": 2, "eval_every": 3, "pass_k": 2, "checkpoint_every": 2,
            "log_every": 1, **{f"model.{k}": v for k, v in common.TINY_MODEL.items()}})

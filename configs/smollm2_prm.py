"""A PRM on a real model's own samples: SmolLM2-135M-Instruct after SFT on the arithmetic
scratchpad (configs/smollm2_sft.py), its replies' lines labelled by the task's exact step oracle.

  python -m experiments.verifier --config configs/smollm2_prm.py --workdir runs/smollm2_prm

The reward model starts from the SFT policy's weights (a value head at zero) and trains on 4
samples at T=1 of each of 200 training problems; held-out step- and solution-level ROC-AUC on 4
samples of 30 problems per difficulty. `:tiny` is for tests.
"""

from configs import common, countdown_verifier, smollm2_sft


def get_config(arg: str | None = None) -> common.ConfigDict:
  c = countdown_verifier.get_config()
  c.init_from = "runs/smollm2_sft"
  c.task = smollm2_sft.task()
  c.train_difficulties = c.eval_difficulties = (2, 3)
  c.eval_problems = 30
  c.max_new = 64
  c.train_problems = 200
  c.optim = common.optim(5e-5, 5)
  c.steps = 50
  c.batch_size = 16
  common.outputs(c, checkpoint_every=25, log_every=5)
  return common.variant(
      c, arg, "configs/smollm2_prm.py",
      tiny={"train_problems": 4, "samples_per_problem": 2, "eval_problems": 1, "eval_samples": 2,
            "max_new": 24, **common.FAST_OPTIM, "steps": 2, "batch_size": 4,
            "checkpoint_every": 1, "log_every": 1})

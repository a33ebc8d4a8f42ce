"""A critic (a generative verifier that names the first wrong step and why) fine-tuned from the
Countdown SFT policy on its own samples, critiqued by the task's exact step oracle.

  python -m experiments.critic --config configs/countdown_critic.py --config.init_from=runs/demo/sft \
      [--config.prm=PRM_WORKDIR]

With `prm` (a verifier run, experiments.verifier) the PRM's verdicts are scored beside the
critic's on the same solutions. Results, times and machine: docs/verifiers.md.
"""

from configs import common


def get_config(arg: str | None = None) -> common.ConfigDict:
  c = common.ConfigDict()
  c.seed = 0
  c.init_from = "runs/demo/sft"  # the policy whose solutions are critiqued, and the critic's start
  c.prm = ""                     # a PRM workdir to compare with ('' : none)
  c.prm_threshold = 0.5          # the PRM's verdict: the first step scored below this
  c.task = common.countdown()
  c.train_difficulties = (1, 2)
  c.train_problems = 400         # per difficulty (held-out excluded): the default PRM's 800
  c.samples = 4                  # policy solutions per training problem, at `temperature`
  c.synthetic_problems = 0       # more training problems with synthetic flawed solutions
  c.synthetic_per_problem = 4    # (countdown_traces.flawed_solution), critiqued by the oracle
  c.right_share = 0.5            # at most this share of the critiques are of right solutions
  c.eval_difficulties = (1, 2)
  c.eval_problems = 500          # per difficulty, the SFT run's held-out problems
  c.eval_samples = 2             # policy solutions per held-out problem
  c.eval_flawed = 1              # and synthetic flawed solutions per held-out problem: a second
                                 # view, whose errors are spread over every step
  c.temperature = 1.0
  c.max_new = 64                 # the policy's solutions
  c.critique_max_new = 52        # the critic's critique: a reason line and a verdict line; a
                                 # critic prompt gets the model's max_len minus this
  c.slots = 128                  # the slot engine's rows for every batch of generations
  c.seq_len = 128                # fine-tuning rows: prompt, solution and critique (longer: dropped)
  c.finetune = common.ConfigDict({"epochs": 6, "min_steps": 100, "batch_size": 64})
  c.optim = common.optim(3e-4, 30)
  c.mesh = common.mesh()
  common.outputs(c)
  return common.variant(
      c, arg, "configs/countdown_critic.py",
      tiny={"train_problems": 8, "samples": 2, "synthetic_problems": 8, "eval_flawed": 2, "eval_problems": 3, "eval_samples": 2,
            "max_new": 24, "critique_max_new": 24, "slots": 4,
            "finetune.epochs": 1, "finetune.min_steps": 2, "finetune.batch_size": 4},
      small={"train_problems": 200, "eval_problems": 100})

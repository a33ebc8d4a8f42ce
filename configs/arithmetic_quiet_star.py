"""Quiet-STaR on arithmetic answered directly: `compute 347+85` then at once `ANSWER: 432`, no
visible scratchpad, so any reasoning happens in the hidden thoughts.

  python -m experiments.quiet_star --config configs/arithmetic_quiet_star.py [--config.seed=1]

Per seed: a base model trained from scratch on direct answers; from it, Quiet-STaR for each
thought length and, for comparison, the same base trained on further direct answers for as many
FLOPs. Results, times and machine: docs/self_improvement.md.
"""

from configs import common


def get_config(arg: str | None = None) -> common.ConfigDict:
  c = common.ConfigDict()
  c.seed = 0
  c.init_from = ""               # a Hugging Face model (or a run on one): hf_quiet_star.py
  c.meta_init = "---"            # with init_from: START/END start at its tokens' mean embedding
  c.model = common.ConfigDict(dict(common.CHAR_MODEL))  # from scratch (no init_from)
  c.task = common.ConfigDict({"name": "arithmetic", "trap_share": 0.0, "ops": "+*"})
  c.difficulties = (2, 3)
  c.train_problems = 20_000      # per difficulty: the direct-answer training set
  c.eval_problems = 500          # per difficulty, held out
  c.seq_len = 32
  c.base_steps = 1500            # the base model's direct-answer training, batch `batch_size`
  c.batch_size = 64
  c.base_optim = common.optim(2e-3, 100)
  c.thought_lens = (2, 4, 8)       # one Quiet-STaR arm per thought length m
  c.n_true = 4                   # true tokens each thought is scored on (non-myopic)
  c.thoughts = 2                 # thoughts per text (REINFORCE baseline: their mean)
  c.texts_per_step = 16          # texts per Quiet-STaR step (x `thoughts` rows)
  c.steps = 150                  # Quiet-STaR steps per arm
  c.temperature = 1.0            # thought sampling, in training and evaluation
  c.policy_weight = 1.0
  c.optim = common.optim(2e-4, 20)
  c.eval_every = 250             # the plain arm's evaluations (it runs to the largest arm's FLOPs)
  common.outputs(c)
  return common.variant(
      c, arg, "configs/arithmetic_quiet_star.py",
      tiny={"model": dict(common.CHAR_MODEL, **common.TINY_MODEL), "train_problems": 64,
            "eval_problems": 4, "base_steps": 4, "batch_size": 8, "thought_lens": (2,),
            "texts_per_step": 2, "steps": 2, "eval_every": 2, "base_optim.warmup_steps": 1,
            "optim.warmup_steps": 1},
      small={"train_problems": 5000, "eval_problems": 200, "base_steps": 800,
             "thought_lens": (4,), "steps": 60, "eval_every": 100})

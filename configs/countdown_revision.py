"""A revision model (Snell et al. 2024, section 6) fine-tuned from the Countdown SFT policy, its
chains of revisions on the held-out problems, and the split of a budget between sequential
revisions and parallel chains, per difficulty bin.

  python -m experiments.revision --config configs/countdown_revision.py \
      --config.init_from=runs/demo/sft --config.prm=PRM_WORKDIR [--config.critic=CRITIC_WORKDIR]

The PRM (experiments.verifier) picks each setting's answer among its attempts. Results, times
and machine: docs/search.md.
"""

from configs import common


def get_config(arg: str | None = None) -> common.ConfigDict:
  c = common.ConfigDict()
  c.seed = 0
  c.init_from = "runs/demo/sft"  # the policy: the revision model's start and its data's sampler
  c.prm = "runs/demo/prm"        # picks the answer among a setting's attempts
  c.prm_aggregation = "min"
  c.critic = ""                  # a critic workdir (experiments.critic): critiques in the context;
                                 # 'oracle': the task's step oracle writes them (a perfect critic)
  c.compare_with = ""            # another revision run on the same problems, compared at equal FLOPs
  c.critique_max_new = 52        # the critic's critique (its prompt gets max_len minus this)
  c.task = common.countdown()
  c.train_difficulties = (1, 2)
  c.train_problems = 1000        # per difficulty (held-out excluded)
  c.samples = 8                  # policy samples per training problem, at `temperature`
  c.max_wrong = 2                # wrong attempts before the right one: k ~ U{0..max_wrong}
  c.oracle_fixes = False         # problems no sample solved get the reference solution as fix
  c.keep_right = 0.0             # share of pairs followed by one that repeats a right attempt
  c.context = 2                  # earlier attempts a revision sees (fewer where they do not fit)
  c.eval_difficulties = (1, 2)
  c.eval_problems = 200          # per difficulty, the SFT run's held-out problems
  c.chains = 8                   # C parallel chains per held-out problem
  c.length = 8                   # L_max attempts per chain
  c.budgets = (1, 2, 4, 8, 16, 32, 64)  # N attempts per problem; every L = 1, 2, 4, ... dividing N
  c.bins = 5                     # model-relative bins of the first attempts' pass rate
  c.temperature = 1.0
  c.max_new = 48                 # an attempt; a revision prompt gets max_len minus this
  c.slots = 128
  c.seq_len = 128                # fine-tuning rows (contexts are cut to fit)
  c.finetune = common.ConfigDict({"epochs": 3, "min_steps": 100, "batch_size": 64})
  c.optim = common.optim(3e-4, 30)
  c.mesh = common.mesh()
  common.outputs(c)
  return common.variant(
      c, arg, "configs/countdown_revision.py",
      tiny={"train_problems": 8, "samples": 4, "eval_problems": 3, "chains": 2, "length": 2,
            "budgets": (1, 2, 4), "bins": 2, "max_new": 24, "slots": 4, "context": 1, "oracle_fixes": True, "critique_max_new": 24,
            "finetune.epochs": 1, "finetune.min_steps": 2, "finetune.batch_size": 4},
      small={"train_problems": 300, "eval_problems": 60, "chains": 4, "length": 4,
             "budgets": (1, 2, 4, 8, 16)})

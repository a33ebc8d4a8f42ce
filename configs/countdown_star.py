"""STaR (Zelikman et al. 2022) on Countdown from the SFT checkpoint, with rationalization.

  python -m experiments.star --config configs/countdown_star.py --config.init_from=runs/demo/sft
  python -m experiments.star --config configs/countdown_star.py --config.rationalize=False
  python -m experiments.star --config configs/countdown_star.py \
      --config.fresh_problems=False --config.accumulate=False      # the paper's fixed-set loop

`init_from` is an SFT workdir whose training saw hinted prompts (configs/countdown_sft.py,
hint_share > 0): that is how our from-scratch policy learns to use a rationalization hint, where
the paper's pretrained LM was shown a few examples. Machine: 2 CPU cores; figures in
docs/results.md.
"""

import ml_collections


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.seed = 0
  c.init_from = "runs/demo/sft"
  c.task = ml_collections.ConfigDict({"name": "countdown", "trap_share": 0.1})
  c.train_difficulties = "1,2"
  c.train_problems = 2000        # per difficulty, fixed across iterations (held-out excluded)
  c.eval_difficulties = "1,2"
  c.eval_problems = 200          # per difficulty, the SFT run's held-out problems
  c.iterations = 4
  c.samples = 4                  # rationales sampled per problem and iteration
  c.temperature = 1.0
  c.rationalize = True           # hinted second chance for the problems no sample solved
  c.rationalize_samples = 2
  c.balance_traps = True         # at most trap_share of the kept examples are traps
  # Departures from the paper's fixed dataset, which plateau here after one iteration (session 9,
  # docs/results.md): a new draw of problems every iteration after the first, and fine-tuning
  # on the union of every iteration's kept examples (so the data grows as the policy improves).
  c.fresh_problems = True
  c.accumulate = True
  c.max_new = 64
  c.seq_len = 128
  c.finetune = ml_collections.ConfigDict({"epochs": 2, "min_steps": 40, "batch_size": 64})
  c.optim = ml_collections.ConfigDict({
      "lr": 2e-4, "warmup_steps": 10, "min_lr_ratio": 0.1, "weight_decay": 0.0,
      "b1": 0.9, "b2": 0.98, "grad_clip": 1.0})
  c.mesh = ml_collections.ConfigDict({"data": -1, "fsdp": 1, "tensor": 1})  # reasoning/mesh.py
  c.keep_checkpoints = 2
  if arg == "tiny":
    c.train_problems = 12
    c.eval_problems = 4
    c.iterations = 2
    c.samples = 2
    c.max_new = 24
    c.finetune.update({"epochs": 1, "min_steps": 2, "batch_size": 8})
  elif arg == "small":  # make reproduce SCALE=small
    c.train_problems = 300
    c.eval_problems = 100
    c.iterations = 3
    c.samples = 2
    c.finetune.min_steps = 20
  elif arg is not None:
    raise ValueError(f"configs/countdown_star.py: unknown variant {arg!r}; "
                     "expected 'tiny', 'small' or none")
  return c

"""On-policy distillation of the 0.22M Countdown policy from the 0.86M one (experiments.distill).

  python -m experiments.sft --config configs/countdown_sft.py:width64 --workdir runs/sft_width64
  python -m experiments.distill --config configs/countdown_distill.py --workdir runs/distill
  python -m experiments.distill --config configs/countdown_distill.py:offpolicy \
      --workdir runs/distill_offpolicy

The student (`init_from`, the 0.22M SFT run) samples 8 completions of each of 32 training prompts
per step, the teacher (`teacher`, the 0.86M SFT run of `make demo`) scores every generated
position and the student descends the per-token reverse KL to it there (`distill.divergence`:
reverse_kl, forward_kl, jsd or nll). `:offpolicy` samples from the teacher and trains on its
completions (nll: SFT on teacher samples), the baseline. The batch, step count and held-out set
are configs/countdown_rl.py's, so `--config.init_from=runs/sft_width64` there gives RL at the same
student sampling cost. Results, times and machine: docs/distillation.md.
"""

from configs import common


def get_config(arg: str | None = None) -> common.ConfigDict:
  c = common.ConfigDict()
  c.seed = 0
  c.init_from = "runs/sft_width64"   # the student: an SFT run (or one started from it)
  c.teacher = "runs/demo/sft"        # any run on the same vocabulary, frozen
  c.task = common.countdown()
  c.train_difficulties = (1, 2)
  c.eval_difficulties = (1, 2)
  c.eval_problems = 500              # per difficulty
  c.distill = common.ConfigDict({"divergence": "reverse_kl", "beta": 0.5, "sampler": "student"})
  c.optim = common.optim(3e-4, 5, min_lr_ratio=0.5)
  c.steps = 130
  c.prompts_per_step = 32
  c.samples_per_prompt = 8           # samples of each prompt (the RL config's group)
  c.epochs = 1
  c.minibatch_size = 128
  c.max_new = 64
  c.temperature = 1.0                # sampling temperature (1: the sampler's own distribution)
  c.rollout_slots = 32
  c.eval_slots = 128
  c.eval_log_points = 6              # > 0: also evaluate at that many log-spaced steps
  c.pass_k = 4
  c.mesh = common.mesh()
  c.memory = common.memory()
  c.lora = common.lora()
  common.outputs(c, checkpoint_every=10, log_every=1, eval_every=130)
  return common.variant(
      c, arg, "configs/countdown_distill.py",
      tiny={"eval_problems": 4, "steps": 3, "prompts_per_step": 4, "samples_per_prompt": 2,
            "minibatch_size": 4, "max_new": 24, "eval_every": 2, "checkpoint_every": 1,
            "rollout_slots": 4, "eval_slots": 4, "eval_log_points": 3},
      small={"eval_problems": 100, "steps": 24, "prompts_per_step": 16, "eval_every": 8,
             "checkpoint_every": 8},
      offpolicy={"distill.sampler": "teacher", "distill.divergence": "nll"},
      forward_kl={"distill.divergence": "forward_kl"},
      jsd={"distill.divergence": "jsd"})

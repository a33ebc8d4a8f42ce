"""RL on chains of thought from the Countdown SFT checkpoint: outcome reward from the verifier.

  python -m experiments.rl --config configs/countdown_rl.py --config.init_from=runs/demo/sft
  python -m experiments.rl --config configs/countdown_rl.py --config.rl.algo=ppo   # grpo|rloo|reinforce
  python -m experiments.rl --config configs/countdown_rl.py:retry --config.init_from=<sft :retry>
  python -m experiments.rl --config configs/countdown_rl.py:dapo   # a recipe: RECIPES below

The recipes (RECIPES; `:tiny,dapo` joins variants) change only what their papers name; the KL
term, learning rate and batch stay the base's, and every recipe pushes failures down
(negative_scale 1), as published. scripts/recipe_sweep.py fits each one's compute curve.

`init_from` is an SFT workdir: its config.json gives the model shape, its latest checkpoint the
initial (and frozen reference) parameters, its metrics the SFT FLOPs that start the train-compute
axis. Results, times and machine: docs/training.md (the default run, the longer runs and the
algorithm comparison) and docs/scaling.md (compute curves and the recipe sweep).
"""

import dataclasses

from configs import common
from reasoning.train import pg

RECIPES: dict[str, dict] = {
    "grpo": {"rl.negative_scale": 1.0},                       # Shao et al. 2024, as published
    "dapo": {"rl.negative_scale": 1.0, "rl.clip_eps_high": 0.28, "dynamic_sampling": 0.5,
             "overlong_buffer": 16},                          # Yu et al. 2025
    "dr_grpo": {"rl.negative_scale": 1.0, "rl.normalize_std": False,
                "rl.aggregation": "constant"},                # Liu et al. 2025
    "gspo": {"rl.negative_scale": 1.0, "rl.importance": "sequence", "rl.clip_eps": 3e-4,
             "rl.clip_eps_high": 4e-4, "rl.aggregation": "sequence"},  # Zheng et al. 2025
    "cispo": {"rl.negative_scale": 1.0, "rl.objective": "cispo", "rl.clip_eps": 1.0,
              "rl.clip_eps_high": 0.28},                      # MiniMax 2025; Khatri et al. 2025
    "reinforce_pp": {"rl.negative_scale": 1.0, "rl.algo": "reinforce_pp",
                     "rl.kl_in_reward": True},                # Hu 2025
}

# An asynchronous sampler k steps ahead of the learner: each rollout sampled by the policy of k
# steps before, step t+1's generation dispatched before step t trains, truncated importance
# weights capped at 2 (scripts/recipe_sweep.py --recipes default,async1,async2,async4).
ASYNC: dict[str, dict] = {f"async{k}": {"off_policy_steps": k, "pipeline": True, "rl.tis_cap": 2.0}
                          for k in (1, 2, 4)}


def get_config(arg: str | None = None) -> common.ConfigDict:
  c = common.ConfigDict()
  c.seed = 0
  c.init_from = "runs/demo/sft"
  c.task = common.countdown()
  c.train_difficulties = (1, 2)
  c.train_trap_share = common.placeholder(float)  # None: the task's
  c.eval_difficulties = (1, 2)       # the trained ones (SFT's difficulty 3: docs/training.md)
  c.eval_problems = 500             # per difficulty
  # The objective: every field of reasoning/train/pg.PGConfig (its defaults, documented there:
  # algorithm, clipping, KL, GAE, aggregation, the recipe options) but one. Positive-only
  # updates: with failures pushed down too (1.0, the textbook estimators) the 0.86M policy loses
  # ground at difficulty 2; rl.push_penalized=True still pushes down a penalized sample (a false
  # `none`, an illegal step). docs/training.md.
  c.rl = common.ConfigDict({**dataclasses.asdict(pg.PGConfig()), "negative_scale": 0.0})
  c.optim = common.optim(1e-4, 5, min_lr_ratio=0.5)
  c.steps = 130                # RL steps (rollout + updates)
  c.prompts_per_step = 32
  c.samples_per_prompt = 8     # G: the group for GRPO/RLOO
  c.epochs = 1                 # passes over each rollout batch
  c.minibatch_size = 128       # rows per gradient step
  c.max_new = 64
  # Generation with the slot engine (reasoning/sampling.py): this many rows decode at once and a
  # finished row's slot takes the next waiting prompt; 0: the whole batch decodes as one static
  # batch until its longest row is done. Rollouts and evaluation draw each row's noise from its
  # row index (the same samples at any slot count).
  c.rollout_slots = 32
  c.eval_slots = 128
  c.temperature = 1.0          # rollout temperature; below 1 the samples are not the policy's
                               # own (log-probs and ratios stay at temperature 1)
  c.format_penalty = 0.0       # reward of a malformed completion is -format_penalty
  c.none_penalty = 0.25        # reward of `ANSWER: none` on a solvable problem is -none_penalty
  c.illegal_penalty = 0.0      # reward of a wrong answer with an illegal step (the fudged last
                               # step) is -illegal_penalty; with rl.push_penalized it is pushed down
  c.step_reward = 0.0          # process reward: + step_reward x share of oracle-good lines
  # The reward optimized: the exact verifier's (model ""), or a frozen reward model's score (a
  # verifier run: ORM P(correct), PRM steps aggregated by `aggregation`; a critic run: 1 when
  # its critique names no wrong step), plus the verifier's with plus_verifier. The verifier's
  # verdict is logged either way (pass_rate: the gold reward).
  # dense=True (a PRM; ppo, reinforce_pp or grpo): each step's score rewarded on the token that
  # ends the step instead of one aggregated score per completion (pg.token_advantages).
  c.reward = common.ConfigDict({"model": "", "aggregation": "min", "plus_verifier": False,
                                "dense": False})
  c.abandoned_credit = 1.0     # advantage scale on attempts a completion abandoned (`retry`)
  c.curriculum = True          # sample difficulties by p(1-p) of their running pass rate
  c.fresh_prompts = False      # True: never train on the SFT run's training prompts either
  c.baseline_decay = 0.9       # REINFORCE moving-average baseline
  c.dynamic_sampling = 0.0     # > 0: sample that share more groups, train on informative ones
  c.overlong_buffer = 0        # > 0: DAPO's soft overlong penalty over the last tokens of max_new
  c.off_policy_steps = 0       # k >= 1: each rollout sampled by the policy of k steps before
  c.pipeline = False           # with off_policy_steps >= 1: generate step t+1 while step t is
                               # verified and trained (its prompts from the curriculum one step
                               # behind): an asynchronous sampler
  c.time_phases = False        # True: wait at each phase of a step and log time/generate,
                               # time/score, time/reward, time/advantages, time/update (s)
  c.eval_log_points = 6        # > 0: also evaluate at that many log-spaced steps (compute fits)
  c.mesh = common.mesh()
  c.memory = common.memory()
  c.lora = common.lora()
  # Held-out sampled pass@1 (the mean of pass_k samples at T=1 per problem) is what RL moves at
  # this scale: the policy's distribution sharpens while its greedy answer stays (docs/training.md).
  c.pass_k = 4
  common.outputs(c, checkpoint_every=10, log_every=1, eval_every=130)
  return common.variant(
      c, arg, "configs/countdown_rl.py",
      tiny={"eval_problems": 4, "steps": 3, "prompts_per_step": 4, "samples_per_prompt": 2,
            "minibatch_size": 4, "max_new": 24, "eval_every": 2, "checkpoint_every": 1,
            "rollout_slots": 4, "eval_slots": 4},
      small={"eval_problems": 100, "steps": 24, "prompts_per_step": 16, "eval_every": 8,
             "checkpoint_every": 8},
      retry={"max_new": 104, "abandoned_credit": 0.0},
      # The compute-curve runs (docs/scaling.md): 1,000 held-out problems per difficulty and 10
      # log-spaced evaluations, so the first half of the log-compute range has 5 points to fit.
      fit={"eval_problems": 1000, "eval_log_points": 10},
      # The recipe sweep's runs (scripts/recipe_sweep.py): half the batch, 100 steps, 300
      # held-out difficulty-1 problems evaluated at 6 log-spaced steps.
      sweep={"prompts_per_step": 16, "steps": 100, "eval_difficulties": (1,),
             "eval_problems": 300, "eval_every": 100, "eval_log_points": 6},
      **RECIPES, **ASYNC)  # from configs/countdown_sft.py:retry

"""RL on chains of thought (PPO, GRPO, RLOO, REINFORCE, REINFORCE++; the DAPO, Dr. GRPO, GSPO
and CISPO recipes) from an SFT checkpoint.

  python -m experiments.rl --config configs/countdown_rl.py --config.init_from=SFT_WORKDIR \
      [--config.rl.algo=ppo] [--workdir DIR]

Each step (reasoning/train/rl_loop.py, rollout.py): sample prompts (a pure function of seed and step), roll
out G completions per prompt with the jitted sampler at `temperature` (1: the policy itself),
score them with the task's verifier (host side), compute log-probs under the policy and the
frozen SFT reference, advantages per algorithm, then `epochs` passes of minibatch updates.
`dynamic_sampling` > 0 samples that many more groups and trains on the informative ones
(DAPO); `off_policy_steps=k` samples each rollout with the policy of k steps before, as an
asynchronous sampler running k steps ahead of the learner would (`rl.tis_cap` corrects it); with
`pipeline` as well, step t+1's generation is dispatched before step t's completions are
verified, so the host verifies while the device generates (its prompts are drawn with the
curriculum's pass rates of one step before).
Without `dynamic_sampling` the scoring under policy and reference is dispatched before the
verification too.
Writes config.json, metrics.jsonl, TensorBoard events, checkpoints/ and plots/train_scaling.png
(held-out pass@1 against cumulative train FLOPs, SFT included). A rerun resumes exactly.
"""

from __future__ import annotations

from experiments import cli, common
from reasoning import loop, runs as runs_lib
from reasoning.text import prompt_length
from reasoning.train import rewards as rewards_lib, rl_loop


def run(config, workdir: str) -> dict:
  cfg = rl_loop.RLConfig.from_config(config)
  vocab, _, model_cfg, graphdef, sft_params, sft_flops = runs_lib.load_sft(
      config.init_from, memory=config.get("memory"))
  task = runs_lib.make_task(config, vocab)
  rewards_lib.check_shaping(task, step_reward=config.step_reward,
                            illegal_penalty=config.illegal_penalty)
  runs_lib.save_config(config, workdir)
  eval_problems = runs_lib.evaluation_set(task, config.init_from, config.eval_difficulties,
                                          config.eval_problems)
  # Prompts RL never trains on: the held-out set, and with fresh_prompts the SFT run's own
  # training prompts (on those the policy recalls memorized solutions; fresh problems are what
  # the held-out set measures).
  skip = {p.prompt for p in eval_problems} | (
      runs_lib.trained_prompts(runs_lib.load_sft_config(config.init_from))
      if config.get("fresh_prompts") else frozenset())
  prompt_len = max(prompt_length(vocab, p.prompt) for p in eval_problems) + 4
  # With LoRA the state trains the adapters (and value/reward heads) only; the policy is the
  # frozen SFT parameters merged with them, and the reference is the SFT parameters themselves.
  trainable, lora_cfg, policy_of = common.post_training_parameters(sft_params, config)
  learned = rl_loop.reward_model(config.reward.model, vocab,
                                 aggregation=config.reward.aggregation,
                                 seq_len=prompt_len + config.max_new + 2)
  rl = rl_loop.RLLoop(cfg, workdir, task=task, vocab=vocab, model_cfg=model_cfg,
                      graphdef=graphdef, trainable=trainable, reference=sft_params,
                      policy_of=policy_of, lora_cfg=lora_cfg, sft_flops=sft_flops,
                      eval_problems=eval_problems, skip=skip, prompt_len=prompt_len,
                      learned=learned)
  params = rl.run()
  # RL's gain on the held-out problems, paired per problem between the first and last
  # evaluation, with its standard error.
  loop.log_paired_gain(rl.writer, workdir, config.steps, eval_problems,
                       write=rl.start < config.steps, what="RL",
                       train_flops=rl.meta["train_flops"], algo=cfg.pg.algo)
  metrics = common.finish_post_training(rl.writer, workdir, config, cfg.pg.algo,
                                        f"{config.task.name}: SFT then RL ({cfg.pg.algo})")
  return {"params": params, "metrics": metrics}


if __name__ == "__main__":
  cli.main(run, "rl")

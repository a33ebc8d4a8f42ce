"""Expert iteration with MCTS on math word problems, from an SFT run of a Hugging Face model
(configs/hf_sft.py) or a base model directory.

  python -m experiments.expert_iteration --config configs/hf_expert_iteration.py \
      --config.init_from=<hf_sft workdir> --config.task.path=/data/gsm8k_train.jsonl

MCTS runs on the model's tokenizer: steps end at any token ending in a newline, answer lines are
matched on the tokenizer's own encoding of `ANSWER: `. `target='sft'` (the default here) trains
on the verified search trajectories; 'policy' needs the value head, which a pretrained model does
not have until the first iteration trains it. `--config.task.name=countdown` runs it on
Countdown. `:tiny` is for tests.
"""

from configs import common, countdown_expert_iteration


def get_config(arg: str | None = None) -> common.ConfigDict:
  c = common.on_math(countdown_expert_iteration.get_config(), "init_from")
  c.train_problems = 500
  c.eval_problems = 100
  c.target = "sft"
  c.problems_per_iteration = 64
  c.mcts_batch = 16
  c.max_moves = 8
  c.step_tokens = 48
  c.max_new = 256
  c.batch_size = 8
  c.optim = common.optim(1e-5, 10, b2=0.95)
  return common.variant(
      c, arg, "configs/hf_expert_iteration.py",
      tiny=common.math_tiny(c, train_problems=4, eval_problems=1, iterations=1,
                            problems_per_iteration=2, num_simulations=2, num_candidates=2,
                            max_moves=2, step_tokens=12, mcts_batch=2, max_new=16, batch_size=2,
                            **common.FAST_OPTIM))

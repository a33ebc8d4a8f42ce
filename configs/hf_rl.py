"""RL (GRPO by default) on math word problems from an SFT run of a Hugging Face model.

  python -m experiments.rl --config configs/hf_rl.py --config.init_from=<hf_sft workdir> \
      --config.task.path=/data/gsm8k_train.jsonl [--config.rl.algo=ppo|rloo|reinforce]

The model, its tokenizer and the held-out problems come from the SFT run (configs/hf_sft.py);
the reward is the task verifier's (exact-fraction answer match). `:tiny` is for tests.
"""

import os
import runpy

import ml_collections

# The Countdown RL config's algorithm settings, with this task, model and scale.
_base = runpy.run_path(os.path.join(os.path.dirname(__file__), "countdown_rl.py"))["get_config"]


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  c = _base("tiny" if arg == "tiny" else None)
  c.init_from = ""
  c.task = ml_collections.ConfigDict({"name": "math_jsonl", "path": "tests/data/math_sample.jsonl",
                                      "template": "{question}\n"})  # the prompt, no chat template
  c.train_difficulties = "1,2,3"
  c.eval_difficulties = "1,2,3"
  c.none_penalty = 0.0               # the dataset has no trap problems
  c.rl.negative_scale = 1.0          # textbook GRPO: Countdown's positive-only default is a
                                     # finding about its 0.86M policy, untested on real models
  c.optim.lr = 1e-6
  c.steps = 200
  c.prompts_per_step = 16
  c.samples_per_prompt = 8
  c.minibatch_size = 32
  c.max_new = 256
  if arg == "tiny":
    c.train_difficulties = "1"
    c.eval_difficulties = "1"
    c.eval_problems = 1
    c.optim.update({"lr": 1e-3, "warmup_steps": 1})
    c.steps = 2
    c.prompts_per_step = 2
    c.samples_per_prompt = 2
    c.minibatch_size = 4
    c.max_new = 16
  elif arg is not None:
    raise ValueError(f"configs/hf_rl.py: unknown variant {arg!r}; expected 'tiny' or none")
  return c

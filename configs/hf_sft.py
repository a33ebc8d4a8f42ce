"""SFT of a Hugging Face model (Llama / Qwen2 / Mistral layout, local files) on math word problems.

  python -m experiments.sft --config configs/hf_sft.py \
      --config.model.path=/models/Qwen2.5-0.5B --config.task.path=/data/gsm8k_train.jsonl

`model.path` is a local directory with config.json, *.safetensors and tokenizer.json (nothing is
downloaded); the model's own tokenizer encodes the task text, prompts are plain text (no chat
template; `--config.task.template` formats them), steps are lines and the last line is
`ANSWER: x`. `task.path` is a JSONL file of
{"question", "answer"} rows (GSM8K's `#### x` understood; reasoning/tasks/math_jsonl.py). The
held-out problems are drawn from the same file and excluded from training. On a GPU, add
`--config.model.dtype=bfloat16`. `:tiny` is for tests (a tiny random model and the sample file).
Then RL: configs/hf_rl.py with `--config.init_from=<this workdir>`.
"""

import ml_collections


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.seed = 0
  c.task = ml_collections.ConfigDict({"name": "math_jsonl", "path": "tests/data/math_sample.jsonl",
                                      "template": "{question}\n"})  # the prompt, no chat template
  c.train_difficulties = "1,2,3"     # 1: <= 2 reference steps, 2: 3-4, 3: 5 or more
  c.eval_difficulties = "1,2,3"
  c.train_problems = 2_000           # drawn per difficulty (with replacement past the file's count)
  c.eval_problems = 100              # per difficulty
  c.solutions = "canonical"          # the dataset's reference reasoning
  c.hint_share = 0.0
  c.retries = 0                      # retry examples (configs/countdown_sft.py) need a task
  c.retry_share = 0.5                #   with failed attempts: Countdown, not a dataset
  c.own_misses_from = ""
  c.give_up = False
  c.model = ml_collections.ConfigDict({"path": "", "dtype": "float32"})  # path: required
  c.optim = ml_collections.ConfigDict({
      "lr": 1e-5, "warmup_steps": 20, "min_lr_ratio": 0.1, "weight_decay": 0.0,
      "b1": 0.9, "b2": 0.95, "grad_clip": 1.0})
  c.steps = 500
  c.batch_size = 16
  c.seq_len = 384                    # tokens: prompt + reasoning + answer
  c.pack_len = 0
  c.eval_every = 100
  c.pass_k = 0
  c.mesh = ml_collections.ConfigDict({"data": -1, "fsdp": 1, "tensor": 1})  # reasoning/mesh.py
  c.checkpoint_every = 100
  c.keep_checkpoints = 2
  c.log_every = 10
  if arg == "tiny":
    c.train_difficulties = "1"
    c.eval_difficulties = "1"
    c.train_problems = 8
    c.eval_problems = 1
    c.optim.update({"lr": 1e-3, "warmup_steps": 1})
    c.steps = 3
    c.batch_size = 4
    c.seq_len = 192
    c.eval_every = 2
    c.checkpoint_every = 1
    c.log_every = 1
  elif arg is not None:
    raise ValueError(f"configs/hf_sft.py: unknown variant {arg!r}; expected 'tiny' or none")
  return c

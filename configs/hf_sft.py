"""SFT of a Hugging Face model (Llama / Qwen2 / Mistral layout, local files) on math word problems.

  python -m experiments.sft --config configs/hf_sft.py \
      --config.model.path=/models/Qwen2.5-0.5B --config.task.path=/data/gsm8k_train.jsonl

`model.path` is a local directory with config.json, *.safetensors and tokenizer.json (nothing is
downloaded); the model's own tokenizer encodes the task text, prompts are plain text (no chat
template; `--config.task.template` formats them), steps are lines and the last line is
`ANSWER: x`. `task.path` is a JSONL file of {"question", "answer"} rows (GSM8K's `#### x`
understood; reasoning/tasks/math_jsonl.py). The held-out problems are drawn from the same file
and excluded from training. On a GPU, add `--config.model.dtype=bfloat16`. `:tiny` is for tests
(a tiny random model and the sample file). Then RL: configs/hf_rl.py with
`--config.init_from=<this workdir>`. docs/real_models.md.
"""

from configs import common, countdown_sft


def get_config(arg: str | None = None) -> common.ConfigDict:
  # Its data fields: canonical solutions, no retries. Difficulty 1: <= 2 reference steps, 2:
  # 3-4, 3: 5 or more.
  c = common.on_math(countdown_sft.get_config())
  c.train_problems = 2_000           # drawn per difficulty (with replacement past the file's count)
  c.eval_problems = 100              # per difficulty
  c.hint_share = 0.0
  c.model = common.ConfigDict({"path": "", "dtype": "float32"})  # path: required
  c.optim = common.optim(1e-5, 20, b2=0.95)
  c.steps = 500
  c.batch_size = 16
  c.seq_len = 384                    # tokens: prompt + reasoning + answer
  c.pack_len = 0
  c.pass_k = 0
  common.outputs(c, checkpoint_every=100, log_every=10, eval_every=100)
  return common.variant(
      c, arg, "configs/hf_sft.py",
      tiny=common.math_tiny(c, train_problems=8, eval_problems=1, **common.FAST_OPTIM, steps=3,
                            batch_size=4, seq_len=192, eval_every=2, checkpoint_every=1,
                            log_every=1))

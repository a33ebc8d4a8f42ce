"""SFT of a real pretrained model on a scratchpad: SmolLM2-135M-Instruct asked multi-digit sums
and products through its own chat template, taught to reply with the arithmetic task's column
scratchpad (one line per column or partial product, then `ANSWER: x`), so that every reply has
steps an exact oracle judges: the policy of the PRM and tree search on a real model
(configs/smollm2_prm.py, configs/smollm2_search.py).

  make smollm2                                    # fetch and convert the model (.cache/smollm2)
  python -m experiments.sft --config configs/smollm2_sft.py --workdir runs/smollm2_sft

The user turn is "What is 347 + 85? Work it out column by column."; the assistant turn is the
scratchpad, closed by the model's end-of-turn token. Difficulties 2 and 3 (2-3 digit first operand;
products by a 1-digit number), no traps; 100 held-out problems per difficulty, greedy and
sampled (4 at T=1). A short run on purpose: the policy learns the format and makes mistakes
for search to find. `:tiny` is for tests (a tiny random instruct-format model).
"""

from configs import common, countdown_sft


def task() -> common.ConfigDict:
  """The task block of the SFT run and of every stage built on it (the PRM, the searches)."""
  return common.ConfigDict({
      "name": "arithmetic", "trap_share": 0.0,
      "chat": common.chat("What is {a} {op} {b}?", "Work it out column by column.",
                          scratchpad=True)})


def get_config(arg: str | None = None) -> common.ConfigDict:
  c = countdown_sft.get_config()
  c.model = common.ConfigDict({"path": ".cache/smollm2/hf", "dtype": "float32"})
  c.task = task()
  c.train_difficulties = c.eval_difficulties = (2, 3)
  c.train_problems = 4_000           # per difficulty
  c.eval_problems = 100              # per difficulty
  c.hint_share = 0.0
  c.optim = common.optim(5e-5, 10, min_lr_ratio=0.1)
  c.steps = 40
  c.batch_size = 16
  c.seq_len = 104                    # tokens: the chat prompt, the scratchpad and end-of-turn
  c.pack_len = 0
  c.pass_k = 4
  common.outputs(c, checkpoint_every=20, log_every=5, eval_every=40)
  return common.variant(
      c, arg, "configs/smollm2_sft.py",
      tiny={"model.path": "", "train_problems": 40, "eval_problems": 2, **common.FAST_OPTIM,
            "steps": 2, "batch_size": 2, "seq_len": 128, "pass_k": 2, "eval_every": 2,
            "checkpoint_every": 1, "log_every": 1})

"""Blocks every config shares, and variant parsing, in the manner of big_vision's
configs/common.py: a config file holds only what is specific to its experiment."""

from __future__ import annotations

from typing import Mapping

import ml_collections
from ml_collections import ConfigDict

placeholder = ml_collections.config_dict.placeholder  # a field that may be None

# The default policy: 0.86M parameters over the character vocabulary.
CHAR_MODEL = {"d_model": 128, "n_layers": 4, "n_heads": 4, "n_kv_heads": 4, "d_ff": 384,
              "max_len": 128, "mlp": "swiglu", "tie_embeddings": True, "dtype": "float32"}
TINY_MODEL = {"d_model": 32, "n_layers": 2, "n_heads": 2, "n_kv_heads": 2, "d_ff": 64}
# A math JSONL file (GSM8K's format understood): `--config.task.path` names it. The `:tiny`
# variants read SAMPLE_MATH, the suite's sample file.
SAMPLE_MATH = "tests/data/math_sample.jsonl"
MATH_TASK = {"name": "math_jsonl", "path": "",
             "template": "{question}\n",       # the prompt, no chat template
             "hint_template": "hint {hint}\n"}  # STaR's rationalization hint line


def countdown(trap_share: float = 0.1) -> ConfigDict:
  return ConfigDict({"name": "countdown", "trap_share": trap_share})


def chat(question: str, instruction: str = "", system: str = "", scratchpad: bool = False
         ) -> ConfigDict:
  """A task block's `chat`: the task posed through the model's chat template, the user message
  `question` ({fields} from each problem's meta) then `instruction`, after an optional `system`
  message; the reply's answer is read as an instruct model states it (tasks/chat.py), or, with
  `scratchpad`, the reply is the task's scratchpad, judged line by line by its step oracle."""
  return ConfigDict({"question": question, "instruction": instruction, "system": system,
                     "scratchpad": scratchpad})


def tools(trace_share: float = 1.0, max_calls: int = 4, available: bool = True) -> ConfigDict:
  """A task block's `tools`: the environment's calc tool (reasoning/tools.py); `trace_share` of
  the SFT examples call it, the rest state the answer alone; `max_calls` per answer;
  `available` False answers every call with an error (the policy measured without its tool)."""
  return ConfigDict({"trace_share": trace_share, "max_calls": max_calls, "available": available})


def task(fields: dict) -> ConfigDict:
  return ConfigDict(dict(fields))


def on_math(c: ConfigDict, *runs: str, difficulties: tuple = (1, 2, 3)) -> ConfigDict:
  """`c` posed on a math JSONL file (`--config.task.path` names it) at `difficulties`, for each
  difficulty field `c` has, with the run directories `runs` (init_from, prm, ...) left empty
  for the user to name: what every hf_* config changes in the synthetic-task config it builds
  on."""
  for name in runs:
    c[name] = ""
  c.task = task(MATH_TASK)
  for field in ("train_difficulties", "eval_difficulties"):
    if field in c:
      c[field] = difficulties
  return c


def math_tiny(c: ConfigDict, **overrides) -> dict:
  """The `:tiny` overrides of a config `on_math`: the suite's sample file at difficulty 1 (for
  each difficulty field `c` has), then `overrides`."""
  return {"task.path": SAMPLE_MATH,
          **{f: (1,) for f in ("train_difficulties", "eval_difficulties") if f in c},
          **overrides}


def base_variant(arg: str | None) -> str | None:
  """The variant of the config a derived one builds on: its `:tiny` when `arg` is tiny."""
  return "tiny" if arg == "tiny" else None


# `:tiny` optimizer settings: a few steps that move the weights.
FAST_OPTIM = {"optim.lr": 1e-3, "optim.warmup_steps": 1}


def model(**overrides) -> ConfigDict:
  """The character-vocabulary transformer, with `overrides`."""
  return ConfigDict({**CHAR_MODEL, **overrides})


def optim(lr: float, warmup_steps: int, min_lr_ratio: float = 0.1, weight_decay: float = 0.0,
          b1: float = 0.9, b2: float = 0.98, grad_clip: float = 1.0) -> ConfigDict:
  """AdamW with linear warmup and cosine decay to lr * min_lr_ratio (reasoning/train/state.py)."""
  return ConfigDict({"lr": lr, "warmup_steps": warmup_steps, "min_lr_ratio": min_lr_ratio,
                     "weight_decay": weight_decay, "b1": b1, "b2": b2, "grad_clip": grad_clip})


def memory(remat: str = "none", logits_chunk: int = 0, param_dtype: str = "float32") -> ConfigDict:
  """How the model is held and computed in training: gradient checkpointing of each block
  (remat: 'none' | 'full' | 'dots') and next-token log-probs `logits_chunk` positions at a time,
  so the [B, T, V] logits are never held at once (0: all positions); neither changes what is
  computed. param_dtype='bfloat16' halves the parameters and the optimizer state and trains in
  pure bf16 (that one changes the numbers). For real models on an accelerator: remat='dots',
  logits_chunk=128 (scripts/bench.py --memory measures each)."""
  return ConfigDict({"remat": remat, "logits_chunk": logits_chunk, "param_dtype": param_dtype})


def lora(rank: int = 0, alpha: float = 16.0, targets: tuple = ("attn", "mlp")) -> ConfigDict:
  """LoRA (reasoning/lora.py): rank 0 trains every parameter; rank r > 0 trains a rank-r update
  of the attention ('attn') and MLP ('mlp') kernels and the value/reward heads, the rest frozen."""
  return ConfigDict({"rank": rank, "alpha": alpha, "targets": targets})


def mesh(data: int = -1, fsdp: int = 1, tensor: int = 1) -> ConfigDict:
  """Device mesh axes (reasoning/mesh.py); -1: every device not used by the other axes."""
  return ConfigDict({"data": data, "fsdp": fsdp, "tensor": tensor})


def outputs(c: ConfigDict, *, checkpoint_every: int | None = None, keep_checkpoints: int = 2,
            log_every: int | None = None, eval_every: int | None = None) -> ConfigDict:
  """The fields that change how a run is watched and saved, never what it computes (a rerun in
  the same workdir may change them)."""
  for name, value in (("checkpoint_every", checkpoint_every), ("log_every", log_every),
                      ("eval_every", eval_every)):
    if value is not None:
      c[name] = value
  c.keep_checkpoints = keep_checkpoints
  return c


def variant(c: ConfigDict, arg: str | None, path: str, **variants: Mapping) -> ConfigDict:
  """`c` with the overrides of variant `arg` ({dotted field: value}); none for arg None.
  Variants join with commas (`:tiny,dapo`), applied left to right. An unknown variant is an
  error naming the config file and the known ones."""
  if arg is None:
    return c
  for name in arg.split(","):
    if name not in variants:
      known = ", ".join(repr(v) for v in variants)
      raise ValueError(f"{path}: unknown variant {name!r}; expected one of {known} or none")
    for dotted, value in variants[name].items():
      override(c, dotted, value)
  return c


def override(c: ConfigDict, dotted: str, value) -> None:
  """Sets the field at the dotted path `dotted` ("optim.lr") of `c` to `value`."""
  node = c
  *parents, leaf = dotted.split(".")
  for key in parents:
    node = node[key]
  node[leaf] = value

"""GGUF files (llama.cpp's format) as Hugging Face directories: one import path for every model.

  gguf_import.to_hf_dir("SmolLM2-135M-Instruct.Q4_1.gguf", "cache/smollm2")
  cfg, graphdef, params = hf.load("cache/smollm2")
  tok = HFTokenizer.from_dir("cache/smollm2")     # its chat template in tok.chat_template

`to_hf_dir` writes `config.json`, `model.safetensors` (every tensor dequantized to float32),
`tokenizer.json` and `tokenizer_config.json` (special tokens and the chat template), the files
`hf.load` and `HFTokenizer.from_dir` read, so a GGUF model is a Hugging Face model from there on
(and exported as one by `hf.save`). Architectures: llama, qwen2, mistral. Tensor types: F32, F16,
BF16, Q8_0, Q4_0, Q4_1 (and whatever else the `gguf` package dequantizes); anything else is an
error naming the field.

llama.cpp's converter stores a Llama's q/k projections with the rows of each head reordered for
its rotary layout; `to_hf_dir` undoes that, so q/k come back in Hugging Face's order. The BPE
tokenizer is rebuilt from the file's vocabulary and merges, with the pre-tokenizer its
`tokenizer.ggml.pre` names (digits split one by one for SmolLM2's, as llama.cpp does).
The `gguf` package (numpy only) is imported when a file is read.
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

ARCHITECTURES = {"llama": "LlamaForCausalLM", "mistral": "MistralForCausalLM",
                 "qwen2": "Qwen2ForCausalLM"}
TENSOR_TYPES = ("F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q4_K", "Q5_K",
                "Q6_K", "Q8_K")
_GPT2_SPLIT = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"
_LLAMA3_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
                 r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
_QWEN2_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
                r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
# tokenizer.ggml.pre -> (split digits one by one first, the split regex): llama.cpp's table.
PRE_TOKENIZERS = {"default": (False, _GPT2_SPLIT), "gpt2": (False, _GPT2_SPLIT),
                  "smollm": (True, _GPT2_SPLIT), "llama-bpe": (False, _LLAMA3_SPLIT),
                  "llama3": (False, _LLAMA3_SPLIT), "qwen2": (False, _QWEN2_SPLIT)}
_NAMES = {"token_embd": "model.embed_tokens", "output_norm": "model.norm", "output": "lm_head",
          "attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj",
          "attn_v": "self_attn.v_proj", "attn_output": "self_attn.o_proj",
          "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj", "ffn_down": "mlp.down_proj",
          "attn_norm": "input_layernorm", "ffn_norm": "post_attention_layernorm"}


def _reader(path: str):
  import gguf
  if not os.path.exists(path):
    raise ValueError(f"{path}: no such GGUF file")
  try:
    return gguf.GGUFReader(path)
  except Exception as e:  # the reader raises several types on a malformed file
    raise ValueError(f"{path}: not a readable GGUF file ({e})") from e


def metadata(reader) -> dict[str, Any]:
  """Every key-value field of the file (token lists as Python lists)."""
  out = {}
  for name, field in reader.fields.items():
    try:
      out[name] = field.contents()
    except Exception:  # pragma: no cover - fields of types the package cannot decode
      continue
  return out


def hf_config(meta: dict[str, Any], path: str) -> dict[str, Any]:
  """A Hugging Face config.json dict from the file's metadata."""
  arch = meta.get("general.architecture")
  if arch not in ARCHITECTURES:
    raise ValueError(f"{path}: general.architecture={arch!r} is not supported "
                     f"({', '.join(sorted(ARCHITECTURES))})")

  def field(name, default=None):
    key = f"{arch}.{name}"
    if key not in meta and default is None:
      raise ValueError(f"{path}: metadata field {key!r} is missing")
    return meta.get(key, default)

  if meta.get(f"{arch}.rope.scaling.type", "none") not in ("none",):
    raise ValueError(f"{path}: {arch}.rope.scaling.type="
                     f"{meta[f'{arch}.rope.scaling.type']!r} is not supported")
  heads = int(field("attention.head_count"))
  config = {"architectures": [ARCHITECTURES[arch]], "model_type": arch,
            "vocab_size": int(meta.get(f"{arch}.vocab_size",
                                       len(meta.get("tokenizer.ggml.tokens", [])))),
            "hidden_size": int(field("embedding_length")),
            "intermediate_size": int(field("feed_forward_length")),
            "num_hidden_layers": int(field("block_count")),
            "num_attention_heads": heads,
            "num_key_value_heads": int(field("attention.head_count_kv", heads)),
            "max_position_embeddings": int(field("context_length")),
            "rms_norm_eps": float(field("attention.layer_norm_rms_epsilon")),
            "rope_theta": float(field("rope.freq_base", 10000.0)),
            "hidden_act": "silu", "torch_dtype": "float32"}
  for name in ("bos", "eos", "padding"):
    value = meta.get(f"tokenizer.ggml.{name}_token_id")
    if value is not None:
      config[f"{'pad' if name == 'padding' else name}_token_id"] = int(value)
  return config


def _unpermute(w: np.ndarray, heads: int) -> np.ndarray:
  """Inverse of llama.cpp's q/k row order ([heads, 2, half] -> [heads, half, 2] per head)."""
  rows = w.shape[0]
  return w.reshape(heads, rows // heads // 2, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def tensors(reader, config: dict[str, Any], path: str) -> dict[str, np.ndarray]:
  """Every tensor dequantized to float32 under its Hugging Face name."""
  from gguf import quants
  arch = config["model_type"]
  out = {}
  for t in reader.tensors:
    kind = t.tensor_type.name
    if kind not in TENSOR_TYPES:
      raise ValueError(f"{path}: tensor {t.name!r} has type {kind}, which is not supported "
                       f"({', '.join(TENSOR_TYPES)})")
    parts = t.name.split(".")
    if parts[0] == "blk":
      layer, base, leaf = parts[1], parts[2], parts[3]
      if base not in _NAMES:
        raise ValueError(f"{path}: tensor {t.name!r} has no Hugging Face counterpart")
      name = f"model.layers.{layer}.{_NAMES[base]}.{leaf}"
    elif parts[0] in _NAMES and len(parts) == 2:
      base, leaf = parts
      name = f"{_NAMES[base]}.{leaf}"
    elif parts[0] == "rope_freqs":
      continue  # llama.cpp's precomputed rotary factors: hf.py recomputes them
    else:
      raise ValueError(f"{path}: tensor {t.name!r} has no Hugging Face counterpart")
    shape = tuple(int(n) for n in reversed(t.shape))  # ggml lists dimensions fastest first
    array = np.asarray(quants.dequantize(t.data, t.tensor_type), np.float32).reshape(shape)
    if arch in ("llama", "mistral") and base in ("attn_q", "attn_k"):
      heads = config["num_attention_heads" if base == "attn_q" else "num_key_value_heads"]
      array = _unpermute(array, heads)
    out[name] = array
  config["tie_word_embeddings"] = "lm_head.weight" not in out
  return out


def tokenizer_files(meta: dict[str, Any], path: str) -> tuple[dict, dict]:
  """(tokenizer.json, tokenizer_config.json) dicts of a byte-level BPE vocabulary."""
  from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers
  kind = meta.get("tokenizer.ggml.model")
  if kind != "gpt2":
    raise ValueError(f"{path}: tokenizer.ggml.model={kind!r} is not supported (a byte-level "
                     f"BPE vocabulary, 'gpt2', is)")
  pre = meta.get("tokenizer.ggml.pre", "default")
  if pre not in PRE_TOKENIZERS:
    raise ValueError(f"{path}: tokenizer.ggml.pre={pre!r} is not supported "
                     f"({', '.join(sorted(PRE_TOKENIZERS))})")
  tokens = list(meta["tokenizer.ggml.tokens"])
  types = list(meta.get("tokenizer.ggml.token_type", [1] * len(tokens)))
  merges = [tuple(m.split(" ", 1)) for m in meta["tokenizer.ggml.merges"]]
  tok = Tokenizer(models.BPE(vocab={t: i for i, t in enumerate(tokens)}, merges=merges,
                             fuse_unk=False, byte_fallback=False))
  digits, split = PRE_TOKENIZERS[pre]
  steps: list[pre_tokenizers.PreTokenizer] = (
      [pre_tokenizers.Digits(individual_digits=True)] if digits else [])
  steps += [pre_tokenizers.Split(Regex(split), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)]
  tok.pre_tokenizer = pre_tokenizers.Sequence(steps)
  tok.decoder = decoders.ByteLevel()
  # Control (3) and user-defined (4) tokens are matched whole in text, as llama.cpp does.
  tok.add_special_tokens([AddedToken(tokens[i], special=True, normalized=False)
                          for i, t in enumerate(types) if t == 3])
  tok.add_tokens([AddedToken(tokens[i], special=False, normalized=False)
                  for i, t in enumerate(types) if t == 4])
  config = {"tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": 1 << 30,
            "add_bos_token": bool(meta.get("tokenizer.ggml.add_bos_token", False))}
  for name, key in (("bos_token", "bos"), ("eos_token", "eos"), ("pad_token", "padding"),
                    ("unk_token", "unknown")):
    value = meta.get(f"tokenizer.ggml.{key}_token_id")
    if value is not None:
      config[name] = tokens[int(value)]
  if "tokenizer.chat_template" in meta:
    config["chat_template"] = meta["tokenizer.chat_template"]
  return json.loads(tok.to_str()), config


def to_hf_dir(path: str, out: str) -> str:
  """Writes the GGUF file at `path` as a Hugging Face directory `out` (see the module doc)."""
  from safetensors.numpy import save_file
  reader = _reader(path)
  meta = metadata(reader)
  config = hf_config(meta, path)
  weights = tensors(reader, config, path)
  tokenizer, tokenizer_config = tokenizer_files(meta, path)
  os.makedirs(out, exist_ok=True)
  save_file(weights, os.path.join(out, "model.safetensors"))
  for name, data in (("config.json", config), ("tokenizer.json", tokenizer),
                     ("tokenizer_config.json", tokenizer_config)):
    with open(os.path.join(out, name), "w") as f:
      json.dump(data, f, ensure_ascii=False)
  return out

"""Llama / Qwen2 / Mistral checkpoints in the Hugging Face layout, imported into our transformer.

  cfg, graphdef, params = hf.load("path/to/dir")          # config.json + *.safetensors
  hf.save("out/dir", cfg, params, hf_config)              # the same layout back

Local files only: nothing is downloaded. `config.json` maps onto `ModelConfig` (grouped-query
attention, RoPE theta, RMSNorm eps, tied embeddings, q/k/v biases for Qwen2, no embedding scale);
RoPE 'linear' and 'llama3' scaling (Llama 3.1+); anything the model cannot represent (another
activation, other RoPE scaling types, sliding windows, an
explicit head_dim that differs from hidden/heads) is a ValueError naming the file and field,
never a silently different network. Weights are read with `safetensors` as numpy arrays (no
torch), from one file or the shards `model.safetensors.index.json` lists; with a mesh, each array
is placed with `mesh.state_shardings`. The value and reward heads, which HF checkpoints lack,
start at zero (a value of 0, a reward logit of 0) and are saved under `reasoning.*` names that
transformers ignores, so import -> export -> import is exact.

Torch Linear weights are [out, in]; our kernels are [in, out]. Our fused layouts: the kv kernel is
[d, 2 * kv_heads * head_dim] = [k_proj.T | v_proj.T], the SwiGLU up kernel [d, 2 * ff] =
[gate_proj.T | up_proj.T]. RoPE is the rotate-half form HF uses, so q/k need no permutation.
"""

from __future__ import annotations

import json
import os
from typing import Any

import jax
import numpy as np

from reasoning import model as model_lib
from reasoning.text import NOT_A_TOKEN

ARCHITECTURES = {"LlamaForCausalLM": "llama", "Qwen2ForCausalLM": "qwen2",
                 "MistralForCausalLM": "mistral"}
_EXTRA = "reasoning."  # our heads, saved next to the HF tensors
# RoPE types the model implements (model.rope_frequencies) and the fields each needs.
_ROPE_FIELDS = {"default": (), "linear": ("factor",),
                "llama3": ("factor", "low_freq_factor", "high_freq_factor",
                           "original_max_position_embeddings")}


def config_from_hf(hf: dict[str, Any], *, where: str = "config.json", max_len: int | None = None,
                   dtype: str = "float32", specials=None,
                   settings: dict | None = None) -> model_lib.ModelConfig:
  """Our ModelConfig for a HF config dict; ValueError naming `where` and the field otherwise.

  The pad and BOS ids come from `specials` (a tokenizer's, text.Specials) when given, else the
  BOS id from the config and padding marked with text.NOT_A_TOKEN (the config's pad_token_id is
  a real token, often the EOS, that prompts may hold). `settings`
  are ModelConfig fields of how the model is computed, not its weights (remat, logits_chunk,
  attention)."""
  def field(name, default=None):
    if name not in hf and default is None:
      raise ValueError(f"{where}: missing field {name!r}")
    return hf.get(name, default)

  archs = field("architectures")
  if not archs or archs[0] not in ARCHITECTURES:
    raise ValueError(f"{where}: architectures={archs!r} is not supported; expected one of "
                     f"{sorted(ARCHITECTURES)}")
  if field("hidden_act", "silu") != "silu":
    raise ValueError(f"{where}: hidden_act={hf['hidden_act']!r} is not supported (SwiGLU = silu)")
  if hf.get("mlp_bias"):
    raise ValueError(f"{where}: mlp_bias=true is not supported (the MLP has no biases)")
  # transformers >= 5 writes `rope_parameters` {rope_type, rope_theta, scaling fields} instead of
  # a top-level rope_theta and `rope_scaling`; reading only the old fields would silently fall
  # back to theta = 10000 and no scaling.
  rope = dict(hf.get("rope_parameters") or hf.get("rope_scaling") or {})
  rope_type = rope.pop("rope_type", rope.pop("type", "default"))
  theta = rope.pop("rope_theta", hf.get("rope_theta", 10_000.0))
  if rope_type not in _ROPE_FIELDS:
    raise ValueError(f"{where}: rope_type={rope_type!r} is not supported; expected one of "
                     f"{sorted(_ROPE_FIELDS)}")
  missing = [f for f in _ROPE_FIELDS[rope_type] if f not in rope]
  if missing:
    raise ValueError(f"{where}: rope_type={rope_type!r} needs the field {missing[0]!r}")
  scaling = () if rope_type == "default" else tuple(sorted(
      [(f, rope[f]) for f in _ROPE_FIELDS[rope_type]] + [("rope_type", rope_type)]))
  if hf.get("use_sliding_window") or (hf.get("sliding_window") and ARCHITECTURES[archs[0]] ==
                                      "mistral"):
    raise ValueError(f"{where}: sliding-window attention is not supported")
  hidden, heads = field("hidden_size"), field("num_attention_heads")
  if hf.get("head_dim") not in (None, hidden // heads):
    raise ValueError(f"{where}: head_dim={hf['head_dim']} differs from hidden_size / "
                     f"num_attention_heads = {hidden // heads}, which the model assumes")
  bias = ARCHITECTURES[archs[0]] == "qwen2" or bool(hf.get("attention_bias", False))
  return model_lib.ModelConfig(
      vocab_size=field("vocab_size"), d_model=hidden, n_layers=field("num_hidden_layers"),
      n_heads=heads, n_kv_heads=hf.get("num_key_value_heads") or heads,
      d_ff=field("intermediate_size"), max_len=max_len or field("max_position_embeddings"),
      mlp="swiglu", tie_embeddings=bool(hf.get("tie_word_embeddings", False)),
      rope_theta=float(theta), rope_scaling=scaling, norm_eps=float(field("rms_norm_eps")),
      embed_scale=False, attn_bias=bias, dtype=dtype, **_pad_bos(hf, specials), **(settings or {}))


def _pad_bos(hf: dict[str, Any], specials) -> dict[str, Any]:
  if specials is not None:
    return {"pad_id": specials.pad, "bos_id": specials.bos, "eos_id": specials.eos}
  eos = hf.get("eos_token_id")
  eos = eos[0] if isinstance(eos, list) and eos else eos
  eos = eos if isinstance(eos, int) else None
  return {"pad_id": NOT_A_TOKEN, "bos_id": hf.get("bos_token_id"), "eos_id": eos}


def _hf_names(cfg: model_lib.ModelConfig) -> dict[str, tuple]:
  """HF tensor name -> (our path, how): how is 'copy', 'T' (transpose) or a fused part."""
  names: dict[str, tuple] = {"model.embed_tokens.weight": (("embed", "embedding"), "copy"),
                             "model.norm.weight": (("final_norm", "scale"), "copy")}
  if not cfg.tie_embeddings:
    names["lm_head.weight"] = (("lm_head", "kernel"), "T")
  for i in range(cfg.n_layers):
    pre, blk = f"model.layers.{i}.", f"block_{i}"
    names.update({
        pre + "self_attn.q_proj.weight": ((blk, "attn", "q", "kernel"), "T"),
        pre + "self_attn.k_proj.weight": ((blk, "attn", "kv", "kernel"), ("T", 0)),
        pre + "self_attn.v_proj.weight": ((blk, "attn", "kv", "kernel"), ("T", 1)),
        pre + "self_attn.o_proj.weight": ((blk, "attn", "o", "kernel"), "T"),
        pre + "mlp.gate_proj.weight": ((blk, "mlp", "up", "kernel"), ("T", 0)),
        pre + "mlp.up_proj.weight": ((blk, "mlp", "up", "kernel"), ("T", 1)),
        pre + "mlp.down_proj.weight": ((blk, "mlp", "down", "kernel"), "T"),
        pre + "input_layernorm.weight": ((blk, "attn_norm", "scale"), "copy"),
        pre + "post_attention_layernorm.weight": ((blk, "mlp_norm", "scale"), "copy")})
    if cfg.attn_bias:
      names.update({
          pre + "self_attn.q_proj.bias": ((blk, "attn", "q", "bias"), "copy"),
          pre + "self_attn.k_proj.bias": ((blk, "attn", "kv", "bias"), ("copy", 0)),
          pre + "self_attn.v_proj.bias": ((blk, "attn", "kv", "bias"), ("copy", 1))})
  for head in ("value_head", "reward_head"):
    for leaf in ("kernel", "bias"):
      names[f"{_EXTRA}{head}.{leaf}"] = ((head, leaf), "copy")
  return names


def _read_tensors(directory: str) -> dict[str, np.ndarray]:
  from safetensors.numpy import load_file
  index = os.path.join(directory, "model.safetensors.index.json")
  if os.path.exists(index):
    with open(index) as f:
      files = sorted(set(json.load(f)["weight_map"].values()))
  else:
    files = sorted(f for f in os.listdir(directory) if f.endswith(".safetensors"))
    if not files:
      raise ValueError(f"{directory}: no *.safetensors file (and no model.safetensors.index.json)")
  tensors = {}
  for name in files:
    path = os.path.join(directory, name)
    if not os.path.exists(path):
      raise ValueError(f"{index}: lists shard {name!r}, which is missing from {directory}")
    try:
      tensors.update(load_file(path))
    except Exception as e:  # safetensors raises its own error types for truncated files
      raise ValueError(f"{path}: unreadable safetensors file ({type(e).__name__}: {e})") from e
  return tensors


def read_json(path: str) -> dict[str, Any]:
  """A parsed JSON file of a model directory, {} if it is absent; ValueError naming the file if
  it is not valid JSON."""
  if not os.path.exists(path):
    return {}
  try:
    with open(path) as f:
      return json.load(f)
  except json.JSONDecodeError as e:
    raise ValueError(f"{path}: not valid JSON ({e})") from None


def read_config(directory: str) -> dict[str, Any]:
  """The parsed config.json of a HF model directory (ValueError naming the file otherwise)."""
  path = os.path.join(directory, "config.json")
  if not os.path.exists(path):
    raise ValueError(f"{directory}: no config.json (expected a Hugging Face model directory)")
  return read_json(path)


def load(directory: str, *, max_len: int | None = None, dtype: str = "float32", mesh=None,
         specials=None, settings: dict | None = None):
  """(ModelConfig, graphdef, params) of a HF-layout checkpoint directory; `specials` (the
  model's tokenizer's, reasoning.tokenizer.HFTokenizer.specials) sets the pad and BOS ids,
  `settings` how it is computed (config_from_hf)."""
  hf_config = read_config(directory)
  cfg = config_from_hf(hf_config, where=os.path.join(directory, "config.json"), max_len=max_len,
                       dtype=dtype, specials=specials, settings=settings)
  # Zeros of the model's shapes (no random initialization to overwrite: a 7B model's would
  # take minutes and 28 GB); every tensor is then read from the files, and the value and reward
  # heads, which a plain checkpoint lacks, stay at zero.
  graphdef, shapes = model_lib.abstract_init(cfg)
  params = jax.tree.map(lambda x: np.zeros(x.shape, np.float32), shapes)
  tensors = _read_tensors(directory)
  for name, (where, how) in _hf_names(cfg).items():
    if name not in tensors:
      if name.startswith(_EXTRA):
        continue  # a plain HF checkpoint: the heads stay at zero
      raise ValueError(f"{directory}: tensor {name!r} is missing from the safetensors files")
    array = np.asarray(tensors.pop(name), np.float32)
    node = params
    for key in where[:-1]:
      node = node[key]
    target = node[where[-1]]
    fused = how not in ("copy", "T")  # one half of a fused kernel / bias
    piece = array.T if (how == "T" or (fused and how[0] == "T")) else array
    half = target.shape[-1] // 2
    want = target.shape[:-1] + (half,) if fused else target.shape
    if piece.shape != want:
      raise ValueError(f"{directory}: tensor {name!r} has shape {array.shape}; config.json "
                       f"implies {want[::-1] if how == 'T' or fused and how[0] == 'T' else want}")
    if fused:
      piece, part = target.copy(), how[1]
      piece[..., part * half:(part + 1) * half] = array.T if how[0] == "T" else array
    node[where[-1]] = piece
  unused = sorted(n for n in tensors if not n.endswith("rotary_emb.inv_freq"))
  if unused:
    raise ValueError(f"{directory}: tensors the model has no place for, e.g. {unused[:3]} "
                     f"({len(unused)} in all)")
  params = model_lib.cast_params(jax.tree.map(lambda x: jax.numpy.asarray(x, np.float32), params),
                                 cfg)
  if mesh is not None:
    from reasoning import mesh as mesh_lib
    params = jax.device_put(params, mesh_lib.state_shardings(mesh, params))
  return cfg, graphdef, params


def save(directory: str, cfg: model_lib.ModelConfig, params, hf_config: dict[str, Any]) -> None:
  """Writes config.json (hf_config, updated with our shapes) and model.safetensors."""
  from safetensors.numpy import save_file
  os.makedirs(directory, exist_ok=True)
  params = jax.tree.map(lambda x: np.asarray(jax.device_get(x), np.float32), params)
  tensors = {}
  for name, (where, how) in _hf_names(cfg).items():
    node = params
    for key in where:
      node = node[key]
    if how == "copy":
      value = node
    elif how == "T":
      value = node.T
    else:
      kind, part = how
      half = node.shape[-1] // 2
      piece = node[..., part * half:(part + 1) * half]
      value = piece.T if kind == "T" else piece
    tensors[name] = np.ascontiguousarray(value)
  save_file(tensors, os.path.join(directory, "model.safetensors"), metadata={"format": "pt"})
  hf_config = dict(hf_config, vocab_size=cfg.vocab_size, hidden_size=cfg.d_model,
                   num_hidden_layers=cfg.n_layers, num_attention_heads=cfg.n_heads,
                   num_key_value_heads=cfg.n_kv_heads, intermediate_size=cfg.d_ff,
                   tie_word_embeddings=cfg.tie_embeddings, rope_theta=cfg.rope_theta,
                   rms_norm_eps=cfg.norm_eps)
  if "rope_parameters" in hf_config:
    hf_config["rope_parameters"] = dict(hf_config["rope_parameters"], rope_theta=cfg.rope_theta)
  with open(os.path.join(directory, "config.json"), "w") as f:
    json.dump(hf_config, f, indent=2, sort_keys=True)


def write_tiny_model(directory: str, texts, *, vocab_size: int = 320, seed: int = 0,
                     bos: bool = False, chat_template: str | None = None) -> str:
  """A tiny Qwen2-style checkpoint in the Hugging Face layout, made without torch or a download
  (the pipeline tests and the TRL comparison's tiny model): a byte-level
  BPE `tokenizer.json` trained on `texts` (with <|endoftext|> as EOS and pad, plus <s> as BOS
  when `bos`), random weights written by `save`, and config.json; `chat_template` goes into
  tokenizer_config.json as an instruct model's does. Returns `directory`."""
  from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

  specials = ["<|endoftext|>"] + (["<s>"] if bos else [])
  tok = Tokenizer(models.BPE())
  # No pre-split: merges may cross spaces and newlines (".\n"), as in Llama-3-style vocabularies.
  tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
  tok.decoder = decoders.ByteLevel()
  tok.train_from_iterator(list(texts), trainers.BpeTrainer(
      vocab_size=vocab_size, special_tokens=specials,
      initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
  os.makedirs(directory, exist_ok=True)
  tok.save(os.path.join(directory, "tokenizer.json"))
  eos = tok.token_to_id("<|endoftext|>")
  hf_config = {"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2",
               "vocab_size": tok.get_vocab_size(), "hidden_size": 32, "num_hidden_layers": 2,
               "num_attention_heads": 4, "num_key_value_heads": 2, "intermediate_size": 64,
               "max_position_embeddings": 512, "rms_norm_eps": 1e-6, "hidden_act": "silu",
               "tie_word_embeddings": True, "rope_theta": 10000.0, "eos_token_id": eos,
               "bos_token_id": tok.token_to_id("<s>") if bos else None}
  cfg = config_from_hf(hf_config)
  _, params = model_lib.init(cfg, jax.random.key(seed))
  save(directory, cfg, params, hf_config)
  with open(os.path.join(directory, "tokenizer_config.json"), "w") as f:
    json.dump({"eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>",
               **({"chat_template": chat_template} if chat_template else {})}, f)
  return directory

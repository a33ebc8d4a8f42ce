"""HF-layout import/export against an independent NumPy forward pass of Llama / Qwen2.

The reference below follows transformers' modeling_llama / modeling_qwen2 step by step (RMSNorm
in float32, rotate-half RoPE with inv_freq = theta^(-2i/d), repeat_kv for grouped-query
attention, causal softmax(QK^T / sqrt(d)), SwiGLU MLP, untied or tied LM head), so these run
without torch; tests/test_hf_transformers.py checks the same against transformers itself where
the optional `peers` extra (PyTorch CPU build) is installed.
"""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from reasoning import hf, model as model_lib, sampling
from reasoning.text import NOT_A_TOKEN, Specials


def _hf_config(arch, *, tie, vocab=97, hidden=32, layers=2, heads=4, kv_heads=2, ff=48):
  return {"architectures": [arch], "model_type": {"LlamaForCausalLM": "llama",
                                                  "Qwen2ForCausalLM": "qwen2"}[arch],
          "vocab_size": vocab, "hidden_size": hidden, "num_hidden_layers": layers,
          "num_attention_heads": heads, "num_key_value_heads": kv_heads,
          "intermediate_size": ff, "max_position_embeddings": 64, "rms_norm_eps": 1e-5,
          "rope_theta": 10000.0, "hidden_act": "silu", "tie_word_embeddings": tie,
          "pad_token_id": 0, "bos_token_id": 1, "eos_token_id": 2}


def _random_weights(c, rng):
  d, hd = c["hidden_size"], c["hidden_size"] // c["num_attention_heads"]
  w = lambda *shape: (rng.standard_normal(shape) * 0.2).astype(np.float32)
  t = {"model.embed_tokens.weight": w(c["vocab_size"], d),
       "model.norm.weight": 1 + w(d)}
  if not c["tie_word_embeddings"]:
    t["lm_head.weight"] = w(c["vocab_size"], d)
  for i in range(c["num_hidden_layers"]):
    p = f"model.layers.{i}."
    t.update({p + "self_attn.q_proj.weight": w(c["num_attention_heads"] * hd, d),
              p + "self_attn.k_proj.weight": w(c["num_key_value_heads"] * hd, d),
              p + "self_attn.v_proj.weight": w(c["num_key_value_heads"] * hd, d),
              p + "self_attn.o_proj.weight": w(d, c["num_attention_heads"] * hd),
              p + "mlp.gate_proj.weight": w(c["intermediate_size"], d),
              p + "mlp.up_proj.weight": w(c["intermediate_size"], d),
              p + "mlp.down_proj.weight": w(d, c["intermediate_size"]),
              p + "input_layernorm.weight": 1 + w(d),
              p + "post_attention_layernorm.weight": 1 + w(d)})
    if c["model_type"] == "qwen2":
      t.update({p + "self_attn.q_proj.bias": w(c["num_attention_heads"] * hd),
                p + "self_attn.k_proj.bias": w(c["num_key_value_heads"] * hd),
                p + "self_attn.v_proj.bias": w(c["num_key_value_heads"] * hd)})
  return t


def reference_logits(c, t, ids):
  """transformers' Llama/Qwen2 forward in NumPy, float64, for one sequence [T] -> [T, V]."""
  d, h, kvh = c["hidden_size"], c["num_attention_heads"], c["num_key_value_heads"]
  hd, eps, n = d // h, c["rms_norm_eps"], len(ids)
  norm = lambda x, g: g * x / np.sqrt((x * x).mean(-1, keepdims=True) + eps)
  lin = lambda x, name: x @ t[name + ".weight"].T + t.get(name + ".bias", 0)
  inv_freq = 1.0 / c["rope_theta"] ** (np.arange(0, hd, 2) / hd)
  ang = np.arange(n)[:, None] * inv_freq[None]
  cos, sin = np.cos(np.concatenate([ang, ang], -1)), np.sin(np.concatenate([ang, ang], -1))
  rot = lambda x: np.concatenate([-x[..., hd // 2:], x[..., :hd // 2]], -1)
  x = t["model.embed_tokens.weight"][ids].astype(np.float64)
  for i in range(c["num_hidden_layers"]):
    p = f"model.layers.{i}."
    y = norm(x, t[p + "input_layernorm.weight"])
    q = lin(y, p + "self_attn.q_proj").reshape(n, h, hd).transpose(1, 0, 2)
    k = lin(y, p + "self_attn.k_proj").reshape(n, kvh, hd).transpose(1, 0, 2)
    v = lin(y, p + "self_attn.v_proj").reshape(n, kvh, hd).transpose(1, 0, 2)
    q, k = q * cos + rot(q) * sin, k * cos + rot(k) * sin
    k, v = np.repeat(k, h // kvh, 0), np.repeat(v, h // kvh, 0)       # repeat_kv
    s = q @ k.transpose(0, 2, 1) / np.sqrt(hd) + np.triu(np.full((n, n), -np.inf), 1)
    a = np.exp(s - s.max(-1, keepdims=True))
    a /= a.sum(-1, keepdims=True)
    x = x + lin((a @ v).transpose(1, 0, 2).reshape(n, d), p + "self_attn.o_proj")
    y = norm(x, t[p + "post_attention_layernorm.weight"])
    g = lin(y, p + "mlp.gate_proj")
    x = x + lin(g / (1 + np.exp(-g)) * lin(y, p + "mlp.up_proj"), p + "mlp.down_proj")
  x = norm(x, t["model.norm.weight"])
  head = t["model.embed_tokens.weight"] if c["tie_word_embeddings"] else t["lm_head.weight"]
  return x @ head.T


def _write(directory, c, t, shards=1):
  from safetensors.numpy import save_file
  directory.mkdir(parents=True, exist_ok=True)
  (directory / "config.json").write_text(json.dumps(c))
  names = sorted(t)
  if shards == 1:
    save_file(t, str(directory / "model.safetensors"))
    return
  weight_map = {}
  for s in range(shards):
    part = {n: t[n] for n in names[s::shards]}
    fname = f"model-{s + 1:05d}-of-{shards:05d}.safetensors"
    save_file(part, str(directory / fname))
    weight_map.update({n: fname for n in part})
  (directory / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))


@pytest.mark.parametrize("arch,tie,shards", [("LlamaForCausalLM", False, 1),
                                             ("LlamaForCausalLM", True, 2),
                                             ("Qwen2ForCausalLM", True, 3)])
def test_import_matches_the_reference_forward_and_greedy_decoding(tmp_path, arch, tie, shards):
  c = _hf_config(arch, tie=tie)
  t = _random_weights(c, np.random.default_rng(0))
  _write(tmp_path / "hf", c, t, shards)
  cfg, graphdef, params = hf.load(str(tmp_path / "hf"))
  assert cfg.attn_bias == (arch == "Qwen2ForCausalLM") and cfg.tie_embeddings == tie
  assert cfg.n_kv_heads == 2 and not cfg.embed_scale
  ids = np.random.default_rng(1).integers(1, c["vocab_size"], size=12)
  ours = model_lib.apply(graphdef, params, jnp.asarray(ids[None])).logits[0]
  np.testing.assert_allclose(ours, reference_logits(c, t, ids), atol=1e-4, rtol=1e-4)

  # Greedy decoding with the KV cache equals the reference's argmax loop, token for token.
  out = sampling.generate(graphdef, params, jnp.asarray(ids[None, :5]), jax.random.key(0),
                          max_new=8, temperature=0.0,
                          specials=Specials(pad=NOT_A_TOKEN, bos=1, eos=2))
  seq = list(ids[:5])
  for _ in range(8):
    logits = reference_logits(c, t, np.array(seq))[-1]
    logits[1] = -np.inf  # our sampler never emits BOS (id 1); the config's pad id 0 is a token
    seq.append(int(np.argmax(logits)))
    if seq[-1] == 2:  # EOS ends the row
      break
  got = [int(x) for x in np.asarray(out.tokens[0])[:int(out.lengths[0])]]
  assert got == seq[5:]


def test_round_trip_is_exact_and_keeps_our_heads(tmp_path):
  c = _hf_config("Qwen2ForCausalLM", tie=False)
  _write(tmp_path / "a", c, _random_weights(c, np.random.default_rng(2)))
  cfg, _, params = hf.load(str(tmp_path / "a"))
  assert not np.asarray(params["value_head"]["kernel"]).any()  # HF has none: zeros
  params["value_head"]["kernel"] = params["value_head"]["kernel"] + 0.5  # e.g. after PPO
  hf.save(str(tmp_path / "b"), cfg, params, c)
  cfg2, _, params2 = hf.load(str(tmp_path / "b"))
  assert cfg2 == cfg
  for x, y in zip(jax.tree.leaves(params), jax.tree.leaves(params2)):
    np.testing.assert_array_equal(x, y)
  hf.save(str(tmp_path / "c"), cfg2, params2, c)
  assert (tmp_path / "b" / "model.safetensors").read_bytes() == \
      (tmp_path / "c" / "model.safetensors").read_bytes()


def test_clear_errors_for_unsupported_configs_and_missing_files(tmp_path):
  c = _hf_config("LlamaForCausalLM", tie=False)
  t = _random_weights(c, np.random.default_rng(3))
  for bad, match in [({"architectures": ["GPT2LMHeadModel"]}, "architectures=.*not supported"),
                     ({"hidden_act": "gelu"}, "hidden_act='gelu'"),
                     ({"rope_scaling": {"type": "yarn", "factor": 4}}, "rope_type='yarn' is not"),
                     ({"rope_parameters": {"rope_type": "llama3", "factor": 8}},
                      "rope_type='llama3' needs the field 'low_freq_factor'"),
                     ({"head_dim": 16}, "head_dim=16")]:
    _write(tmp_path / "bad", dict(c, **bad), t)
    with pytest.raises(ValueError, match=match) as err:
      hf.load(str(tmp_path / "bad"))
    assert "config.json" in str(err.value)
  with pytest.raises(ValueError, match="no config.json"):
    hf.load(str(tmp_path / "nowhere"))
  _write(tmp_path / "sharded", c, t, shards=2)
  next((tmp_path / "sharded").glob("model-00002-*.safetensors")).unlink()
  with pytest.raises(ValueError, match="lists shard 'model-00002-of-00002.safetensors'.*missing"):
    hf.load(str(tmp_path / "sharded"))
  del t["model.layers.1.mlp.up_proj.weight"]
  _write(tmp_path / "missing", c, t)
  with pytest.raises(ValueError, match="tensor 'model.layers.1.mlp.up_proj.weight' is missing"):
    hf.load(str(tmp_path / "missing"))
  _write(tmp_path / "shape", dict(c, intermediate_size=40), _random_weights(c, np.random.default_rng(3)))
  with pytest.raises(ValueError, match="gate_proj.weight' has shape"):
    hf.load(str(tmp_path / "shape"))


def test_a_tokenizer_without_a_pad_token_can_still_end_a_row():
  """No pad token, and Qwen2-style BOS is EOS: EOS must stay generable, or greedy decoding runs
  to max_new where transformers stops. Padding is NOT_A_TOKEN whatever the config's pad token
  (a real token, which the policy may emit as transformers' would)."""
  from reasoning import hf
  config = {"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "vocab_size": 64,
            "hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 4,
            "num_key_value_heads": 2, "intermediate_size": 64, "max_position_embeddings": 64,
            "rms_norm_eps": 1e-6, "tie_word_embeddings": True, "eos_token_id": 7,
            "bos_token_id": 7}
  cfg = hf.config_from_hf(config)
  assert (cfg.pad_id, cfg.bos_id, cfg.eos_id) == (NOT_A_TOKEN, 7, 7)
  assert 7 not in cfg.never_generated
  cfg = hf.config_from_hf(dict(config, pad_token_id=3, bos_token_id=5))
  assert cfg.never_generated == (5,)

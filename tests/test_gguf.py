"""GGUF import on a file written here with the `gguf` package's own writer: a tiny Llama whose q/k
rows are stored in llama.cpp's rotary order and whose tensors are F32, F16, Q8_0, Q4_0 and Q4_1,
with a byte-level BPE tokenizer and a chat template. (tests/test_smollm2.py checks a real file
against transformers.)"""

import json

import numpy as np
import pytest

gguf = pytest.importorskip("gguf")

from reasoning import gguf_import, hf  # noqa: E402
from reasoning.tokenizer import HFTokenizer  # noqa: E402

TEXTS = ["countdown 3 5 7 to 22\n3*5=15\n15+7=22\nANSWER: 22\n", "What is 17 + 26?\n",
         "Mia has 3 boxes of 12 pens.\n"] * 20
TEMPLATE = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
            "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
HIDDEN, HEADS, KV_HEADS, FF, LAYERS = 64, 4, 2, 96, 2
Q = gguf.GGMLQuantizationType


def _permute(w, heads):
  """llama.cpp's convert_hf_to_gguf order of a q/k projection's rows."""
  return w.reshape(heads, 2, w.shape[0] // heads // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def _tokenizer():
  from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
  tok = Tokenizer(models.BPE())
  tok.pre_tokenizer = pre_tokenizers.Sequence([
      pre_tokenizers.Split(Regex(gguf_import._GPT2_SPLIT), behavior="isolated"),
      pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
  tok.decoder = decoders.ByteLevel()
  tok.train_from_iterator(TEXTS, trainers.BpeTrainer(
      vocab_size=300, special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
      initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
  return tok


def _write(path, tok, rng):
  """(the weights as Hugging Face names them, what each should import as) of a GGUF at path."""
  data = json.loads(tok.to_str())
  vocab = data["model"]["vocab"]
  tokens = sorted(vocab, key=vocab.get)
  merges = [m if isinstance(m, str) else " ".join(m) for m in data["model"]["merges"]]
  w = gguf.GGUFWriter(str(path), "llama")
  w.add_block_count(LAYERS)
  w.add_context_length(128)
  w.add_embedding_length(HIDDEN)
  w.add_feed_forward_length(FF)
  w.add_head_count(HEADS)
  w.add_head_count_kv(KV_HEADS)
  w.add_rope_freq_base(10000.0)
  w.add_layer_norm_rms_eps(1e-5)
  w.add_vocab_size(len(tokens))
  w.add_tokenizer_model("gpt2")
  w.add_tokenizer_pre("default")
  w.add_token_list(tokens)
  w.add_token_types([3 if t.startswith("<|") else 1 for t in tokens])
  w.add_token_merges(merges)
  w.add_bos_token_id(vocab["<|im_start|>"])
  w.add_eos_token_id(vocab["<|im_end|>"])
  w.add_pad_token_id(vocab["<|im_end|>"])
  w.add_chat_template(TEMPLATE)
  weights, expected = {}, {}
  kinds = [Q.F32, Q.F16, Q.Q8_0, Q.Q4_0, Q.Q4_1]

  def add(gguf_name, hf_name, array, kind, heads=None):
    weights[hf_name] = array
    stored = _permute(array, heads) if heads else array
    if kind == Q.F32 or array.ndim == 1:
      w.add_tensor(gguf_name, stored.astype(np.float32))
      expected[hf_name] = array
      return
    if kind == Q.F16:
      raw = stored.astype(np.float16)
      w.add_tensor(gguf_name, raw)
      back = raw.astype(np.float32)
    else:
      raw = gguf.quants.quantize(stored, kind)
      w.add_tensor(gguf_name, raw, raw_shape=raw.shape, raw_dtype=kind)
      back = gguf.quants.dequantize(raw, kind).reshape(stored.shape)
    expected[hf_name] = gguf_import._unpermute(back, heads) if heads else back

  r = lambda *shape: (rng.standard_normal(shape) * 0.2).astype(np.float32)
  add("token_embd.weight", "model.embed_tokens.weight", r(len(tokens), HIDDEN), Q.Q8_0)
  add("output_norm.weight", "model.norm.weight", 1 + r(HIDDEN), Q.F32)
  hd = HIDDEN // HEADS
  for i in range(LAYERS):
    pre, kind = f"model.layers.{i}.", kinds[i % len(kinds)]
    add(f"blk.{i}.attn_q.weight", pre + "self_attn.q_proj.weight", r(HIDDEN, HIDDEN), kind, HEADS)
    add(f"blk.{i}.attn_k.weight", pre + "self_attn.k_proj.weight", r(KV_HEADS * hd, HIDDEN),
        kinds[(i + 1) % 5], KV_HEADS)
    add(f"blk.{i}.attn_v.weight", pre + "self_attn.v_proj.weight", r(KV_HEADS * hd, HIDDEN),
        kinds[(i + 2) % 5])
    add(f"blk.{i}.attn_output.weight", pre + "self_attn.o_proj.weight", r(HIDDEN, HIDDEN),
        kinds[(i + 3) % 5])
    add(f"blk.{i}.ffn_gate.weight", pre + "mlp.gate_proj.weight", r(FF, HIDDEN), kinds[(i + 4) % 5])
    add(f"blk.{i}.ffn_up.weight", pre + "mlp.up_proj.weight", r(FF, HIDDEN), Q.Q4_1)
    add(f"blk.{i}.ffn_down.weight", pre + "mlp.down_proj.weight", r(HIDDEN, FF), Q.Q4_0)
    add(f"blk.{i}.attn_norm.weight", pre + "input_layernorm.weight", 1 + r(HIDDEN), Q.F32)
    add(f"blk.{i}.ffn_norm.weight", pre + "post_attention_layernorm.weight", 1 + r(HIDDEN),
        Q.F32)
  w.write_header_to_file()
  w.write_kv_data_to_file()
  w.write_tensors_to_file()
  w.close()
  return weights, expected


def test_unpermute_inverts_llama_cpp_rotary_order():
  w = np.arange(8 * 3, dtype=np.float32).reshape(8, 3)
  np.testing.assert_array_equal(gguf_import._unpermute(_permute(w, 2), 2), w)
  assert not np.array_equal(_permute(w, 2), w)


def test_gguf_imports_as_the_weights_tokenizer_and_chat_template_it_holds(tmp_path):
  from safetensors.numpy import load_file
  tok = _tokenizer()
  weights, expected = _write(tmp_path / "tiny.gguf", tok, np.random.default_rng(0))
  out = gguf_import.to_hf_dir(str(tmp_path / "tiny.gguf"), str(tmp_path / "hf"))
  got = load_file(f"{out}/model.safetensors")
  assert set(got) == set(weights)
  for name, want in expected.items():
    np.testing.assert_allclose(got[name], want, rtol=0, atol=1e-6, err_msg=name)
    # The quantized tensors are near the originals, not equal: dequantization did run.
    assert np.abs(got[name] - weights[name]).max() < 0.1, name
  config = hf.read_config(out)
  assert config["tie_word_embeddings"] and config["num_key_value_heads"] == KV_HEADS
  cfg, _, _ = hf.load(out)
  assert (cfg.n_layers, cfg.d_model, cfg.d_ff) == (LAYERS, HIDDEN, FF)
  ours = HFTokenizer.from_dir(out)
  for text in TEXTS[:3] + ["unseen words 123 and 4567\n"]:
    assert ours.encode(text) == tok.encode(text).ids, text
  assert ours.eos == tok.token_to_id("<|im_end|>")
  chat = ours.apply_chat_template([{"role": "user", "content": "What is 17 + 26?"}])
  assert chat == "<|im_start|>user\nWhat is 17 + 26?<|im_end|>\n<|im_start|>assistant\n"
  assert ours.encode(chat).count(ours.eos) == 1  # the end of turn is one special token


def test_unsupported_files_name_the_field(tmp_path):
  with pytest.raises(ValueError, match="no such GGUF file"):
    gguf_import.to_hf_dir(str(tmp_path / "missing.gguf"), str(tmp_path / "out"))
  w = gguf.GGUFWriter(str(tmp_path / "bert.gguf"), "bert")
  w.add_block_count(1)
  w.write_header_to_file()
  w.write_kv_data_to_file()
  w.write_tensors_to_file()
  w.close()
  with pytest.raises(ValueError, match="general.architecture='bert' is not supported"):
    gguf_import.to_hf_dir(str(tmp_path / "bert.gguf"), str(tmp_path / "out"))

"""Parity with Hugging Face transformers itself (PyTorch CPU build; the optional `peers` extra).

Tiny random Llama (also with Llama 3.1's RoPE scaling) and Qwen2 models are created by transformers, written with `save_pretrained`,
imported by `reasoning.hf.load`, and must give transformers' logits to 1e-4 (f32) and its greedy
`generate` output token for token, on a batch of left-padded prompts of mixed lengths. The other
direction too: what `hf.save` writes, transformers' `from_pretrained` reads to the same logits.
(tests/test_hf.py checks the same against a NumPy transcription, which runs without torch.)
"""

import runpy

import jax
import jax.numpy as jnp
import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from reasoning import hf, model as model_lib, sampling  # noqa: E402
from reasoning.text import BOS, EOS, NOT_A_TOKEN, PAD, Specials  # noqa: E402

VOCAB = 97


def _make(arch: str, tmp_path):
  torch.manual_seed(0)
  common = dict(vocab_size=VOCAB, hidden_size=32, intermediate_size=48, num_hidden_layers=2,
                num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
                rms_norm_eps=1e-5, pad_token_id=PAD, bos_token_id=BOS, eos_token_id=EOS)
  if arch == "llama":  # untied, a non-default theta (transformers 5 writes it in rope_parameters)
    config = transformers.LlamaConfig(tie_word_embeddings=False, rope_theta=5000.0, **common)
    model = transformers.LlamaForCausalLM(config)
  elif arch == "llama3":  # Llama 3.1's RoPE scaling, its context cut to 16 so that every
    # frequency band (kept, blended, slowed by `factor`) falls inside the tested positions
    config = transformers.LlamaConfig(tie_word_embeddings=True, rope_parameters={
        "rope_type": "llama3", "rope_theta": 5000.0, "factor": 8.0, "low_freq_factor": 1.0,
        "high_freq_factor": 4.0, "original_max_position_embeddings": 16}, **common)
    model = transformers.LlamaForCausalLM(config)
  else:  # tied, q/k/v biases
    config = transformers.Qwen2Config(tie_word_embeddings=True, **common)
    model = transformers.Qwen2ForCausalLM(config)
  with torch.no_grad():  # the default init leaves biases and norms trivial: randomize them
    for name, p in model.named_parameters():
      if name.endswith("bias") or "norm" in name:
        p.add_(0.2 * torch.randn_like(p))
  model.eval()
  model.save_pretrained(str(tmp_path / arch))
  return model, str(tmp_path / arch)


def _left_padded(rng, lengths):
  """Prompts [B, P] left-padded with NOT_A_TOKEN (ids from 3, so BOS/EOS appear only as such)."""
  out = np.full((len(lengths), max(lengths)), NOT_A_TOKEN, np.int64)
  for row, n in zip(out, lengths):
    row[len(row) - n:] = rng.integers(3, VOCAB, n)
  return out


@pytest.mark.parametrize("arch", ["llama", "qwen2", "llama3"])
def test_import_matches_transformers_logits_and_greedy_generate(tmp_path, arch):
  model, path = _make(arch, tmp_path)
  cfg, graphdef, params = hf.load(path)
  assert cfg.rope_theta == (10000.0 if arch == "qwen2" else 5000.0)
  assert cfg.attn_bias == (arch == "qwen2") and cfg.tie_embeddings == (arch != "llama")
  assert dict(cfg.rope_scaling).get("rope_type") == ("llama3" if arch == "llama3" else None)

  rng = np.random.default_rng(1)
  ids = rng.integers(3, VOCAB, (3, 16))
  with torch.no_grad():
    theirs = model(torch.as_tensor(ids)).logits.numpy()
  ours = np.asarray(model_lib.apply(graphdef, params, jnp.asarray(ids, jnp.int32)).logits)
  np.testing.assert_allclose(ours, theirs, atol=1e-4, rtol=1e-4)

  # Greedy decoding of left-padded prompts of mixed lengths, KV cache on both sides.
  prompts = _left_padded(rng, [9, 4, 7, 1])
  real = prompts != NOT_A_TOKEN
  with torch.no_grad():
    out = model.generate(torch.as_tensor(np.where(real, prompts, PAD)),
                         attention_mask=torch.as_tensor(real),
                         max_new_tokens=12, do_sample=False, eos_token_id=EOS, pad_token_id=PAD,
                         suppress_tokens=[BOS])  # our sampler never emits BOS
  theirs = out[:, prompts.shape[1]:].numpy()
  got = sampling.generate(graphdef, params, jnp.asarray(prompts, jnp.int32), jax.random.key(0),
                          max_new=12, temperature=0.0,
                          specials=Specials(pad=NOT_A_TOKEN, bos=BOS, eos=EOS))
  ours = np.asarray(got.tokens)[:, :theirs.shape[1]]
  # After a row's EOS transformers writes its pad id, we write NOT_A_TOKEN.
  np.testing.assert_array_equal(np.where(ours == NOT_A_TOKEN, PAD, ours), theirs)


def _exported_matches_transformers(tmp_path, path, cfg, graphdef, params):
  """hf.save of `params` (with `path`'s config.json) loads in transformers with our logits."""
  hf.save(str(tmp_path / "out"), cfg, params, hf.read_config(path))
  reloaded = transformers.AutoModelForCausalLM.from_pretrained(str(tmp_path / "out")).eval()
  ids = np.random.default_rng(2).integers(3, VOCAB, (2, 11))
  with torch.no_grad():
    theirs = reloaded(torch.as_tensor(ids)).logits.numpy()
  ours = np.asarray(model_lib.apply(graphdef, params, jnp.asarray(ids, jnp.int32)).logits)
  np.testing.assert_allclose(ours, theirs, atol=1e-4, rtol=1e-4)


def test_export_loads_in_transformers_with_the_same_logits(tmp_path):
  _, path = _make("qwen2", tmp_path)
  cfg, graphdef, params = hf.load(path)
  params = jax.tree.map(lambda x: x * 1.01, params)  # e.g. after fine-tuning
  _exported_matches_transformers(tmp_path, path, cfg, graphdef, params)


def test_after_lora_training_the_merged_export_loads_in_transformers_with_our_logits(tmp_path):
  """LoRA steps train the adapters only; hf.save of the merged parameters is a plain
  checkpoint whose logits in transformers are ours to 1e-4."""
  from reasoning import lora
  from reasoning.train import sft, state as state_lib
  _, path = _make("qwen2", tmp_path)
  cfg, graphdef, base = hf.load(path)
  lora_cfg = lora.LoraConfig(rank=4, alpha=8.0)
  tx = state_lib.make_optimizer(state_lib.OptimConfig(lr=1e-2, warmup_steps=0, total_steps=5))
  state = state_lib.create(lora.init(base, lora_cfg, jax.random.key(1)), tx)
  step = sft.make_train_step(graphdef, tx, lora_cfg)
  tokens = jnp.asarray(np.random.default_rng(1).integers(3, VOCAB, (4, 12)), jnp.int32)
  for _ in range(3):
    state, metrics = step(state, {"tokens": tokens, "loss_mask": jnp.ones((4, 12))}, base)
  params = lora.merge(base, state.params, lora_cfg)
  assert float(jnp.abs(params["block_0"]["attn"]["q"]["kernel"] -
                       base["block_0"]["attn"]["q"]["kernel"]).max()) > 1e-4
  _exported_matches_transformers(tmp_path, path, cfg, graphdef, params)


def test_without_a_pad_token_greedy_output_ends_at_eos_as_transformers_does(tmp_path):
  """pad = eos = bos (a Qwen2.5-style config.json with no pad token): rows end where
  transformers' greedy `generate` emits EOS, token for token, EOS and the stop after it
  included. The EOS embedding is scaled up so that some rows end early and others do not."""
  eos = 2
  torch.manual_seed(0)
  config = transformers.Qwen2Config(
      vocab_size=VOCAB, hidden_size=32, intermediate_size=48, num_hidden_layers=2,
      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
      rms_norm_eps=1e-5, bos_token_id=eos, eos_token_id=eos, pad_token_id=None,
      tie_word_embeddings=True)
  model = transformers.Qwen2ForCausalLM(config).eval()
  with torch.no_grad():
    for name, p in model.named_parameters():
      if name.endswith("bias") or "norm" in name:
        p.add_(0.2 * torch.randn_like(p))
    model.model.embed_tokens.weight[eos] *= 8.0
  model.save_pretrained(str(tmp_path / "qwen2_nopad"))
  cfg, graphdef, params = hf.load(str(tmp_path / "qwen2_nopad"))
  assert (cfg.pad_id, cfg.bos_id, cfg.eos_id) == (NOT_A_TOKEN, eos, eos)

  prompts = np.random.default_rng(1).integers(3, VOCAB, (16, 6))
  with torch.no_grad():
    out = model.generate(torch.as_tensor(prompts), attention_mask=torch.ones(prompts.shape),
                         max_new_tokens=16, do_sample=False, eos_token_id=eos, pad_token_id=eos)
  theirs = out[:, prompts.shape[1]:].numpy()
  got = sampling.generate(graphdef, params, jnp.asarray(prompts, jnp.int32), jax.random.key(0),
                          max_new=16, temperature=0.0,
                          specials=Specials(pad=NOT_A_TOKEN, bos=eos, eos=eos))
  ours = np.asarray(got.tokens)[:, :theirs.shape[1]]
  np.testing.assert_array_equal(np.where(ours == NOT_A_TOKEN, eos, ours), theirs)  # their pad: EOS
  ended = [list(row).index(eos) + 1 if eos in row else None for row in theirs]
  assert any(e is not None and e < 16 for e in ended) and None in ended  # both kinds of row
  np.testing.assert_array_equal(np.asarray(got.lengths),
                                [e if e is not None else 16 for e in ended])


def test_prompts_holding_the_eos_id_read_it_as_a_token_batched_with_left_padding(tmp_path):
  """pad = eos (SmolLM2's and Llama 3 instruct's configs): a chat template puts that id inside
  every prompt (`<|im_end|>` ends each turn). Batched with left padding, our logits at every
  real position equal transformers' on each prompt alone, and greedy `generate` on the batch
  equals transformers' token for token, the stop at EOS included."""
  eos = 2
  torch.manual_seed(0)
  config = transformers.LlamaConfig(
      vocab_size=VOCAB, hidden_size=32, intermediate_size=48, num_hidden_layers=2,
      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
      rms_norm_eps=1e-5, bos_token_id=1, eos_token_id=eos, pad_token_id=eos,
      tie_word_embeddings=False)
  model = transformers.LlamaForCausalLM(config).eval()
  with torch.no_grad():
    for name, p in model.named_parameters():
      if "norm" in name:
        p.add_(0.2 * torch.randn_like(p))
    model.lm_head.weight[eos] *= 1.5  # most rows end early, as a chat model's do
  model.save_pretrained(str(tmp_path / "pad_is_eos"))
  cfg, graphdef, params = hf.load(str(tmp_path / "pad_is_eos"))
  assert cfg.pad_id == NOT_A_TOKEN and cfg.eos_id == eos

  rng = np.random.default_rng(4)
  turn = lambda n: list(rng.integers(3, VOCAB, n))
  # [BOS] system turn <eos> user turn <eos> assistant header: the EOS id twice mid-prompt.
  prompts = [[1] + turn(a) + [eos] + turn(b) + [eos] + turn(2) for a, b in
             [(3, 5), (1, 2), (6, 4), (2, 9), (4, 1), (5, 5), (1, 7), (3, 3)]]
  width = max(map(len, prompts))
  batch = np.full((len(prompts), width), NOT_A_TOKEN, np.int64)
  for row, p in zip(batch, prompts):
    row[width - len(p):] = p
  ours = np.asarray(model_lib.apply(graphdef, params, jnp.asarray(batch, jnp.int32)).logits)
  for row, p in zip(ours, prompts):
    with torch.no_grad():
      theirs = model(torch.as_tensor([p])).logits[0].numpy()
    np.testing.assert_allclose(row[width - len(p):], theirs, atol=1e-4, rtol=1e-4)

  mask = batch != NOT_A_TOKEN
  with torch.no_grad():
    out = model.generate(torch.as_tensor(np.where(mask, batch, eos)),
                         attention_mask=torch.as_tensor(mask), max_new_tokens=16, do_sample=False,
                         eos_token_id=eos, pad_token_id=eos, suppress_tokens=[1])
  theirs = out[:, width:].numpy()
  got = sampling.generate(graphdef, params, jnp.asarray(batch, jnp.int32), jax.random.key(0),
                          max_new=16, temperature=0.0,
                          specials=Specials(pad=NOT_A_TOKEN, bos=1, eos=eos))
  lengths = np.asarray(got.lengths)
  for row, theirs_row, n in zip(np.asarray(got.tokens), theirs, lengths):
    np.testing.assert_array_equal(row[:n], theirs_row[:n])  # transformers pads with EOS after
    assert n == 16 or (row[n - 1] == eos and (theirs_row[n:] == eos).all())
  assert (lengths < 16).any() and (lengths == 16).any()


def test_the_decode_benchmark_compares_the_same_greedy_tokens():
  # scripts/peers.py's decode benchmark on a tiny Llama: both sides produce the same tokens; a
  # speedup's range is the slowest and fastest calls' ratio.
  peers = runpy.run_path("scripts/peers.py")

  def once(fn, repeats):
    fn()
    return 1.0

  shape = dict(d_model=32, n_layers=2, n_heads=2, n_kv_heads=2, d_ff=64, max_len=64)
  r = peers["bench_sampler"](shape, VOCAB, once, batch=2, prompt_len=8, max_new=8,
                             repeats=1)
  assert r["same_tokens"] and r["speedup_range"] is None  # plain floats carry no spread

  class Timing(float):
    pass
  slow, fast = Timing(4.0), Timing(2.0)
  slow.low, slow.high, fast.low, fast.high = 3.0, 5.0, 1.0, 2.5
  assert peers["ratio_range"](slow, fast) == [3.0 / 2.5, 5.0 / 1.0]

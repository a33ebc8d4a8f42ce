"""Tiny fakes shared by tests: a 2-layer, width-32 transformer config, the SFT and PPO steps the
sharding checks run, a tiny Hugging Face-layout model, and parameters whose next-token
distribution is set by hand (favoring)."""

from reasoning.model import ModelConfig
from reasoning.text import VOCAB

TINY = ModelConfig(vocab_size=VOCAB.size, d_model=32, n_layers=2, n_heads=4, n_kv_heads=2,
                   d_ff=64, max_len=128)


def favoring(params, token: int, logit_gap: float):
  """Params of the same shapes (the same compute per token) whose next token, after any input,
  has a logit `logit_gap` above every other token's, all others equal: the blocks output zero,
  so the final hidden state is the normalized all-ones embedding, every token's logit is d_model
  (tied embeddings) and `token`'s row, scaled by 1 + gap / d_model, adds the gap."""
  import jax
  import jax.numpy as jnp
  params = jax.tree.map(lambda x: x, params)
  for name, block in params.items():
    if name.startswith("block_"):
      block["attn"]["o"]["kernel"] = jnp.zeros_like(block["attn"]["o"]["kernel"])
      block["mlp"]["down"]["kernel"] = jnp.zeros_like(block["mlp"]["down"]["kernel"])
  emb = jnp.ones_like(params["embed"]["embedding"])
  params["embed"]["embedding"] = emb.at[token].multiply(1 + logit_gap / emb.shape[1])
  return params


def sharding_check_steps():
  """(graphdef, params, {"sft": (step, batch), "rl": (step, batch)}) of 8 Countdown-format
  examples: what the sharded and multi-process checks run on every layout and compare."""
  import jax
  import jax.numpy as jnp
  import numpy as np

  from reasoning import model
  from reasoning.text import pad_examples
  from reasoning.train import pg, sft, state as state_lib
  cfg = ModelConfig(vocab_size=VOCAB.size, d_model=32, n_layers=2, n_heads=4, n_kv_heads=2,
                    d_ff=64, max_len=64)
  graphdef, params = model.init(cfg, jax.random.key(0))
  tx = state_lib.make_optimizer(state_lib.OptimConfig(lr=1e-2, warmup_steps=0, total_steps=10))
  prompts = [f"countdown {i} {i + 1} 3 to {2 * i + 4}\n" for i in range(8)]
  completions = [f"{i + 1}+{i}={2 * i + 1}\n{2 * i + 1}+3={2 * i + 4}\nANSWER: {2 * i + 4}\n"
                 for i in range(8)]
  tokens, loss_mask = pad_examples(VOCAB, prompts, completions, 56)
  rng = np.random.default_rng(0)
  mask = (tokens[:, 1:] != 0).astype(np.float32)
  logp0 = np.asarray(pg.sequence_logprobs(graphdef, params, jnp.asarray(tokens))[0])
  noise = 0.1 * rng.standard_normal(mask.shape).astype(np.float32) * mask
  rl_batch = {"tokens": tokens, "mask": mask, "old_logp": logp0 + noise,
              "ref_logp": logp0 - noise,
              "advantages": rng.standard_normal(mask.shape).astype(np.float32),
              "returns": rng.random(mask.shape).astype(np.float32),
              "old_values": rng.random(mask.shape).astype(np.float32)}
  steps = {"sft": (sft.make_train_step(graphdef, tx), {"tokens": tokens, "loss_mask": loss_mask}),
           "rl": (pg.make_train_step(graphdef, tx, pg.PGConfig(algo="ppo")), rl_batch)}
  return graphdef, params, tx, steps, prompts


def write_tiny_hf_model(directory: str, texts, *, vocab_size: int = 320, seed: int = 0,
                        bos: bool = False, chat_template: str | None = None) -> str:
  """A tiny Qwen2-style checkpoint in the Hugging Face layout, made without torch: a byte-level
  BPE `tokenizer.json` trained on `texts` (with <|endoftext|> as EOS and pad, plus <s> as BOS
  when `bos`), random weights written by `hf.save`, and config.json; `chat_template` goes into
  tokenizer_config.json as an instruct model's does. Returns `directory`."""
  import json
  import os

  import jax
  from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

  from reasoning import hf, model as model_lib

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
  cfg = hf.config_from_hf(hf_config)
  _, params = model_lib.init(cfg, jax.random.key(seed))
  hf.save(directory, cfg, params, hf_config)
  with open(os.path.join(directory, "tokenizer_config.json"), "w") as f:
    json.dump({"eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>",
               **({"chat_template": chat_template} if chat_template else {})}, f)
  return directory

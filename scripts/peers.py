"""Side-by-side peers for scripts/bench.py: Hugging Face transformers (PyTorch) on the same model.

One Llama-architecture network is built by transformers with random weights, saved with
`save_pretrained`, and imported by `reasoning.hf.load`, so both sides run the same architecture
and the same weights. Measured on the same prompts and lengths:

  sampler:  `model.generate` (greedy, KV cache, eager PyTorch) against `sampling.generate`; both
            stop a row at EOS and never emit PAD/BOS, so the two greedy outputs must be identical
            (reported as `same_tokens`), which also proves the comparison is like for like;
  training: one AdamW step with gradient clipping on next-token cross-entropy over full rows,
            PyTorch eager against our jitted `sft` step.

Needs the optional `peers` extra (`pip install -e '.[peers]'`: the CPU build of torch and
transformers); `available()` says whether it is installed, and bench.py skips the peers if not.
"""

from __future__ import annotations

import importlib.util
import tempfile

import numpy as np


def available() -> bool:
  return all(importlib.util.find_spec(m) is not None for m in ("torch", "transformers"))


def torch_device() -> str:
  """Where the PyTorch peer runs: the GPU when JAX runs on one too (and torch sees it), else CPU,
  so that both sides of every comparison use the same chip."""
  import jax
  import torch
  if jax.default_backend() == "gpu" and torch.cuda.is_available():
    torch.backends.cuda.matmul.allow_tf32 = True  # what XLA's default precision does on GPU
    return "cuda"
  return "cpu"


def _sync(device: str) -> None:
  import torch
  if device == "cuda":
    torch.cuda.synchronize()


def llama_pair(shape: dict, vocab_size: int, directory: str):
  """A random transformers LlamaForCausalLM of our `shape`, and the same weights imported by us:
  (torch_model, ModelConfig, graphdef, params)."""
  import torch
  import transformers

  from reasoning import hf

  torch.manual_seed(0)
  config = transformers.LlamaConfig(
      vocab_size=vocab_size, hidden_size=shape["d_model"], intermediate_size=shape["d_ff"],
      num_hidden_layers=shape["n_layers"], num_attention_heads=shape["n_heads"],
      num_key_value_heads=shape["n_kv_heads"], max_position_embeddings=shape["max_len"],
      rms_norm_eps=1e-6, tie_word_embeddings=True, pad_token_id=0, bos_token_id=1,
      eos_token_id=2)
  model = transformers.LlamaForCausalLM(config).eval()
  model.save_pretrained(directory)
  cfg, graphdef, params = hf.load(directory, max_len=shape["max_len"])
  return model, cfg, graphdef, params


def bench_sampler(shape: dict, vocab_size: int, timed, *, batch: int, prompt_len: int,
                  max_new: int, repeats: int, place=lambda params, batch: params) -> dict:
  """timed(fn, repeats=) -> median seconds per call (bench.timed); place(params, batch) puts
  our params where the sampler runs (bench.on_all_devices: data-parallel over every device)."""
  import jax
  import jax.numpy as jnp
  import torch

  from reasoning import sampling
  from reasoning.text import BOS, EOS, NOT_A_TOKEN, PAD, Specials

  with tempfile.TemporaryDirectory() as d:
    model, _, graphdef, params = llama_pair(shape, vocab_size, d)
  params = place(params, batch)
  device = torch_device()
  model = model.to(device)
  prompts = np.random.default_rng(0).integers(3, vocab_size, (batch, prompt_len))
  ours_in = jnp.asarray(prompts, jnp.int32)
  theirs_in = torch.as_tensor(prompts, dtype=torch.long, device=device)
  mask = torch.ones_like(theirs_in)
  out = {}

  def ours():
    out["ours"] = sampling.generate(graphdef, params, ours_in, jax.random.key(0),
                                    max_new=max_new, temperature=0.0,
                                    specials=Specials(pad=NOT_A_TOKEN, bos=BOS, eos=EOS))
    jax.block_until_ready(out["ours"])

  def theirs():
    with torch.inference_mode():
      out["theirs"] = model.generate(
          theirs_in, attention_mask=mask, max_new_tokens=max_new, do_sample=False,
          eos_token_id=EOS, pad_token_id=PAD, suppress_tokens=[0, 1])
    _sync(device)

  ours_s, theirs_s = timed(ours, repeats=repeats), timed(theirs, repeats=repeats)
  a = np.asarray(out["ours"].tokens)
  a = np.where(a == NOT_A_TOKEN, PAD, a)  # a loaded model pads with an id outside the vocabulary
  b = out["theirs"][:, prompt_len:].cpu().numpy()
  b = np.pad(b, ((0, 0), (0, max_new - b.shape[1])), constant_values=PAD)
  tokens = int(np.asarray(out["ours"].lengths).sum())
  return {"batch": batch, "prompt_len": prompt_len, "max_new": max_new, "tokens": tokens,
          "same_tokens": bool((a == b).all()), "ours_s": ours_s, "transformers_s": theirs_s,
          "ours_tokens_per_s": tokens / ours_s, "transformers_tokens_per_s": tokens / theirs_s,
          "speedup": theirs_s / ours_s, "speedup_range": ratio_range(theirs_s, ours_s),
          "torch_device": device}


def bench_train(shape: dict, vocab_size: int, timed, *, batch: int, seq: int,
                repeats: int, place=lambda state, data: (state, data)) -> dict:
  """place(state, data) -> (state, data) where our step runs (bench.data_parallel)."""
  import jax
  import jax.numpy as jnp
  import torch

  from reasoning.train import sft, state as state_lib

  with tempfile.TemporaryDirectory() as d:
    model, _, graphdef, params = llama_pair(shape, vocab_size, d)
  tokens = np.random.default_rng(0).integers(3, vocab_size, (batch, seq))
  tx = state_lib.make_optimizer(state_lib.OptimConfig(total_steps=1000))
  step = sft.make_train_step(graphdef, tx)
  data = {"tokens": jnp.asarray(tokens, jnp.int32), "loss_mask": jnp.ones((batch, seq), jnp.float32)}
  state, data = place(state_lib.create(params, tx), data)
  holder = [state]

  def ours():
    holder[0], metrics = step(holder[0], data)
    jax.block_until_ready(metrics)

  device = torch_device()
  model = model.to(device).train()
  opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.0)
  ids = torch.as_tensor(tokens, dtype=torch.long, device=device)

  def theirs():
    loss = model(input_ids=ids, labels=ids).loss
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    _sync(device)

  ours_s, theirs_s = timed(ours, repeats=repeats), timed(theirs, repeats=repeats)
  return {"batch": batch, "seq": seq, "params_M": sum(p.numel() for p in model.parameters()) / 1e6,
          "ours_s": ours_s, "torch_s": theirs_s, "ours_tokens_per_s": batch * seq / ours_s,
          "torch_tokens_per_s": batch * seq / theirs_s, "speedup": theirs_s / ours_s,
          "speedup_range": ratio_range(theirs_s, ours_s),
          "torch_threads": torch.get_num_threads(), "torch_device": device}


def ratio_range(slow, fast) -> list[float] | None:
  """[lowest, highest] of slow / fast over the calls timed, where the timings carry them
  (bench.Timing)."""
  if not hasattr(slow, "low"):
    return None
  return [slow.low / fast.high, slow.high / fast.low]

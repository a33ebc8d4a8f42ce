"""FLOP and token accounting shared by trainers and searchers (DESIGN.md, "Compute accounting").

Forward FLOPs per token = 2 * N_matmul + 2 * n_layers * context * d_model, where N_matmul counts
the parameters used in matrix multiplies (the embedding lookup is free; a tied embedding counts
once, as the LM head) and the second term is attention's QK^T and AV. Training = 3x forward.
"""

from __future__ import annotations

import numpy as np

from reasoning.model import ModelConfig


def matmul_params(cfg: ModelConfig) -> int:
  d, f, hd = cfg.d_model, cfg.d_ff, cfg.head_dim
  attn = d * cfg.n_heads * hd + 2 * d * cfg.n_kv_heads * hd + cfg.n_heads * hd * d
  mlp = d * f * (3 if cfg.mlp == "swiglu" else 2)
  heads = d * cfg.vocab_size + 2 * d  # LM head (tied or not) + value and reward heads
  return cfg.n_layers * (attn + mlp) + heads


def forward_flops_per_token(cfg: ModelConfig, context: float) -> float:
  """FLOPs to run one token through the model attending to `context` tokens."""
  return 2.0 * matmul_params(cfg) + 2.0 * cfg.n_layers * context * cfg.d_model


def forward_flops_rows(cfg: ModelConfig, lengths) -> np.ndarray:
  """FLOPs of a full forward pass over each sequence (causal: mean context L/2)."""
  lengths = np.asarray(lengths, np.float64)
  return lengths * (2.0 * matmul_params(cfg) + cfg.n_layers * lengths * cfg.d_model)


def forward_flops(cfg: ModelConfig, lengths) -> float:
  """FLOPs of full forward passes over sequences of the given lengths, summed."""
  return float(np.sum(forward_flops_rows(cfg, lengths)))


def train_flops(cfg: ModelConfig, lengths) -> float:
  """Forward + backward over sequences of the given lengths: 3x the forward FLOPs."""
  return 3.0 * forward_flops(cfg, lengths)


def generation_flops_rows(cfg: ModelConfig, prompt_lengths, new_lengths) -> np.ndarray:
  """Per row: prefill of the prompt plus incremental decoding of each generated token."""
  p = np.asarray(prompt_lengths, np.float64)
  n = np.asarray(new_lengths, np.float64)
  # Token j of the continuation attends to p + j earlier tokens; sum_j (p + j) = n*p + n(n-1)/2.
  decode = 2.0 * matmul_params(cfg) * n + 2.0 * cfg.n_layers * cfg.d_model * (n * p + n * (n - 1) / 2)
  return forward_flops_rows(cfg, p) + decode


def generation_flops(cfg: ModelConfig, prompt_lengths, new_lengths) -> float:
  """Prefill of each prompt plus incremental decoding of each generated token, summed."""
  return float(np.sum(generation_flops_rows(cfg, prompt_lengths, new_lengths)))

"""Tiny fakes shared by tests: a 2-layer, width-32 transformer config."""

from reasoning.model import ModelConfig
from reasoning.text import VOCAB

TINY = ModelConfig(vocab_size=VOCAB.size, d_model=32, n_layers=2, n_heads=4, n_kv_heads=2,
                   d_ff=64, max_len=128)

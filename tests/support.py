"""What several tests share: a 2-layer, width-32 transformer config, a config file's `:tiny`
variant with changes, and the SFT and PPO steps the sharding and multi-process checks run on
every layout."""

import runpy

from configs import common
from reasoning.model import ModelConfig
from reasoning.text import VOCAB

TINY = ModelConfig(vocab_size=VOCAB.size, d_model=32, n_layers=2, n_heads=4, n_kv_heads=2,
                   d_ff=64, max_len=128)


def tiny_config(path: str, **changes):
  """The `:tiny` variant of the config file at `path`, with {dotted field: value} `changes`."""
  config = runpy.run_path(path)["get_config"]("tiny")
  for dotted, value in changes.items():
    common.override(config, dotted, value)
  return config


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
  rl_batch = pg.PGBatch(tokens, mask, ref_logp=logp0 - noise,
                        advantages=rng.standard_normal(mask.shape).astype(np.float32),
                        returns=rng.random(mask.shape).astype(np.float32),
                        old_logp=logp0 + noise,
                        old_values=rng.random(mask.shape).astype(np.float32))
  steps = {"sft": (sft.make_train_step(graphdef, tx), {"tokens": tokens, "loss_mask": loss_mask}),
           "rl": (pg.make_train_step(graphdef, tx, pg.PGConfig(algo="ppo")), rl_batch)}
  return graphdef, params, tx, steps, prompts

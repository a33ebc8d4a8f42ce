"""Writes a run on a Hugging Face model back as a plain Hugging Face checkpoint.

  python scripts/export_hf.py --run runs/hf/rl --out /models/qwen-rl

The run's latest parameters (a LoRA run's adapters merged into its base) are written by
`hf.save` with the base model's config.json, next to copies of its tokenizer files, so
transformers' `from_pretrained` (or experiments' `model.path`) reads the directory as is. The
value and reward heads go into their own tensors, which transformers ignores.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys

from reasoning import hf, runs as runs_lib

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                   "generation_config.json", "vocab.json", "merges.txt")


def export(run: str, out: str) -> str:
  _, config, cfg, _, params, _ = runs_lib.load_sft(run)
  source = config["model"].get("path")
  if not source:
    raise ValueError(f"{run}: a run on the character vocabulary; only runs on a Hugging Face "
                     f"model (model.path) export to its layout")
  os.makedirs(out, exist_ok=True)
  hf.save(out, cfg, params, hf.read_config(source))
  for name in TOKENIZER_FILES:
    if os.path.exists(os.path.join(source, name)):
      shutil.copy(os.path.join(source, name), os.path.join(out, name))
  return out


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("--run", required=True, help="a run directory on a Hugging Face model")
  parser.add_argument("--out", required=True, help="the directory to write")
  args = parser.parse_args()
  try:
    print(f"wrote {export(args.run, args.out)}")
  except ValueError as e:
    sys.exit(f"error: {e}")


if __name__ == "__main__":
  main()

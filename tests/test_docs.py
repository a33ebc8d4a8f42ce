"""Every command in README.md and docs/ runs as written, in a dry mode: an entrypoint's config is
parsed by the same absl flags the command line uses (the variant, every `--config.` override), a
script's flags are ones it defines, and every run directory a command reads is one that a
documented command, `make demo` or `make reproduce` writes (or a placeholder: `<sft>`, `/models`,
`/data`)."""

import fnmatch
import glob
import importlib
import os
import re
import shlex

import pytest
from absl import flags
from ml_collections import config_flags

DOCS = ["README.md"] + sorted(glob.glob("docs/*.md"))
# Config fields and script flags that name a run directory (or file) the command reads.
READ_FIELDS = ("init_from", "teacher", "policy", "prm", "orm", "generator", "discriminator",
               "compare_with")
READ_FLAGS = ("--policy", "--before", "--after", "--rl", "--coverage", "--search", "--init_from",
              "--run", "--start", "--teacher")
# Scripts whose positionals are runs: `DIR`, `LABEL=DIR[,DIR...]` or `LABEL=DIR:DIR`.
POSITIONAL_READS = {"plot_train_scaling", "exchange", "fit_scaling", "distillation"}
PLACEHOLDER = re.compile(r"^(<|/models|/data|/shared|\.\.\.|\.cache/smollm2)")


def commands() -> list[tuple[str, list[str]]]:
  """(doc, argv) of every `python -m experiments.*` / `python scripts/*.py` line in a fenced
  block, continuation lines joined and trailing comments dropped."""
  out = []
  for doc in DOCS:
    text = open(doc).read()
    for block in re.findall(r"```[a-z]*\n(.*?)```", text, re.S):
      joined = re.sub(r"\\\n\s*", " ", block)
      for line in joined.splitlines():
        line = line.split("  #")[0].split(" # ")[0].strip()
        if line.startswith("python ") or re.match(r"^[A-Z_]+=\S+ python ", line):
          argv = shlex.split(line)
          out.append((doc, argv[argv.index("python") + 1:]))
  return out


def written_dirs() -> list[str]:
  """Directories that make demo, make reproduce and the documented commands write (fnmatch
  patterns where a shell variable stands in a name)."""
  found = []
  make = open("Makefile").read().replace("$(DEMO_DIR)", "runs/demo")
  found += re.findall(r"--(?:workdir|out) (\S+)", make)
  script = open("scripts/reproduce.sh").read()
  for path in re.findall(r'--(?:workdir|out) "\$OUT/([^"]+)"', script):
    found.append("runs/reproduce/" + re.sub(r"\$\{?\w+\}?", "*", path))
  for _, argv in commands():
    found += [argv[i + 1] for i, a in enumerate(argv[:-1]) if a in ("--workdir", "--out")]
    found += [a.split("=", 1)[1] for a in argv if a.startswith(("--workdir=", "--out="))]
  return found


def is_written(path: str, written: list[str]) -> bool:
  path = path.rstrip("/")
  return bool(PLACEHOLDER.match(path)) or any(
      fnmatch.fnmatch(path, w) or path.startswith(w.rstrip("/") + "/") for w in written)


def parse_entrypoint(argv: list[str]):
  """The config an `experiments.*` command runs with, parsed as its command line parses it."""
  module = argv[1]
  importlib.import_module(module)  # it exists and imports
  values, command = flags.FlagValues(), [module] + argv[2:]
  config_flags.DEFINE_config_file("config", None, "", flag_values=values, lock_config=True,
                                  sys_argv=command)
  for name in ("workdir", "coordinator_address"):
    flags.DEFINE_string(name, None, "", flag_values=values)
  for name in ("num_processes", "process_id"):
    flags.DEFINE_integer(name, 0, "", flag_values=values)
  values(command)
  return values.config


def script_flags(name: str) -> set[str]:
  return set(re.findall(r'add_argument\("(--[\w-]+)"', open(f"scripts/{name}.py").read()))


CASES = commands()


def test_the_docs_have_commands_to_check():
  assert len(CASES) > 30
  assert {argv[1] for _, argv in CASES if argv[0] == "-m"} >= {
      "experiments.sft", "experiments.rl", "experiments.verifier", "experiments.search"}


@pytest.mark.parametrize("doc,argv", CASES, ids=[f"{d}:{' '.join(a)[:60]}" for d, a in CASES])
def test_documented_command_parses_and_reads_what_is_written(doc, argv):
  written = written_dirs()
  reads = []
  if argv[0] == "-m":
    config = parse_entrypoint(argv)
    for field in READ_FIELDS:
      value = config.get(field)
      if isinstance(value, str) and value and value not in ("oracle", "none"):
        reads.append((f"--config.{field}", value))
  else:
    name = os.path.basename(argv[0])[:-3]
    defined = script_flags(name)
    for arg in argv[1:]:
      if arg.startswith("--"):
        assert arg.split("=")[0] in defined, f"{doc}: scripts/{name}.py has no flag {arg}"
    reads += [(a, argv[i + 2]) for i, a in enumerate(argv[1:-1]) if a in READ_FLAGS]
    if name in POSITIONAL_READS:
      options = {i + 2 for i, a in enumerate(argv[1:-1]) if a.startswith("--")}
      for i, arg in enumerate(argv[1:], 1):
        if not arg.startswith("--") and i not in options:
          for path in re.split(r"[,:]", arg.split("=", 1)[-1]):
            reads.append(("a run", path))
  for what, path in reads:
    assert is_written(path, written), (
        f"{doc}: `{' '.join(argv)}` reads {path} ({what}), which no documented command, "
        f"make demo or make reproduce writes")


@pytest.mark.parametrize("path", sorted(glob.glob("configs/*.py")))
def test_config_defaults_read_what_is_written(path):
  """A config's default run directories (init_from, policy, prm, ...) are ones make demo or make
  reproduce writes, so the config runs as it stands after them."""
  name = os.path.basename(path)[:-3]
  if name in ("__init__", "common"):
    return
  config = importlib.import_module(f"configs.{name}").get_config()
  written = written_dirs()
  for field in READ_FIELDS:
    value = config.get(field)
    if isinstance(value, str) and value and value not in ("oracle", "none"):
      assert is_written(value, written), f"{path}: {field}={value!r}, which nothing writes"

"""What every entrypoint shares: the --config/--workdir flags and the run directory."""

from __future__ import annotations

import datetime
import json
import math
import numbers
import os
import time

from absl import flags
from ml_collections import config_flags

CONFIG = config_flags.DEFINE_config_file(
    "config", None, "Config file, e.g. configs/countdown_sft.py (optionally :variant).",
    lock_config=True)
WORKDIR = flags.DEFINE_string(
    "workdir", None, "Output directory; default runs/<experiment>/<timestamp>. Reusing one resumes.")
# Several processes (hosts) run the same command, each with its own --process_id; on TPU pods and
# SLURM, --num_processes=-1 lets jax.distributed find them in the environment.
NUM_PROCESSES = flags.DEFINE_integer("num_processes", 1, "Processes of a multi-process run.")
PROCESS_ID = flags.DEFINE_integer("process_id", 0, "This process's index in a multi-process run.")
COORDINATOR = flags.DEFINE_string("coordinator_address", None,
                                  "host:port of process 0 in a multi-process run.")


def ints(value) -> list[int]:
  """A config's list of integers: a tuple (1, 2, 3), one integer, or a comma string "1,2,3" (the
  form a saved run's config.json may hold, and a value read from the command line) -> [1, 2, 3]."""
  if isinstance(value, str):
    parts = [x for x in value.split(",") if x.strip()]
  elif isinstance(value, numbers.Integral):
    parts = [value]
  else:
    parts = list(value)
  try:
    return [int(x) for x in parts]
  except (TypeError, ValueError):
    raise ValueError(f"expected integers (a tuple such as (1, 2, 3)), got {value!r}") from None


def names(value) -> list[str]:
  """A config's list of names: a tuple ("countdown", "letters") or a comma string; an element may
  itself hold commas (`--config.tasks=countdown,letters` reaches a tuple field as one string)."""
  items = [value] if isinstance(value, str) else list(value)
  return [n.strip() for item in items for n in str(item).split(",") if n.strip()]


def held_out_problems(task, difficulty_list, n: int, seed: int, exclude=frozenset()):
  """The held-out evaluation set: n problems per difficulty from streams no training draws on,
  less the prompts in `exclude` (what the run a stage builds on trained on: trained_prompts).
  SFT and every later stage built on it use the same (task, seed) and so the same problems; a
  larger set begins with a smaller one."""
  from reasoning import rng
  out = []
  for d in ints(difficulty_list):
    stream, kept = rng.stream(seed, "held_out", d), []
    for _ in range(100):
      kept += [p for p in task.sample(stream, n - len(kept), d) if p.prompt not in exclude]
      if len(kept) == n:
        break
    else:
      raise ValueError(f"eval_problems={n}: difficulty {d} has too few problems that the run "
                       f"this one builds on did not train on")
    out += kept
  return out


def trained_prompts(sft_config: dict) -> frozenset[str]:
  """The prompts an SFT run (its config.json) drew for training: its task's first
  `train_problems` draws per training difficulty, less its own held-out set. A small problem
  space (Countdown with 3 numbers: 12,000 draws hold 7,723 distinct problems) makes later draws
  of the held-out stream repeat training prompts; a stage evaluating more problems than the SFT
  run held out skips them. Empty for a base model (no draws)."""
  from ml_collections import ConfigDict

  from reasoning.train import sft_data
  if "train_problems" not in sft_config or "train_difficulties" not in sft_config:
    return frozenset()
  config = ConfigDict(sft_config)
  task, seed = make_task(config), config.seed
  held = {p.prompt for p in held_out_problems(task, config.eval_difficulties,
                                              config.eval_problems, seed)}
  return frozenset(p.prompt for d in ints(config.train_difficulties)
                   for p in sft_data.training_draws(task, seed, d, config.train_problems)) - held


def evaluation_set(task, run_dir: str, difficulty_list: str, n: int):
  """The held-out problems (n per difficulty) of a stage built on the run at `run_dir`: the
  held-out draws of the SFT run at the root of that chain (its seed), less the prompts it trained
  on, so none was trained on however many."""
  root = load_sft_config(run_dir)
  own = (n <= root.get("eval_problems", 0) and
         set(ints(difficulty_list)) <= set(ints(root["eval_difficulties"])))
  # Within the SFT run's own held-out set nothing is skipped (it trained on none of it), so
  # there is no need to draw its training problems again.
  exclude = frozenset() if own else trained_prompts(root)
  return held_out_problems(task, difficulty_list, n, root["seed"], exclude=exclude)


def check_positive(config, *fields: str) -> None:
  """A clear error naming `--config.<field>` for each field that must be a positive number."""
  for name in fields:
    value = config
    for part in name.split("."):
      value = value[part]
    if not value > 0:
      raise ValueError(f"--config.{name} must be positive, got {value!r}")


def make_task(config, vocab=None):
  """The task of a config's `task` block: a ConfigDict, or a run's config.json as a dict. A
  `task.chat` block ({question, instruction, system}: configs/common.chat) poses it through the
  chat template of `vocab` (an instruct model's tokenizer; tasks/chat.ChatFormat); a `task.tools`
  block ({trace_share, max_calls, available}: configs/common.tools) gives it the environment's
  calc tool (tasks/tool_use.ToolUse)."""
  from reasoning.tasks import get_task
  task = dict(config["task"])
  chat = dict(task.pop("chat", None) or {})
  tools = dict(task.pop("tools", None) or {})
  inner = get_task(task.pop("name"), **task)
  if tools:
    from reasoning.tasks.tool_use import ToolUse
    unknown = sorted(set(tools) - {"trace_share", "max_calls", "available"})
    if unknown:
      raise ValueError(f"task.tools.{unknown[0]} is not a tool setting; expected trace_share, "
                       f"max_calls, available")
    inner = ToolUse(inner, **tools)
  if not chat.get("question"):
    return inner
  from reasoning.tasks.chat import ChatFormat
  unknown = sorted(set(chat) - {"question", "instruction", "system"})
  if unknown:
    raise ValueError(f"task.chat.{unknown[0]} is not a chat setting; expected question, "
                     f"instruction, system")
  template = getattr(vocab, "chat_template", None)
  if not template:
    where = getattr(vocab, "path", None) or "the character vocabulary"
    raise ValueError(f"task.chat poses the task through the model's chat template, but "
                     f"{where} has none (an instruct model's tokenizer_config.json holds one)")
  return ChatFormat(inner, template=template, special_tokens=vocab.special_tokens, **chat)


def base_model_config(directory: str, config: dict) -> dict | None:
  """The run config a Hugging Face model directory stands for when it is passed where a run is
  expected (`init_from`): a base model, nothing trained, seed 0. None for a run directory."""
  if "model" in config or "init_from" in config or not ("model_type" in config or
                                                       "architectures" in config):
    return None
  return {"model": {"path": directory, "dtype": "float32"}, "seed": 0}


def read_run_config(workdir: str) -> dict:
  """A run directory's own config.json (ValueError naming the directory where there is none)."""
  path = os.path.join(workdir, "config.json")
  if not os.path.exists(path):
    raise ValueError(f"{workdir!r}: no config.json there; expected a run directory")
  with open(path) as f:
    return json.load(f)


def load_sft_config(workdir: str) -> dict:
  config = read_run_config(workdir)
  base = base_model_config(workdir, config)
  if base is not None:
    return base
  return config if "model" in config else load_sft_config(config["init_from"])


# ModelConfig fields of how a model is computed, not what it computes: a config's `memory` block
# sets them for the run (gradient checkpointing, log-probs in chunks over the sequence).
MEMORY_FIELDS = ("remat", "logits_chunk", "param_dtype")


def make_model(model_config, key, *, load_weights: bool = True, memory=None):
  """(vocab, ModelConfig, graphdef, params) for a config's `model` block.

  With `model.path` set: a Hugging Face checkpoint directory (config.json, *.safetensors,
  tokenizer.json; local files only), its tokenizer as the vocabulary and, with load_weights,
  its weights (value and reward heads at zero); only `model.dtype` may be set beside it, since
  the shape is the checkpoint's. Otherwise a fresh transformer of that shape over the character
  vocabulary, initialized from `key`. Without load_weights, params are only shapes
  (jax.ShapeDtypeStruct) to restore a checkpoint into. `memory` (a config's memory block:
  MEMORY_FIELDS) sets how the model is computed in training.
  """
  from reasoning import hf, model as model_lib
  from reasoning.text import VOCAB
  memory = dict(memory or {})
  unknown = sorted(set(memory) - set(MEMORY_FIELDS))
  if unknown:
    raise ValueError(f"memory.{unknown[0]} is not a memory setting; expected {MEMORY_FIELDS}")
  fields = dict(model_config)
  path = fields.pop("path", "")
  fields.update(memory)
  if not path:
    cfg = model_lib.ModelConfig(vocab_size=VOCAB.size, **fields)
    return (VOCAB, cfg) + (model_lib.init(cfg, key) if load_weights else
                           model_lib.abstract_init(cfg))
  from reasoning.tokenizer import HFTokenizer
  unknown = sorted(set(fields) - {"dtype"} - set(MEMORY_FIELDS))
  if unknown:
    raise ValueError(f"model.{unknown[0]}: with model.path the model's shape comes from "
                     f"{path}/config.json; only model.dtype may be set beside it")
  tokenizer = HFTokenizer.from_dir(path)
  dtype = fields.pop("dtype", "float32")
  if load_weights:
    cfg, graphdef, params = hf.load(path, dtype=dtype, specials=tokenizer.specials,
                                    settings=fields)
  else:  # shapes only: a checkpoint is restored into them
    cfg = hf.config_from_hf(hf.read_config(path), where=f"{path}/config.json", dtype=dtype,
                            specials=tokenizer.specials, settings=fields)
    graphdef, params = model_lib.abstract_init(cfg)
  if tokenizer.size > cfg.vocab_size:
    raise ValueError(f"{tokenizer.path}: {tokenizer.size} tokens, but {path}/config.json has "
                     f"vocab_size={cfg.vocab_size}")
  return tokenizer, cfg, graphdef, params


def load_sft(workdir: str, memory=None):
  """(vocabulary, sft config dict, model config, graphdef, params, train FLOPs) of a run
  directory (SFT, or a run started from one): the character vocabulary, or the Hugging Face
  model's tokenizer. A Hugging Face model directory itself is a base model: its weights, no
  training FLOPs counted (RL straight from a pretrained model, as TinyZero does). A LoRA run's
  parameters come back merged into its base (plain parameters). `memory`: the caller's memory
  block (make_model)."""
  import jax

  from reasoning import lora as lora_lib
  from reasoning.checkpoint import Checkpointer, CorruptCheckpoint
  from reasoning.train import state as state_lib
  sft_config = read_run_config(workdir)
  base = base_model_config(workdir, sft_config)
  if base is not None:
    vocab, model_cfg, graphdef, params = make_model(base["model"], jax.random.key(0),
                                                    memory=memory)
    return vocab, base, model_cfg, graphdef, params, 0.0
  if "model" not in sft_config:  # a run started from another (RL, verifier): its model shape
    model_config = load_sft_config(sft_config["init_from"])["model"]
    sft_config = dict(sft_config, model=model_config)
  vocab, model_cfg, graphdef, params = make_model(sft_config["model"], jax.random.key(0),
                                                  load_weights=False, memory=memory)
  lora_cfg = lora_lib.LoraConfig.from_config(sft_config.get("lora"))
  if lora_cfg.on:  # the checkpoint holds the LoRA tree; the base is what the run started from
    base = (load_sft(sft_config["init_from"], memory)[4] if sft_config.get("init_from") else
            make_model(sft_config["model"], jax.random.key(0), memory=memory)[3])
    params = jax.eval_shape(lambda b: lora_lib.init(b, lora_cfg, jax.random.key(0)), base)
  tx = state_lib.make_optimizer(state_lib.OptimConfig())
  abstract = jax.eval_shape(lambda p: state_lib.create(p, tx), params)
  stale = sft_config.get("off_policy_steps") or 0
  if stale:  # an RL run whose checkpoint holds its samplers too
    from reasoning.train import rollout
    abstract = rollout.stale_carry(abstract, [abstract.params] * stale)
  ckpt = Checkpointer(os.path.join(workdir, "checkpoints"), save_every=1)
  try:
    keys = ckpt.stored_keys()
    if keys is not None and not keys & {"params", "state"}:  # bare parameters (critic, revision)
      abstract = params
    # A run reading another run's checkpoint never moves or skips its files: an unreadable latest
    # checkpoint is an error naming it (rerunning that run sets it aside and resumes).
    try:
      state, meta = ckpt.restore(abstract, fall_back=False)
    except CorruptCheckpoint as e:
      _silence_stderr()
      raise ValueError(f"{e}; rerunning the run in {workdir} sets it aside and resumes from the "
                       f"one before") from None
  finally:
    ckpt.close()
  if isinstance(state, dict) and "state" in state:
    state = state["state"]
  params = state if abstract is params else state.params
  if lora_cfg.on:
    params = lora_lib.merge(base, params, lora_cfg)
  return vocab, sft_config, model_cfg, graphdef, params, float(meta["train_flops"])


def post_training_parameters(params, config):
  """(trainable, lora config, policy_of) of a run that trains a loaded model further (RL,
  distillation): with `config.lora` on, LoRA adapters on the frozen `params` (their key folded
  from the seed, apart from every rollout and evaluation key), else a copy of every parameter;
  policy_of(trainable) is the policy they make."""
  import jax
  import jax.numpy as jnp

  from reasoning import lora as lora_lib, model as model_lib
  lora_cfg = lora_lib.LoraConfig.from_config(config.get("lora"))
  merged = lora_lib.merger(lora_cfg)
  if not lora_cfg.on:
    return jax.tree.map(jnp.copy, params), lora_cfg, lambda trainable: merged(params, trainable)
  trainable = lora_lib.init(params, lora_cfg, jax.random.fold_in(jax.random.key(config.seed), 1))
  print(f"LoRA rank {lora_cfg.rank} on {','.join(lora_cfg.targets)}: "
        f"{lora_lib.count(trainable) / 1e6:.2f}M trainable parameters of "
        f"{model_lib.count_params(params) / 1e6:.1f}M", flush=True)
  return trainable, lora_cfg, lambda trainable: merged(params, trainable)


def finish_post_training(writer, workdir: str, config, label: str, title: str) -> dict:
  """The end of a run after SFT (RL, distillation): closes its metrics, draws
  plots/train_scaling.png (held-out pass@1 against compute, the SFT run at `config.init_from`
  first; sampled pass@1 where the run evaluates `pass_k` samples) and returns the last
  held-out evaluation."""
  from reasoning import loop
  from reasoning.logging import read_metrics
  writer.close()
  records = read_metrics(writer.path)
  loop.plot_train_scaling(workdir, label, records, config.init_from,
                          ints(config.eval_difficulties), title=title,
                          problems=config.eval_problems,
                          metric="sampled" if config.pass_k else "greedy")
  return loop.last_evaluation(records, writer.path)


def check_same_vocab(vocab, other, name: str, reference: str) -> None:
  """A clear error where the run at `name` reads another vocabulary than `reference`'s: a
  verifier scores the policy's token ids, so both must share one tokenizer."""
  if vocab != other:
    describe = lambda v: getattr(v, "path", "the character vocabulary")
    raise ValueError(f"{name}: its model reads {describe(other)}, but {reference}'s reads "
                     f"{describe(vocab)}; train it from the same model")


def finetune(config, graphdef, params, examples, vocab, model_cfg, mesh, seed: int):
  """`sft.finetune` of a copy of `params` on (prompt, completion) `examples` with the config's
  `optim`, `seq_len` and `finetune` block: max(finetune.min_steps, finetune.epochs passes)
  steps of finetune.batch_size. Returns (params, train FLOPs, steps, last step's metrics)."""
  from reasoning.train import sft
  steps = max(config.finetune.min_steps, math.ceil(
      config.finetune.epochs * len(examples) / config.finetune.batch_size))
  params, flops, metrics = sft.finetune(
      graphdef, params, examples, vocab, model_cfg, mesh, optim=dict(config.optim), steps=steps,
      batch_size=config.finetune.batch_size, seq_len=config.seq_len, seed=seed)
  return params, flops, steps, metrics


def finetune_once(config, workdir: str, graphdef, policy, vocab, model_cfg, mesh, sft_flops: float,
                  make_examples):
  """A run's one fine-tune from `policy`, checkpointed as phase 1: `make_examples() -> (examples,
  generation FLOPs, extra metrics)` builds the data, `finetune` trains on it, and metrics.jsonl
  gets the record of step 1. A rerun restores the fine-tuned parameters instead (resumable
  experiments whose evaluation follows one fine-tune: the critic, the revision model).
  Returns (params, meta) with meta["train_flops"] the policy's plus this phase's."""
  from reasoning import loop
  from reasoning.checkpoint import Checkpointer
  ckpt = Checkpointer(f"{workdir}/checkpoints", save_every=1, keep=1)
  meta = {"train_flops": sft_flops}
  params, meta, start = loop.resume(ckpt, policy, meta, what="phase")
  writer = loop.open_metrics(workdir, start)
  try:
    if start == 0:
      examples, gen_flops, extra = make_examples()
      params, ft_flops, steps, metrics = finetune(config, graphdef, policy, examples, vocab,
                                                  model_cfg, mesh, config.seed)
      meta["train_flops"] += gen_flops + ft_flops
      writer.write(1, train_flops=meta["train_flops"], examples=len(examples), **extra,
                   finetune_steps=steps, finetune_loss=metrics["loss"],
                   generation_flops=gen_flops, finetune_flops=ft_flops)
      ckpt.save(1, params, meta, force=True)
  finally:
    ckpt.close()
    writer.close()
  return params, meta


def workdir_for(experiment: str, seed=None) -> str:
  """--workdir, or runs/<experiment>/<time>-seed<seed>-<pid>: two runs started in the same second
  (a seed sweep) never share a default workdir."""
  if WORKDIR.value:
    return WORKDIR.value
  if NUM_PROCESSES.value != 1:
    raise ValueError("--workdir: a multi-process run needs one, the same for every process")
  stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
  seed = "" if seed is None else f"-seed{seed}"
  return os.path.join("runs", experiment, f"{stamp}{seed}-{os.getpid()}")


def labelled(item: str) -> tuple[str, str]:
  """The argparse type of the scripts' LABEL=VALUE arguments: (label, value), or a usage error
  naming the item."""
  import argparse
  label, sep, value = item.partition("=")
  if not (label and sep and value):
    raise argparse.ArgumentTypeError(f"{item!r}: expected LABEL=VALUE")
  return label, value


def tune_xla_cpu() -> None:
  """Process-level XLA:CPU tuning, applied where an entrypoint starts (before jax starts its CPU
  client), never on import of the library.

  XLA:CPU (jaxlib 0.10, the pinned one) lets YNNPACK fuse reductions and elementwise ops as well
  as matmuls; on x86 those reduction fusions (the softmax's backward above all) run the default
  model's training step ~12% slower than XLA's own loops (interleaved A/B, 2 cores). This keeps
  YNNPACK for matmuls only. An XLA_FLAGS that names the option already wins; other jaxlib
  versions, which may not know the flag (an unknown XLA flag is fatal), are left alone. Where
  the CPU is the only device it also keeps jax.checkpoint's barriers (_cpu_only)."""
  flags_now = os.environ.get("XLA_FLAGS", "")
  if _cpu_only() and "xla_disable_hlo_passes" not in flags_now:
    flags_now += " --xla_disable_hlo_passes=cse_barrier_expander"
  if "xla_cpu_experimental_ynn_fusion_type" not in flags_now:
    try:
      from jaxlib import version
    except ImportError:
      version = None
    if version is not None and version.__version__.startswith("0.10."):
      flags_now += " --xla_cpu_experimental_ynn_fusion_type=individual_dot"
  os.environ["XLA_FLAGS"] = flags_now.strip()


def _cpu_only() -> bool:
  """No accelerator plugin (CUDA, ROCm, TPU) is installed, or JAX_PLATFORMS asks for the CPU.

  Where the CPU is the device, XLA's `cse_barrier_expander` pass removes the optimization
  barriers jax.checkpoint puts around a rematerialized block before CSE runs, and CSE then merges
  the backward pass's recomputation with the forward values: gradient checkpointing
  (model.remat) saves nothing (an 8-layer model's gradient: 905 MB of temporaries with or
  without it). With the pass off the barriers stay and remat works (121 MB, 'dots' 265 MB);
  nothing else in the code uses them."""
  import importlib.util
  if os.environ.get("JAX_PLATFORMS", "").strip().lower() == "cpu":
    return True
  return not any(importlib.util.find_spec(m) for m in ("jax_plugins", "libtpu"))


# Fields that change how a run is watched or reported, never what it trains: a rerun in the same
# workdir may change them (compare_with: the run a revision run's report is compared with).
OBSERVATION_FIELDS = frozenset({"log_every", "eval_every", "checkpoint_every", "keep_checkpoints",
                                "compare_with"})


def flatten(d: dict, prefix: str = "") -> dict:
  """{"a.b": v} for a nested dict {"a": {"b": v}}."""
  out = {}
  for k, v in d.items():
    out.update(flatten(v, f"{prefix}{k}.") if isinstance(v, dict) else {prefix + k: v})
  return out


def _same(recorded, value) -> bool:
  """Equal, counting a comma string "1,2" equal to the list [1, 2] it stands for: a config.json
  may record a tuple field in either form."""
  if isinstance(recorded, str) and isinstance(value, list):
    return recorded.split(",") == [str(x) for x in value]
  return recorded == value


def save_config(config, workdir: str) -> None:
  """Writes config.json, the record of exactly what ran.

  Rerunning in a workdir resumes the run there, so a config that differs from the recorded one
  (beyond OBSERVATION_FIELDS) is an error naming the fields: resuming would silently mix two
  experiments in one set of checkpoints and metrics.
  """
  from reasoning import mesh
  if not mesh.is_first_process():  # the first process checks and writes it for all
    return
  os.makedirs(workdir, exist_ok=True)
  path = os.path.join(workdir, "config.json")
  new = json.loads(json.dumps(config.to_dict(), default=str))
  if os.path.exists(path):
    try:
      with open(path) as f:
        old = flatten(json.load(f))
    except (OSError, json.JSONDecodeError) as e:
      raise ValueError(f"{path}: unreadable ({e}); move the workdir aside or fix the file") from e
    flat = flatten(new)
    changed = sorted(k for k in old.keys() | flat.keys()
                     if not _same(old.get(k), flat.get(k))
                     and k.split(".")[-1] not in OBSERVATION_FIELDS)
    if changed:
      shown = ", ".join(f"{k}: {old.get(k)!r} -> {flat.get(k)!r}" for k in changed[:6])
      raise ValueError(f"{path}: this workdir holds a run with a different config ({shown}"
                       f"{', ...' if len(changed) > 6 else ''}); rerun with the same flags to "
                       f"resume it, or pass a fresh --workdir")
  with open(path, "w") as f:
    json.dump(new, f, indent=2, sort_keys=True)


def _config_path_and_overrides(argv: list[str]) -> tuple[str | None, list[str]]:
  path, overrides = None, []
  for i, arg in enumerate(argv):
    if arg.startswith("--config="):
      path = arg.split("=", 1)[1]
    elif arg == "--config" and i + 1 < len(argv):
      path = argv[i + 1]
    elif arg.startswith("--config."):
      overrides.append(arg[len("--config."):].split("=", 1)[0])
  return path, overrides


def check_overrides(argv: list[str]) -> None:
  """Raises ValueError, one line, for a config file that does not load (missing, an unknown
  variant, a get_config that raises) and for an unknown `--config.a.b` field, before absl turns
  either into a traceback or an opaque KeyError."""
  import runpy
  path, overrides = _config_path_and_overrides(argv)
  if path is None:
    return
  file, _, arg = path.partition(":")
  if not os.path.isfile(file):
    raise ValueError(f"--config: no such config file {file!r}")
  try:
    config = runpy.run_path(file)["get_config"](arg or None)
  except Exception as e:  # the file's own error, named with the file
    message = str(e) if str(e).startswith(file) else f"{file}: {type(e).__name__}: {e}"
    raise ValueError(f"--config: {message}") from None
  for dotted in overrides:
    node = config
    for i, key in enumerate(dotted.split(".")):
      if not hasattr(node, "keys") or key not in node:
        known = ", ".join(sorted(node.keys())) if hasattr(node, "keys") else "(not a group)"
        where = ".".join(dotted.split(".")[:i]) or "the top level"
        raise ValueError(f"--config.{dotted}: unknown field {key!r} at {where} of {file}; "
                         f"known fields: {known}")
      node = node[key]


def initialize_processes() -> None:
  """jax.distributed.initialize for a multi-process run (a no-op for one process). CPU devices
  talk through gloo, so several processes on one machine make a test of a multi-host run."""
  if NUM_PROCESSES.value == 1:
    return
  import jax
  if os.environ.get("JAX_PLATFORMS", "") == "cpu":
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
  if NUM_PROCESSES.value == -1:
    jax.distributed.initialize()
  else:
    jax.distributed.initialize(COORDINATOR.value, num_processes=NUM_PROCESSES.value,
                               process_id=PROCESS_ID.value)


def lock_workdir(workdir: str):
  """Takes the workdir's lock (an flock on <workdir>/.lock, released by the OS when the process
  ends, however it ends, so it is never stale) and returns the open lock file, which must stay
  open for the run's life. A workdir in use by another process is a ValueError naming both."""
  import fcntl
  import socket
  if os.path.exists(workdir) and not os.path.isdir(workdir):
    raise ValueError(f"--workdir {workdir}: a file, not a directory; pass a directory")
  try:
    os.makedirs(workdir, exist_ok=True)
    f = open(os.path.join(workdir, ".lock"), "a+")
  except OSError as e:
    raise ValueError(f"--workdir {workdir}: cannot be written ({e.strerror}); pass a directory "
                     f"you can write") from None
  try:
    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
  except BlockingIOError:
    f.seek(0)
    other = f.read().strip() or "another process"
    f.close()
    raise ValueError(f"{workdir}: in use by {other}; wait for that run to end, or pass another "
                     f"--workdir") from None
  f.seek(0)
  f.truncate()
  f.write(f"pid {os.getpid()} on {socket.gethostname()}, started "
          f"{datetime.datetime.now():%Y-%m-%d %H:%M:%S}\n")
  f.flush()
  return f


_STDERR = None  # the process's standard error as main() found it (a duplicate descriptor)


def _silence_stderr() -> None:
  """Under main(): standard error to /dev/null from here on (the failure is reported on the
  descriptor main() kept). A failed read of another run's checkpoint leaves orbax's reader
  threads printing hundreds of `Event loop is closed` tracebacks until the process ends."""
  if _STDERR is not None:
    import sys
    sys.stderr.flush()
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)


def _exit_with(message: str) -> None:
  """Exits with status 1 after `message`, one line on the standard error main() found, and
  nothing after it."""
  import sys
  sys.stdout.flush()
  sys.stderr.flush()
  os.write(_STDERR if _STDERR is not None else 2, (message + "\n").encode())
  _silence_stderr()
  sys.exit(1)


def main(run_fn, experiment: str) -> None:
  """absl main for `run_fn(config, workdir)`: clear errors for unknown config fields, one writer
  per workdir, and a one-line error (no traceback) for bad input or a run that went non-finite."""
  import shutil
  import sys
  from absl import app

  from reasoning import loop
  global _STDERR
  _STDERR = os.dup(2)
  tune_xla_cpu()
  try:
    check_overrides(sys.argv[1:])
  except ValueError as e:
    sys.exit(f"error: {e}")

  def _main(argv):
    from absl import logging
    logging.set_verbosity(logging.WARNING)  # orbax logs every file it writes at INFO
    if len(argv) > 1:
      raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    start = time.perf_counter()
    from reasoning import mesh
    initialize_processes()
    try:
      workdir = workdir_for(experiment, CONFIG.value.get("seed"))
      fresh = not os.path.exists(workdir)
      # The first process holds the workdir for all of them (its index, not the flag: with
      # --num_processes=-1 jax.distributed finds the indices in the environment).
      lock = lock_workdir(workdir) if mesh.is_first_process() else None
    except ValueError as e:
      sys.exit(f"error: {e}")
    try:
      run_fn(CONFIG.value, workdir)  # app.run would exit with a returned value
    except (ValueError, loop.NonFinite) as e:
      if fresh and os.listdir(workdir) == [".lock"]:  # a rejected start leaves nothing behind
        shutil.rmtree(workdir, ignore_errors=True)
      _exit_with(f"error: {e}")
    finally:
      if lock is not None:
        lock.close()
    print(f"{experiment}: done in {time.perf_counter() - start:.0f} s", flush=True)

  app.run(_main)

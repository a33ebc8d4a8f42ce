"""Run directories: what a run recorded, the policy it holds, and the held-out problems of every
stage built on it.

A run directory holds config.json (save_config: the record of exactly what ran; a rerun with a
different config is an error) and checkpoints/. `load_sft` reads the policy of any run that holds
one, or of a Hugging Face model directory (a base model), as a LoadedRun; `evaluation_set` gives a
later stage the held-out problems of the SFT run at the root of its chain, less anything that run
trained on. A run reading another run never moves or edits that run's files.
"""

from __future__ import annotations

import json
import numbers
import os
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
  from reasoning.model import ModelConfig
  from reasoning.text import Vocab


def ints(value) -> list[int]:
  """A config's list of integers: a tuple (1, 2, 3), one integer, or a comma string "1,2,3" (the
  form a saved run's config.json may hold, and a value read from the command line) -> [1, 2, 3]."""
  parts: list
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
    stream = rng.stream(seed, "held_out", d)
    kept: list = []
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


def make_task(config, vocab=None):
  """The task of a config's `task` block: a ConfigDict, or a run's config.json as a dict. A
  `task.chat` block ({question, instruction, system}: configs/common.chat) poses it through the
  chat template of `vocab` (an instruct model's tokenizer; tasks/chat.ChatFormat); a `task.tools`
  block ({trace_share, max_calls, available}: configs/common.tools) gives it the environment's
  calc tool (tasks/tool_use.ToolUse). Without `vocab`, a config whose `model.path` names a
  Hugging Face model (an SFT run's) poses it through that model's tokenizer."""
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
  unknown = sorted(set(chat) - {"question", "instruction", "system", "scratchpad"})
  if unknown:
    raise ValueError(f"task.chat.{unknown[0]} is not a chat setting; expected question, "
                     f"instruction, system, scratchpad")
  if vocab is None and config.get("model", {}).get("path"):  # an SFT config of an HF model
    from reasoning.tokenizer import HFTokenizer
    vocab = HFTokenizer.from_dir(config["model"]["path"])
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


def check_positive(config, *fields: str) -> None:
  """A clear error naming `--config.<field>` for each field that must be a positive number."""
  for name in fields:
    value = config
    for part in name.split("."):
      value = value[part]
    if not value > 0:
      raise ValueError(f"--config.{name} must be positive, got {value!r}")


def check_same_vocab(vocab, other, name: str, reference: str) -> None:
  """A clear error where the run at `name` reads another vocabulary than `reference`'s: a
  verifier scores the policy's token ids, so both must share one tokenizer."""
  if vocab != other:
    describe = lambda v: getattr(v, "path", "the character vocabulary")
    raise ValueError(f"{name}: its model reads {describe(other)}, but {reference}'s reads "
                     f"{describe(vocab)}; train it from the same model")


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


class LoadedRun(NamedTuple):
  """A run's policy as load_sft reads it; it unpacks as the 6-tuple it is."""
  vocab: "Vocab"                # the character vocabulary, or a Hugging Face model's tokenizer
  config: dict                  # the SFT run's config.json (a base model's stand-in config)
  model_cfg: "ModelConfig"
  graphdef: Any
  params: Any                   # plain parameters (a LoRA run's merged into its base)
  train_flops: float            # the training FLOPs behind them (0 for a base model)


class UnreadableRun(ValueError):
  """A run whose latest checkpoint cannot be read; rerunning that run sets it aside."""


def load_sft(workdir: str, memory=None) -> LoadedRun:
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
    return LoadedRun(vocab, base, model_cfg, graphdef, params, 0.0)
  if "model" not in sft_config:  # a run started from another (RL, verifier): its model shape
    model_config = load_sft_config(sft_config["init_from"])["model"]
    sft_config = dict(sft_config, model=model_config)
  vocab, model_cfg, graphdef, params = make_model(sft_config["model"], jax.random.key(0),
                                                  load_weights=False, memory=memory)
  lora_cfg = lora_lib.LoraConfig.from_config(sft_config.get("lora"))
  if lora_cfg.on:  # the checkpoint holds the LoRA tree; the base is what the run started from
    base = (load_sft(sft_config["init_from"], memory).params if sft_config.get("init_from") else
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
      raise UnreadableRun(f"{e}; rerunning the run in {workdir} sets it aside and resumes from "
                          f"the one before") from None
  finally:
    ckpt.close()
  if isinstance(state, dict) and "state" in state:
    state = state["state"]
  params = state if abstract is params else state.params
  if lora_cfg.on:
    params = lora_lib.merge(base, params, lora_cfg)
  return LoadedRun(vocab, sft_config, model_cfg, graphdef, params, float(meta["train_flops"]))


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

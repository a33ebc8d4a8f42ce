"""What every trainer's outer loop does besides the step: resume, log, evaluate, plot.

The step is jitted and pure (reasoning/train/); the Python loop around it owns the files of the
run: checkpoints (reasoning/checkpoint.py), metrics.jsonl and TensorBoard events
(reasoning/logging.py). These helpers keep that loop the same in every entrypoint: a run resumes
from its latest checkpoint with its metrics cut back to it, logs every `log_every` steps, and
evaluates held-out problems greedily with a key that is a function of the step alone.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Callable

import jax
import numpy as np

from reasoning import evaluation, mesh as mesh_lib, plots
from reasoning.logging import MetricsWriter, Progress, read_metrics


def resume(ckpt, state, meta: dict, *, what: str = "step"):
  """(state, meta, start) of a run: the latest checkpoint's, or the given start at 0.
  Checkpoints are numbered by the loop's own count (steps, RL steps or iterations)."""
  if ckpt.latest_step() is None:
    return state, meta, 0
  state, meta, start = ckpt.restore_latest(jax.eval_shape(lambda: state))
  print(f"resumed after {what} {start} in {ckpt.directory}", flush=True)
  return state, meta, start


def open_metrics(workdir: str, start: int) -> MetricsWriter:
  """The run's metrics.jsonl (and TensorBoard events), cut back to what the checkpoint at `start`
  had logged: nothing when there was no checkpoint (start 0), so a rerun logs each step once."""
  return MetricsWriter(os.path.join(workdir, "metrics.jsonl"),
                       resume_step=start if start > 0 else -1)


@dataclasses.dataclass(frozen=True)
class OnlineConfig:
  """The fields every loop that samples its own training data reads (RL, distillation):
  `read` builds one (or a subclass) from a run's ml_collections config, the fields named in
  `special` given converted, and checks that the minibatches divide a step's rows."""
  seed: int
  steps: int
  prompts_per_step: int
  samples_per_prompt: int
  epochs: int
  minibatch_size: int
  max_new: int
  temperature: float
  rollout_slots: int
  eval_slots: int
  train_difficulties: tuple[int, ...]
  pass_k: int
  eval_every: int
  eval_log_points: int
  log_every: int
  checkpoint_every: int
  keep_checkpoints: int
  optim: dict           # state.OptimConfig's fields but total_steps (the loop counts updates)
  mesh: mesh_lib.MeshConfig

  @classmethod
  def read(cls, config, **special):
    from reasoning.runs import ints
    rows = config.prompts_per_step * config.samples_per_prompt
    if rows % config.minibatch_size:
      raise ValueError(f"prompts_per_step * samples_per_prompt = {rows} is not a multiple of "
                       f"minibatch_size = {config.minibatch_size}")
    special = {"train_difficulties": tuple(ints(config.train_difficulties)),
               "optim": dict(config.optim), "mesh": mesh_lib.MeshConfig(**config.mesh),
               **special}
    return cls(**{f.name: special[f.name] if f.name in special else config[f.name]
                  for f in dataclasses.fields(cls)})

  @property
  def rows(self) -> int:
    """Rows trained on per step: prompts x samples per prompt."""
    return self.prompts_per_step * self.samples_per_prompt

  @property
  def updates_per_step(self) -> int:
    """Optimizer updates per step: `epochs` passes of minibatches over the step's rows."""
    return self.epochs * self.rows // self.minibatch_size


def run_steps(step: Callable[[int], object], *, start: int, total: int, ckpt,
              save: Callable[[int], object], evaluate: Callable[[int], object] | None = None,
              evaluate_at=frozenset()) -> None:
  """The loop itself, the same in every trainer: `step(i)` trains step i (from `start`) and logs
  it; then, with done = i + 1, `evaluate(done)` where `evaluate_at` holds done and `save(done)`
  (the trainer's checkpoint: `save` below, or `ckpt.save` of its carry). The checkpointer is
  closed even when the run is interrupted, so a pending write finishes."""
  try:
    for i in range(start, total):
      step(i)
      done = i + 1
      if evaluate is not None and done in evaluate_at:
        evaluate(done)
      save(done)
  finally:
    ckpt.close()


def fine_tune(train_step, state, steps: int, batch_at: Callable[[int, object], tuple], *,
              mesh=None, show: dict[str, str] | None = None, every: int | None = None,
              after: Callable[[int, object], object] | None = None):
  """The inner loop of a fine-tune inside a run (STaR's and expert iteration's updates, the
  critic's and the revision model's, Quiet-STaR's arms): `steps` of `train_step(state, batch)`
  from `state`, no checkpoint of its own. `batch_at(i, state) -> (batch, FLOPs, tokens)` builds
  step i's batch (it may read the state: Quiet-STaR samples its thoughts from the parameters
  being trained), sharded over `mesh` when one is given; `after(done, state)` runs after each
  step (an arm's periodic evaluation). The progress line shows `show` ({label: metric key},
  default the loss) every `every` steps (default a quarter of them) and at the last.
  Returns (state, FLOPs, the last step's metrics as floats)."""
  show = {"loss": "loss"} if show is None else show
  progress = Progress(steps, every=every or max(1, steps // 4))
  flops, metrics = 0.0, {}
  for i in range(steps):
    batch, step_flops, tokens = batch_at(i, state)
    state, metrics = train_step(state, batch if mesh is None else mesh_lib.shard_batch(mesh, batch))
    flops += step_flops
    due = (i + 1) % progress.every == 0 or i + 1 == steps
    progress.update(i + 1, tokens=tokens,
                    **({label: float(metrics[key]) for label, key in show.items()} if due else {}))
    if after is not None:
      after(i + 1, state)
  return state, flops, {key: float(v) for key, v in jax.device_get(metrics).items()}


class NonFinite(RuntimeError):
  """A training metric went NaN or infinite: the run stops before it checkpoints bad state."""


def check_finite(metrics: dict, step: int, ckpt) -> None:
  """Raises NonFinite naming the step, the first non-finite metric and the last good
  checkpoint. Non-finite parameters make the loss non-finite, so checking a step's metrics
  before its checkpoint is written keeps every checkpoint on disk finite."""
  for key, value in metrics.items():
    value = np.asarray(value)
    if value.dtype.kind == "f" and not np.isfinite(value).all():
      value = value.item() if value.ndim == 0 else "non-finite entries"
      ckpt.wait()
      last = ckpt.latest_step()
      where = (f"the last good checkpoint is step {last} in {ckpt.directory}" if last is not None
               else "no checkpoint was written")
      raise NonFinite(f"step {step}: {key} = {value}; stopped before writing a checkpoint "
                      f"with non-finite state ({where}); lower --config.optim.lr?")


def update_on_batch(train_step, state, batch, *, rows: int, minibatch_size: int,
                    epochs: int, order, mesh, frozen=()):
  """`epochs` passes of minibatch steps over a batch, a pytree of arrays with `rows` rows (RL's
  pg.PGBatch, a distillation batch): pass e visits the rows in `order(e)` (a permutation from a
  named random stream), `minibatch_size` at a time, each minibatch sharded over `mesh`. Returns
  the state and the mean of every metric over the steps."""
  import jax
  metrics = []
  for epoch in range(epochs):
    permutation = order(epoch)
    for i in range(0, rows, minibatch_size):
      idx = permutation[i:i + minibatch_size]
      minibatch = mesh_lib.shard_batch(mesh, jax.tree.map(lambda x: x[idx], batch))
      state, m = train_step(state, minibatch, *frozen)
      metrics.append(m)
  return state, {k: float(np.mean([float(m[k]) for m in metrics])) for k in metrics[0]}


def save(ckpt, step: int, state, meta: dict, metrics, *, force: bool = False) -> None:
  """Checks the step's metrics (fetched from the device only when a checkpoint is due), then
  saves the checkpoint of `step` if it is on the save interval or `force`."""
  if force or ckpt.should_save(step):
    check_finite(mesh_lib.to_host(metrics), step, ckpt)
    ckpt.save(step, state, meta, force=force)


def log_train_step(writer, progress, step: int, metrics, *, every: int, total: int,
                   train_flops: float, tokens: float, show: dict[str, str], ckpt=None) -> None:
  """Every `every` steps and at the last: fetch the step's metrics from the device, check them
  (with `ckpt`: see check_finite), append them to metrics.jsonl, and show `show` ({label:
  metric key}) on the progress line."""
  shown = {}
  if step % every == 0 or step == total:
    metrics = mesh_lib.to_host(metrics)
    if ckpt is not None:
      check_finite(metrics, step, ckpt)
    writer.write(step, train_flops=train_flops, **metrics)
    shown = {label: metrics[key] for label, key in show.items()}
  progress.update(step, tokens=tokens, **shown)


def eval_steps(total: int, every: int, log_points: int = 0) -> set[int]:
  """The steps a run evaluates at (besides 0): every `every` steps and the last, plus with
  `log_points` > 0 that many steps spaced evenly in log between 1 and `total`, so a compute
  curve has points over every decade of the run."""
  steps = set(range(every, total + 1, every)) | {total}
  if log_points > 0:
    steps |= {int(round(x)) for x in np.geomspace(1, total, log_points)}
  return steps


def evaluate(writer, step: int, graphdef, params, vocab, task, problems, key, *,
             prompt_len: int, max_new: int, train_flops: float, num_samples: int = 0,
             what: str = "step", scores_path: str | None = None, slots: int = 0,
             **extra) -> dict:
  """Held-out greedy pass@1 (and pass@num_samples) of `params`, written to metrics.jsonl with
  `extra` and shown on one line. `key` is the evaluation's own (fold the step into it). With
  `scores_path`, each problem's scores are saved there (.npz) for paired comparisons. `slots`:
  decode with the slot engine (evaluation.complete)."""
  per_problem: dict | None = {} if scores_path else None
  result = evaluation.evaluate(graphdef, params, vocab, task, problems, key,
                               prompt_len=prompt_len, max_new=max_new, num_samples=num_samples,
                               per_problem=per_problem, slots=slots)
  if scores_path and mesh_lib.is_first_process():
    os.makedirs(os.path.dirname(scores_path), exist_ok=True)
    np.savez(scores_path, **(per_problem or {}))
  writer.write(step, train_flops=train_flops, **extra, **result)
  shown = "  ".join(f"{k}={v:.3f}" for k, v in result.items() if k.startswith("greedy/"))
  print(f"eval @ {what} {step}: {shown}", flush=True)
  return result


def log_paired_gain(writer, workdir: str, steps: int, problems, *, write: bool, what: str,
                    **extra) -> dict | None:
  """The held-out gain from the first to the last evaluation (evals/step0.npz and
  evals/step{steps}.npz, written by `evaluate` with scores_path), paired per problem, with its
  standard error: written at `steps` with `extra` when `write` (a rerun of a finished run has it
  logged already) and shown on one line. None when either evaluation is missing."""
  first, last = (os.path.join(workdir, "evals", f"step{s}.npz") for s in (0, steps))
  if not (os.path.exists(first) and os.path.exists(last)):
    return None
  gain = evaluation.paired_gain(dict(np.load(first)), dict(np.load(last)), problems)
  if write:
    writer.write(steps, **extra, **gain)
  shown = [k.split("/", 1)[1] for k in gain if k.startswith("gain/") and "/d" in k]
  print(f"held-out gain over {what} (paired SE): " + "  ".join(
      f"{k} {100 * gain['gain/' + k]:+.1f} ± {100 * gain['gain_se/' + k]:.1f}"
      for k in sorted(shown)), flush=True)
  return gain


def evaluator(writer, graphdef, vocab, task, problems, key, *, prompt_len: int, max_new: int,
              meta: dict):
  """evaluate_iteration(iteration, params, **extra) for a loop that evaluates once per
  iteration (STaR, expert iteration): the key folded with 10,000 + the iteration, the train
  FLOPs read from `meta` at the call."""
  def evaluate_iteration(iteration: int, params, **extra) -> dict:
    return evaluate(writer, iteration, graphdef, params, vocab, task, problems,
                    jax.random.fold_in(key, 10_000 + iteration), prompt_len=prompt_len,
                    max_new=max_new, train_flops=meta["train_flops"], what="iteration", **extra)
  return evaluate_iteration


def last_evaluation(records: list[dict], path: str) -> dict:
  """The last held-out evaluation among a metrics.jsonl's `records` (read from `path`)."""
  result = next((r for r in reversed(records) if "greedy/all" in r), None)
  if result is None:
    raise ValueError(f"{path}: no held-out evaluation recorded")
  return result


def plot_train_scaling(workdir: str, label: str, records: list[dict], init_from: str,
                       difficulties, title: str, problems: int | None = None,
                       metric: str = "greedy") -> str:
  """plots/train_scaling.png: the SFT run at `init_from` (where it is one, not a base model)
  against its own compute (greedy), then held-out `metric` pass@1 ('greedy', or 'sampled': the
  mean over pass_k samples) per difficulty against the compute spent after it
  (plots.post_training_scaling), with standard errors over `problems` per difficulty. Returns
  the path."""
  os.makedirs(os.path.join(workdir, "plots"), exist_ok=True)
  path = os.path.join(workdir, "plots", "train_scaling.png")
  sft_path = os.path.join(init_from, "metrics.jsonl")  # none for a base model directory
  sft_records = read_metrics(sft_path) if os.path.exists(sft_path) else []
  plots.post_training_scaling(sft_records, {label: records}, path,
                              keys=[f"{metric}/d{d}" for d in difficulties], title=title,
                              problems=problems, sft_keys=[f"greedy/d{d}" for d in difficulties])
  print(f"wrote {path}", flush=True)
  return path

"""Supervised fine-tuning on solver solutions, with held-out evaluation and exact resume.

  python -m experiments.sft --config configs/countdown_sft.py [--workdir DIR] [--config.steps=N]

Writes to the workdir: config.json, metrics.jsonl, checkpoints/, plots/learning_curve.png.
Rerunning with the same workdir resumes from the latest checkpoint and ends with the same
parameters as an uninterrupted run: data order and keys are functions of the step.
"""

from __future__ import annotations

import os
import time

import jax
import numpy as np

from experiments import common
from reasoning import compute, evaluation, mesh as mesh_lib, plots
from reasoning import model as model_lib
from reasoning.checkpoint import Checkpointer
from reasoning.logging import MetricsWriter, Progress, read_metrics
from reasoning.tasks import hint_of, reference_completion, with_hint
from reasoning.tasks.base import RETRY_LINE
from reasoning.text import pack_examples, pad_examples, prompt_length, round_up, row_lengths
from reasoning.train import sft, state as state_lib


# config.solutions values that write the solver's search out (the task method that does it):
# 'probes' judges each move after writing its result (Countdown.probe_solution), 'search' tries
# complete attempts in a fixed order with `retry` between them (Countdown.search_solution),
# 'attempts' searches only the first of four numbers' moves, judging the rest of each attempt
# (Countdown.attempt_solution); 'goals' searches backwards over the number used last and the
# value the other three must make (Countdown.goal_solution).
TRACES = {"probes": "probe_solution", "search": "search_solution",
          "attempts": "attempt_solution", "goals": "goal_solution"}


def build_data(config, task, vocab):
  """Held-out eval problems, and per training difficulty a tokenized pool without their prompts."""
  eval_problems = common.held_out_problems(task, config.eval_difficulties, config.eval_problems,
                                           config.seed)
  held_out = {p.prompt for p in eval_problems}
  pools = []
  for d in common.difficulties(config.train_difficulties):
    train = [p for p in task.sample(np.random.default_rng([config.seed, 1, d]),
                                    config.train_problems, d) if p.prompt not in held_out]
    # 'random': one uniformly random solution per example (Countdown has several), rather than
    # the solver's canonical one, whose tie-breaking the model would have to learn too.
    rng = np.random.default_rng([config.seed, 4, d]) if config.solutions == "random" else None
    completions = [reference_completion(task, p, rng) for p in train]
    # A `hint_share` of prompts carry the STaR rationalization hint (tasks.with_hint), so the
    # policy can later use one: our from-scratch model's stand-in for the few-shot
    # rationalization prompt a pretrained LM gets in the STaR paper. Held-out prompts never do.
    hinted = np.random.default_rng([config.seed, 6, d]).random(len(train)) < config.hint_share
    prompts = [with_hint(p.prompt, hint_of(task, c)) if h else p.prompt
               for p, c, h in zip(train, completions, hinted)]
    if config.solutions in TRACES:  # the solver's search written into the chain of thought
      trace = getattr(task, TRACES[config.solutions], None)
      if trace is None:
        raise ValueError(f"config.solutions={config.solutions!r}: task {task.name!r} has no "
                         f"{TRACES[config.solutions]} (Countdown does)")
      rng = np.random.default_rng([config.seed, 9, d])
      traces = [trace(p, rng) for p in train]
      # A trace may be None where it would be too long to teach ('attempts', 'goals'): dropped.
      keep = [t is not None for t in traces]
      train, prompts = _kept(train, keep), _kept(prompts, keep)
      completions = ["\n".join(t) + "\n" for t in traces if t is not None]
      if not all(keep):
        print(f"data: difficulty {d}: {len(keep) - sum(keep)} of {len(keep)} problems dropped "
              f"(no {config.solutions!r} trace)", flush=True)
    if config.retries:  # hinted prompts stay as they are: STaR's rationalization prompt
      rng = np.random.default_rng([config.seed, 8, d])
      own = (own_misses(config.own_misses_from, task, train) if config.own_misses_from
             else [None] * len(train))
      completions = [c if h else
                     with_failed_attempts(task, p, c, rng, config.retries, config.retry_share, m,
                                          config.give_up)
                     for p, c, h, m in zip(train, completions, hinted, own)]
    pools.append(pad_examples(vocab, prompts, completions, config.seq_len))
  return eval_problems, pools


def _kept(items: list, keep: list[bool]) -> list:
  return [x for x, k in zip(items, keep) if k]


def own_misses(workdir: str, task, problems, max_new: int = 64) -> list[list[str] | None]:
  """The greedy first attempt of the policy in `workdir` at each solvable problem where it is a
  miss (task.is_miss: legal, every number used, target missed); None elsewhere."""
  from reasoning import evaluation
  if not hasattr(task, "is_miss"):
    raise ValueError(f"config.own_misses_from: task {task.name!r} cannot tell a miss (Countdown can)")
  vocab, _, model_cfg, graphdef, params, _ = common.load_sft(workdir, with_vocab=True)
  prompt_len = max(prompt_length(vocab, p.prompt) for p in problems)
  texts, _ = evaluation.complete(graphdef, params, vocab, [p.prompt for p in problems],
                                 jax.random.key(0), prompt_len=prompt_len,
                                 max_new=min(max_new, model_cfg.max_len - prompt_len),
                                 temperature=0.0)
  firsts = [text.split("\n")[:len(p.meta["numbers"]) - 1] for p, text in zip(problems, texts)]
  return [lines if not p.is_trap and task.is_miss(p, lines) else None
          for p, lines in zip(problems, firsts)]


def with_failed_attempts(task, problem, completion: str, rng: np.random.Generator,
                         max_failed: int, share: float, own_miss: list[str] | None = None,
                         give_up: bool = False):
  """A `share` of solvable examples become a retry: 1..max_failed failed attempts (the task's
  `failed_attempt`, distinct from each other and from the solution), each followed by `retry`,
  then the solution. Returns the completion as (text, in_loss) pieces: every line is trained
  except each failed attempt's first dead-end move (the oracle's first 0 label), so the policy
  learns to finish a hopeless attempt with honest arithmetic, see the miss and try again,
  without learning to make the mistake. (With the misses as untrained context instead, the
  policy wrote an illegal step, nearly always a last step claiming the target, in 152 of the
  167 d2 problems it failed: it never saw its own miss.)

  `own_miss`, the policy's own failed first attempt at this problem (`own_misses`), always
  makes a retry example and comes first: the recovery is then learned from the mistakes the
  policy really makes, which a greedy policy would otherwise repeat word for word.

  With `give_up`, a trap shows exactly max_failed failed attempts and then `ANSWER: none`, and a
  solvable example at most max_failed - 1: the policy declares a trap only after trying, so a
  `none` can only replace an answer that was already wrong (MathTrap's lesson without its cost)."""
  if problem.is_trap and not give_up:
    return [(completion, True)]
  if not problem.is_trap and own_miss is None and rng.random() >= share:
    return [(completion, True)]
  if not hasattr(task, "failed_attempt"):
    raise ValueError(f"config.retries: task {task.name!r} has no failed_attempt (Countdown does)")
  solution = [] if problem.is_trap else [completion.rstrip("\n").split("\n")[:-1]]
  tried = solution + ([list(own_miss)] if own_miss else [])
  own = len(tried) - len(solution)  # 1 with an own miss, which counts as a failed attempt
  most = max_failed - 1 if give_up else max_failed
  count = max_failed if problem.is_trap else int(rng.integers(1 - own, most + 1 - own))
  for _ in range(count):
    attempt = task.failed_attempt(problem, rng, avoid=tried)
    if attempt is None:
      break
    tried.append(attempt)
  pieces = []
  for attempt in tried[len(solution):]:
    labels = task.step_labels(problem, attempt)  # a trap's legal steps are all labelled 1
    dead_end = labels.index(0) if 0 in labels else -1
    pieces += [(line + "\n", i != dead_end) for i, line in enumerate(attempt)]
    pieces.append((RETRY_LINE + "\n", True))
  if problem.is_trap:
    pieces = pieces[:-1]  # the misses, then the answer: none
  return pieces + [(completion, True)]


def batch_at(step: int, seed: int, pools, batch_size: int, multiple: int = 16,
             pack_len: int = 0, pad: int = 0):
  """The batch of `step`, a pure function of (step, seed), so a resumed run sees the same data.

  Difficulties take turns (step mod their count); within one, epoch-wise shuffles seeded by
  (seed, difficulty, epoch). Padding is trimmed to the batch's longest row rounded up to
  `multiple`, so easy batches cost less and only a few shapes ever compile. With `pack_len`,
  the same examples are packed into rows of that length instead (rows rounded up to 4).
  """
  which, turn = step % len(pools), step // len(pools)
  tokens, loss_mask = pools[which]
  n, start = len(tokens), turn * batch_size
  perms = {e: np.random.default_rng([seed, 3, which, e]).permutation(n)
           for e in range(start // n, (start + batch_size - 1) // n + 1)}
  idx = np.array([perms[i // n][i % n] for i in range(start, start + batch_size)])
  tokens, loss_mask = tokens[idx], loss_mask[idx]
  if pack_len:
    tokens, loss_mask, segments = pack_examples(tokens, loss_mask, pack_len, rows_multiple=4,
                                                pad=pad)
    return {"tokens": tokens, "loss_mask": loss_mask, "segments": segments}
  width = min(tokens.shape[1], round_up(row_lengths(tokens, loss_mask, pad).max(), multiple))
  return {"tokens": tokens[:, :width], "loss_mask": loss_mask[:, :width]}


def example_lengths(batch, pad: int = 0) -> np.ndarray:
  """Tokens of each example in a batch, packed or not (attention FLOPs depend on them)."""
  if "segments" not in batch:
    return row_lengths(batch["tokens"], batch["loss_mask"], pad)
  seg = batch["segments"]
  ids = seg + np.arange(len(seg))[:, None] * (seg.max() + 1)
  counts = np.bincount(ids[seg > 0])
  return counts[counts > 0]


def run(config, workdir: str) -> dict:
  if config.solutions not in ("canonical", "random", *TRACES):
    raise ValueError(f"config.solutions must be 'canonical', 'random' or one of {sorted(TRACES)}, "
                     f"got {config.solutions!r}")
  if config.solutions in TRACES and config.retries:
    raise ValueError(f"config.solutions={config.solutions!r} and config.retries are two trace "
                     f"formats; set one")
  if config.give_up and config.retries < 2:
    raise ValueError(f"config.give_up needs retries >= 2 (traps show `retries` misses, solvable "
                     f"examples fewer), got retries={config.retries}")
  common.save_config(config, workdir)
  task = common.make_task(config)
  optim_cfg = state_lib.OptimConfig(total_steps=config.steps, **config.optim)
  init_key, eval_key = jax.random.split(jax.random.key(config.seed))
  # A fresh char-vocabulary model, or a Hugging Face checkpoint and its tokenizer (model.path).
  vocab, model_cfg, graphdef, params = common.make_model(config.model, init_key)

  t0 = time.perf_counter()
  eval_problems, pools = build_data(config, task, vocab)
  prompt_len = max(prompt_length(vocab, p.prompt) for p in eval_problems)
  max_new = config.seq_len - prompt_len
  print(f"data: {sum(len(p[0]) for p in pools)} training examples, {len(eval_problems)} held-out problems "
        f"({time.perf_counter() - t0:.1f}s)", flush=True)

  tx = state_lib.make_optimizer(optim_cfg)
  state = state_lib.create(params, tx)
  train_step = sft.make_train_step(graphdef, tx)
  print(f"model: {model_lib.count_params(params) / 1e6:.2f}M parameters", flush=True)

  ckpt = Checkpointer(os.path.join(workdir, "checkpoints"), save_every=config.checkpoint_every,
                      keep=config.keep_checkpoints)
  start, meta = 0, {"train_flops": 0.0}
  if ckpt.latest_step() is not None:
    state, meta = ckpt.restore(jax.eval_shape(lambda: state))
    start = int(state.step)
    print(f"resumed from step {start} in {ckpt.directory}", flush=True)
  # One code path on 1 CPU or a pod: the state and batches carry the mesh's shardings and XLA
  # partitions the same jitted step (reasoning/mesh.py).
  mesh = mesh_lib.make_mesh(mesh_lib.MeshConfig(**config.mesh))
  state = jax.device_put(state, mesh_lib.state_shardings(mesh, state))
  writer = MetricsWriter(os.path.join(workdir, "metrics.jsonl"), resume_step=start)
  progress = Progress(config.steps, start=start, every=config.log_every)

  def do_eval(step, num_samples):
    result = evaluation.evaluate(graphdef, state.params, vocab, task, eval_problems,
                                 jax.random.fold_in(eval_key, step), prompt_len=prompt_len,
                                 max_new=max_new, num_samples=num_samples)
    writer.write(step, train_flops=meta["train_flops"], **result)
    shown = "  ".join(f"{k}={v:.3f}" for k, v in result.items() if k.startswith("greedy/"))
    print(f"eval @ step {step}: {shown}", flush=True)
    return result

  result = {}
  # Finish any pending checkpoint write even when interrupted: no lost work, and a
  # rerun never races a half-written save.
  try:
    for step in range(start, config.steps):
      host_batch = batch_at(step, config.seed, pools, config.batch_size, pack_len=config.pack_len,
                            pad=vocab.pad)
      state, metrics = train_step(state, mesh_lib.shard_batch(mesh, host_batch))
      lengths = example_lengths(host_batch, vocab.pad)  # numpy on the host: no device round trip
      meta["train_flops"] += compute.train_flops(model_cfg, lengths)
      done = step + 1
      common.log_train_step(writer, progress, done, metrics, every=config.log_every,
                            total=config.steps, train_flops=meta["train_flops"],
                            tokens=float(lengths.sum()),
                            show={"loss": "loss", "tok_acc": "token_accuracy"})
      if done % config.eval_every == 0 and done != config.steps:
        do_eval(done, 0)
      ckpt.save(done, state, meta, force=done == config.steps)
  finally:
    ckpt.close()
  if start < config.steps:
    result = do_eval(config.steps, config.pass_k)
  else:  # already finished: report the final evaluation again instead of recomputing it
    result = next(r for r in reversed(read_metrics(writer.path)) if "greedy/all" in r)
    print("final eval: " + "  ".join(f"{k}={v:.3f}" for k, v in result.items()
                                      if k.startswith(("greedy/", "pass@"))), flush=True)
  os.makedirs(os.path.join(workdir, "plots"), exist_ok=True)
  plot_path = os.path.join(workdir, "plots", "learning_curve.png")
  plots.learning_curve(read_metrics(writer.path), plot_path,
                       title=f"SFT on {config.task.name} (difficulties {config.train_difficulties})")
  print(f"wrote {plot_path}", flush=True)
  return {"params": state.params, "metrics": result, "graphdef": graphdef}


if __name__ == "__main__":
  common.main(run, "sft")

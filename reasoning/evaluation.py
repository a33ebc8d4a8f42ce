"""Held-out evaluation: generate completions with the jitted sampler, verify them with the task.

Greedy pass@1 and sampled pass@k per difficulty. Generation runs in fixed-size chunks so one
compiled sampler serves every call; verification runs on the host (it parses text).
"""

from __future__ import annotations

import json
import math
import os
from typing import Callable, Sequence

import jax
import numpy as np

from reasoning import mesh as mesh_lib, sampling
from reasoning.logging import Progress
from reasoning.tasks import Problem, Task
from reasoning.tasks.base import retry_count
from reasoning.text import Vocab, pad_prompts


def room_to_generate(max_len: int, prompt_len: int, max_new: int, *, what: str,
                     hint: str = "") -> int:
  """max_new cut to what the model's context (max_len) leaves after prompts of prompt_len
  tokens: a long prefix plus the full max_new would overflow the KV cache. No room at all is a
  ValueError that says which prompts (`what`) and how to fix it (`hint`)."""
  room = min(max_new, max_len - prompt_len)
  if room < 1:
    raise ValueError(f"{what} of {prompt_len} tokens leaves no room in model.max_len={max_len}"
                     f"{hint}")
  return room


def complete(graphdef, params, vocab: Vocab, prompts: Sequence[str],
             key: jax.Array, *, prompt_len: int, max_new: int, temperature: float, chunk: int = 256,
             top_k: int = 0, top_p: float = 1.0, stop: str = "answer", slots: int = 0,
             store: str | None = None, group: int = 1) -> tuple[list[str], np.ndarray]:
  """Completions (decoded text, EOS dropped) of `prompts` and the generated token counts [N].

  stop="step" ends each row after one line (its newline kept in the text). Batches of `chunk`
  prompts, or with `slots` > 0 all of them in one call of the slot engine (sampling.generate)
  at that many slots. `store` (batches only): a directory that keeps each finished batch, so
  that a call repeated after an interruption decodes only the batches it lacks; each batch's
  noise comes from its offset, so the result is the uninterrupted call's. The caller keys the
  directory to everything the completions depend on (scripts/coverage.py).
  `group` > 1: the prompts come in runs of `group` equal prompts (n samples per problem), and
  each batch prefills a run's prompt once instead of once per row (sampling.generate's `group`;
  the same completions, the prompt's forward pass done 1/group as often).
  """
  if store and slots:
    raise ValueError("complete: store keeps batches; the slot engine decodes in one call")
  if group < 1 or len(prompts) % group or any(
      prompts[i] != prompts[i - i % group] for i in range(len(prompts))):
    raise ValueError(f"complete: group={group}, but the {len(prompts)} prompts are not runs of "
                     f"{group} equal prompts")
  # A batch starts at a multiple of `chunk`: runs of gcd(group, chunk) rows never cross a batch
  # or a run of equal prompts.
  group = math.gcd(group, chunk)
  if slots:
    tokens = pad_prompts(vocab, list(prompts), prompt_len)
    out = sampling.generate(graphdef, params, tokens, key, max_new=max_new, stop=stop,
                            temperature=temperature, top_k=top_k, top_p=top_p,
                            specials=vocab.specials, slots=min(slots, len(prompts)))
    out_tokens, out_lengths = mesh_lib.to_host((out.tokens, out.lengths))
    return [vocab.decode(row) for row in out_tokens], np.asarray(out_lengths)
  texts, lengths = [], []
  starts = range(0, len(prompts), chunk)
  progress = None
  if store:  # a long run: a line per twentieth of its batches, the ones kept counted as done
    done = sum(os.path.exists(os.path.join(store, f"{s}.json")) for s in starts)
    progress = Progress(len(starts), start=done, every=max(1, len(starts) // 20), unit="batch")
  for i, start in enumerate(starts):
    part = list(prompts[start:start + chunk])
    n = len(part)
    kept = os.path.join(store, f"{start}.json") if store else None
    if kept and os.path.exists(kept):
      with open(kept) as f:
        saved = json.load(f)
      texts += saved["texts"]
      lengths.append(np.asarray(saved["lengths"], np.int32))
      continue
    part += [part[-1]] * (chunk - n)  # fixed shape: one compilation
    tokens = pad_prompts(vocab, part, prompt_len)
    out = sampling.generate(graphdef, params, tokens, jax.random.fold_in(key, start),
                            max_new=max_new, stop=stop, temperature=temperature,
                            top_k=top_k, top_p=top_p, specials=vocab.specials, group=group)
    out_tokens, out_lengths = mesh_lib.to_host((out.tokens, out.lengths))
    texts += [vocab.decode(row) for row in out_tokens[:n]]
    lengths.append(np.asarray(out_lengths[:n]))
    if kept:
      os.makedirs(os.path.dirname(kept), exist_ok=True)
      with open(kept + ".tmp", "w") as f:
        json.dump({"texts": texts[-n:], "lengths": lengths[-1].tolist()}, f)
      os.replace(kept + ".tmp", kept)  # a batch is kept whole or not at all
    if progress:
      progress.update(i + 1, tokens=float(lengths[-1].sum()))
  return texts, np.concatenate(lengths)


def evaluate(graphdef, params, vocab: Vocab, task: Task, problems: Sequence[Problem],
             key: jax.Array, *, prompt_len: int, max_new: int, num_samples: int = 0,
             chunk: int = 256, per_problem: dict | None = None, slots: int = 0
             ) -> dict[str, float]:
  """Greedy pass@1 (and, if num_samples > 0, sampled pass@1 and pass@num_samples at T=1),
  overall, per difficulty and on traps. Keys like `greedy/d1`, `pass@8/all`, `greedy/traps`;
  `eval/retries` is the mean count of `retry` lines per greedy completion. A `per_problem` dict
  receives each problem's scores ({"greedy": [P], "sampled": [P], ...}) for paired
  comparisons (paired_gain). `slots` > 0 decodes with the slot engine (complete). For a task
  with tools (a `respond` environment: tasks/tool_use.py) the completions are generated in turns
  with the environment answering each call (tools.generate), and `eval/tool_calls` is the mean
  count of calls per greedy answer."""
  problems = list(problems)
  prompts = [p.prompt for p in problems]
  environment = getattr(task, "respond", None)  # a task with tools: the environment answers calls

  def in_turns(graphdef, params, vocab, prompts, key, *, prompt_len, max_new, temperature, **_):
    from reasoning import tools
    out = tools.generate(graphdef, params, vocab, prompts, key, respond=environment,
                         max_new=max_new, temperature=temperature, prompt_len=prompt_len)
    return [vocab.decode(row) for row in out.tokens], out.lengths

  run: Callable[..., tuple[list[str], np.ndarray]] = (complete if environment is None
                                                      else in_turns)
  greedy, lengths = run(graphdef, params, vocab, prompts, key, prompt_len=prompt_len,
                        max_new=max_new, temperature=0.0, chunk=chunk, slots=slots)
  scores = {"greedy": np.array([task.verify(p, c) for p, c in zip(problems, greedy)])}
  if num_samples > 0:
    sampled, _ = run(graphdef, params, vocab, prompts * num_samples, jax.random.fold_in(key, 1),
                     prompt_len=prompt_len, max_new=max_new, temperature=1.0, chunk=chunk,
                     slots=slots)
    s = np.array([task.verify(p, c) for p, c in zip(problems * num_samples, sampled)])
    s = s.reshape(num_samples, len(problems))
    scores["sampled"] = s.mean(0)
    scores[f"pass@{num_samples}"] = s.max(0)
  if per_problem is not None:
    per_problem.update({name: np.asarray(v, np.float32) for name, v in scores.items()})
  difficulty = np.array([p.difficulty for p in problems])
  trap = np.array([p.is_trap for p in problems])
  # How often the greedy policy tried again: 0 for a policy never taught to.
  out = {"eval/gen_tokens": float(lengths.sum()),
         "eval/retries": float(np.mean([retry_count(c) for c in greedy]))}
  if environment is not None:  # tool calls per greedy answer
    from reasoning.tasks.tool_use import calls_made
    out["eval/tool_calls"] = float(np.mean([calls_made(c) for c in greedy]))
  for name, s in scores.items():
    out[f"{name}/all"] = float(s.mean())
    for d in sorted(set(difficulty.tolist())):
      out[f"{name}/d{d}"] = float(s[difficulty == d].mean())
    if trap.any():
      out[f"{name}/traps"] = float(s[trap].mean())
      out[f"{name}/solvable"] = float(s[~trap].mean())
  return out


def paired_gain(before: dict, after: dict, problems: Sequence[Problem]) -> dict[str, float]:
  """The change of each per-problem score ({"greedy": [P], "sampled": [P], ...} from two
  `evaluate(per_problem=...)` calls on the same problems) per difficulty and overall, with the
  standard error of the paired mean difference: {"gain/sampled/d1": ..., "gain_se/sampled/d1":
  ...}. Pairing removes the problems' own variance, the bulk of an unpaired difference's."""
  difficulty = np.array([p.difficulty for p in problems])
  groups = {"all": np.ones(len(problems), bool),
            **{f"d{d}": difficulty == d for d in sorted(set(difficulty.tolist()))}}
  out = {}
  for name in before.keys() & after.keys():
    diff = np.asarray(after[name], float) - np.asarray(before[name], float)
    for group, rows in groups.items():
      d = diff[rows]
      out[f"gain/{name}/{group}"] = float(d.mean())
      out[f"gain_se/{name}/{group}"] = float(d.std(ddof=1) / np.sqrt(len(d))) if len(d) > 1 else 0.0
  return out

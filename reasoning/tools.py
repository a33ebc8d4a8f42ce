"""Tools a policy calls while it writes: the call syntax, the environment's reply, and generation
that interleaves model turns with environment turns.

A call is a whole line the model writes, `call <tool> <arguments>`; the environment appends one
line, `result <output>`, that the model reads and never writes (its tokens carry no loss in SFT
or RL and no sampling FLOPs), and the model goes on. A bad call (an unknown tool, malformed or
hostile arguments, one call too many) gets the tool's error text, `result error: ...`, never an
exception, and counts against the cap of calls per answer. Every reply is written in the
character vocabulary's alphabet (text.CHARS), so any model can read it.

  calc <int> <op> <int>   the exact value, op one of + - * (integers up to 12 digits)

`generate` runs the turns: every row samples up to the end of its current line (sampling.generate
with stop="step"), the host answers the rows whose line is a call, and the rows go on until an
answer line, EOS or max_new. The batch keeps its shape across turns (rows already finished are
run and ignored), so a rollout compiles once per prompt width.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from reasoning import compute, mesh as mesh_lib, sampling
from reasoning.tasks.base import ANSWER_PREFIX
from reasoning.text import _head, round_up

CALL_PREFIX = "call "
RESULT_PREFIX = "result "
MAX_OUTPUT_CHARS = 40
_CALC = re.compile(r"^\s*(-?[0-9]{1,12})\s*([-+*])\s*(-?[0-9]{1,12})\s*$")


def calc(args: str) -> str:
  """The exact value of `<int> <op> <int>` (op + - *), or the error text."""
  match = _CALC.match(args)
  if match is None:
    return "error: expected calc a+b a-b or a*b"
  a, op, b = int(match[1]), match[2], int(match[3])
  return str(a + b if op == "+" else a - b if op == "-" else a * b)


TOOLS: dict[str, Callable[[str], str]] = {"calc": calc}


def respond(line: str, calls: int, *, max_calls: int = 4, tools=None,
            available: bool = True) -> str | None:
  """The environment's line after the model's `line` (its text, newline optional), or None
  when the line is not a call. `calls`: the calls this answer made before it. Never raises."""
  if not line.startswith(CALL_PREFIX):
    return None
  tools = TOOLS if tools is None else tools
  name, _, args = line[len(CALL_PREFIX):].strip().partition(" ")
  if not available:
    output = "error: no tools here"
  elif calls >= max_calls:
    output = f"error: at most {max_calls} calls per answer"
  elif name not in tools:
    output = f"error: unknown tool {name[:12]}: tools are {' '.join(sorted(tools))}"
  else:
    try:
      output = tools[name](args)
    except Exception:  # a tool's bug is the environment's answer, not the run's end
      output = "error: the tool failed"
  return RESULT_PREFIX + output[:MAX_OUTPUT_CHARS] + "\n"


@dataclasses.dataclass(frozen=True)
class ToolSamples:
  """Completions of a multi-turn generation, on the host. `tokens` [B, max_new] hold the model's
  and the environment's tokens in order, PAD after `lengths`; `env` marks the environment's."""
  tokens: np.ndarray   # [B, max_new] int32
  env: np.ndarray      # [B, max_new] bool: tool output, read and never written by the model
  lengths: np.ndarray  # [B] tokens of each completion, environment tokens included
  done: np.ndarray     # [B] ended by an answer line or EOS, not cut at max_new
  calls: np.ndarray    # [B] tool calls made
  flops: float         # sampling FLOPs of the rows still running, every turn's prefill included


def generate(graphdef, params, vocab, prompts: Sequence[str], key: jax.Array, *,
             respond: Callable[[str, int], str | None], max_new: int, temperature: float,
             prompt_len: int, line_max: int = 32) -> ToolSamples:
  """Samples a completion of each prompt, the environment answering each call (module
  docstring). Turn t samples with jax.random.fold_in(key, t); `line_max` tokens at most per
  turn (a longer line goes on in the next turn)."""
  cfg = nnx.merge(graphdef, params).cfg
  heads = [_head(vocab) + vocab.encode(p) for p in prompts]
  b = len(prompts)
  completion: list[list[int]] = [[] for _ in range(b)]
  env: list[list[bool]] = [[] for _ in range(b)]
  done = np.zeros(b, bool)
  calls = np.zeros(b, np.int32)
  flops, turn = 0.0, 0
  while True:
    live = [i for i in range(b) if not done[i] and len(completion[i]) < max_new]
    if not live:
      break
    rows = [heads[i] + completion[i] for i in range(b)]
    width = max(prompt_len, round_up(max(map(len, rows)), 16))
    tokens = np.full((b, width), vocab.pad, np.int32)
    for row, seq in zip(tokens, rows):
      row[width - len(seq):] = seq
    out = sampling.generate(graphdef, params, jnp.asarray(tokens), jax.random.fold_in(key, turn),
                            max_new=line_max, stop="step", temperature=temperature,
                            specials=vocab.specials)
    out_tokens, out_lengths, out_done = mesh_lib.to_host((out.tokens, out.lengths, out.done))
    flops += compute.generation_flops(cfg, np.array([len(rows[i]) for i in live]),
                                      np.asarray(out_lengths)[live])
    for i in live:
      new = [int(t) for t in out_tokens[i, :out_lengths[i]]][:max_new - len(completion[i])]
      completion[i] += new
      env[i] += [False] * len(new)
      if not new or new[-1] == vocab.eos:
        done[i] = True
        continue
      if not out_done[i]:  # cut at line_max: the line goes on next turn
        continue
      line = vocab.decode(completion[i]).rstrip("\n").split("\n")[-1]
      if line.startswith(ANSWER_PREFIX):
        done[i] = True
        continue
      reply = respond(line, int(calls[i]))
      if reply is not None:
        calls[i] += 1
        ids = vocab.encode(reply)[:max_new - len(completion[i])]
        completion[i] += ids
        env[i] += [True] * len(ids)
    turn += 1
  lengths = np.array([len(c) for c in completion], np.int32)
  tokens = np.full((b, max_new), vocab.pad, np.int32)
  env_mask = np.zeros((b, max_new), bool)
  for i in range(b):
    tokens[i, :lengths[i]] = completion[i]
    env_mask[i, :lengths[i]] = env[i]
  return ToolSamples(tokens, env_mask, lengths, done, calls, float(flops))

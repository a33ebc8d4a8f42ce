"""A character vocabulary covering every task's text, with PAD/BOS/EOS, plus a few whole words.

The words are the fixed text of the tasks' formats (`countdown `, ` to `, `ANSWER: `, ...): one
token each instead of one per character. They carry no information a character model would need
to spell out, and they are a third of a Countdown example's tokens, so the training step and the
sampler do ~1.5x less work per example. Encoding takes the longest word at each position, else one
character; a model that spells a word out character by character still decodes to the same text.

Sequences for training are right-padded `[BOS, prompt, completion, EOS, PAD...]`; prompts for
generation are left-padded `[PAD..., BOS, prompt]` so every row's next token lands in the same
cache slot. The model derives positions from the PAD mask, so both layouts use one code path.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from typing import Protocol, Sequence

import numpy as np

PAD, BOS, EOS = 0, 1, 2
# The padding id of real tokenizers (reasoning/tokenizer.py): not a token of any vocabulary, so no
# text can hold it. A real model's own pad token is usually its EOS or end-of-turn token, which a
# chat template puts inside every prompt; padding marked with that id would mask those tokens out.
NOT_A_TOKEN = -1
CHARS = "\n 0123456789abcdefghijklmnopqrstuvwxyzANSWER+-*/=:?!#"
# Task-format words (reasoning/tasks): prompts' keywords, the answer prefix, the STaR hint prefix.
WORDS = ("countdown ", "compute ", "count ", " to ", " in ", "ANSWER: ", "hint ")


@dataclasses.dataclass(frozen=True)
class Specials:
  """The token ids the sampler and the model treat specially (hashable: a jit static argument).

  pad: masked out of attention and positions, emitted by finished rows: an id no text encodes
  to (the character vocabulary's PAD, or NOT_A_TOKEN for real tokenizers); bos: starts a prompt
  (None for models without one, e.g. Qwen2); eos: ends an answer; step_ends: tokens that end a
  reasoning step (a character vocabulary's newline; with BPE, every token ending in one).
  PAD and BOS are never generated, EOS always can be (ModelConfig.never_generated).
  """
  pad: int = PAD
  bos: int | None = BOS
  eos: int = EOS
  step_ends: tuple[int, ...] = ()


class Vocab(Protocol):
  """What the library needs of a vocabulary: the character vocabulary of the synthetic tasks
  (CharVocab) and a real model's tokenizer (tokenizer.HFTokenizer) both provide it."""

  @property
  def size(self) -> int: ...

  @property
  def specials(self) -> Specials: ...

  @property
  def pad(self) -> int:
    """The id that marks padding (never produced by `encode`)."""
    ...

  @property
  def bos(self) -> int | None: ...

  @property
  def eos(self) -> int: ...

  def encode(self, text: str) -> list[int]: ...

  def decode(self, ids: Sequence[int]) -> str:
    """Text of `ids` up to the first EOS; PAD and BOS skipped."""
    ...


@dataclasses.dataclass(frozen=True)
class CharVocab:
  """Ids: PAD, BOS, EOS, then one per character of `chars`, then one per word of `words`."""
  chars: str = CHARS
  words: tuple[str, ...] = WORDS

  def __post_init__(self):
    if len(set(self.chars)) != len(self.chars):
      raise ValueError("CharVocab.chars has duplicate characters")
    if len(set(self.words)) != len(self.words):
      raise ValueError("CharVocab.words has duplicate words")
    for w in self.words:
      if len(w) < 2 or "\n" in w or not set(w) <= set(self.chars):
        raise ValueError(f"CharVocab.words: {w!r} must be 2+ characters of `chars` without a "
                         "newline (a newline ends a reasoning step and stays its own token)")

  @property
  def size(self) -> int:
    return 3 + len(self.chars) + len(self.words)

  pad, bos, eos = PAD, BOS, EOS

  @property
  def newline(self) -> int:
    return self._index["\n"]

  @property
  def specials(self) -> Specials:
    return Specials(PAD, BOS, EOS, (self.newline,))

  @functools.cached_property
  def _pieces(self) -> tuple[str, ...]:
    return tuple(self.chars) + self.words

  @functools.cached_property
  def _index(self) -> dict[str, int]:
    return {c: i + 3 for i, c in enumerate(self._pieces)}

  @functools.cached_property
  def _splitter(self) -> re.Pattern:
    words = sorted(self.words, key=len, reverse=True)  # the longest word wins
    return re.compile("|".join([re.escape(w) for w in words] + ["."]), re.DOTALL)

  def encode(self, text: str) -> list[int]:
    index = self._index
    try:
      return [index[c] for c in self._splitter.findall(text)]
    except KeyError as e:
      raise ValueError(f"character {e.args[0]!r} in {text[:60]!r} is not in the vocabulary") from None

  def decode(self, ids: Sequence[int]) -> str:
    """Text of `ids` up to the first EOS; PAD and BOS are skipped."""
    out, pieces = [], self._pieces
    for i in ids:
      i = int(i)
      if i == EOS:
        break
      if i > EOS:
        out.append(pieces[i - 3])
    return "".join(out)


VOCAB = CharVocab()


def answer_ids(vocab) -> tuple[int, ...]:
  """The tokens that start an answer line (`ANSWER: ` after a newline) in `vocab`'s own encoding,
  up to the token that completes the word `ANSWER`: one word token in the character vocabulary,
  one or two BPE pieces in a real tokenizer. Samplers and searchers match answer lines on these
  ids inside jitted code, whatever the tokenizer."""
  from reasoning.tasks.base import ANSWER_PREFIX
  word = ANSWER_PREFIX.split(":")[0]
  ids = vocab.encode(ANSWER_PREFIX + "0\n")
  for n in range(1, len(ids) + 1):
    if len(vocab.decode(ids[:n])) >= len(word):
      return tuple(ids[:n])
  raise ValueError(f"{ANSWER_PREFIX!r} does not encode in this vocabulary")


def line_end(vocab) -> int:
  """The id of a lone newline: what ends a step in `vocab`."""
  ids = vocab.encode("\n")
  if len(ids) != 1:
    raise ValueError(f"a newline encodes to {len(ids)} tokens in this vocabulary; steps need one")
  return ids[0]


def strip_left_pad(row, pad: int):
  """A left-padded row [S] without its leading `pad` ids."""
  row = np.asarray(row)
  real = np.flatnonzero(row != pad)
  return row[real[0]:] if len(real) else row[:0]


def completion_of(vocab, row, prompt: str) -> str:
  """The text a left-padded row [S] (`[PAD..., BOS, prompt, completion]`, as searchers extend
  pad_prompts' rows) holds after `prompt`: decoded from the tokens after the prompt's own, so a
  prompt holding the EOS id (a chat template's end-of-turn) does not end the text; "" if the row
  does not start with `prompt`."""
  head = _head(vocab) + vocab.encode(prompt)
  row = strip_left_pad(row, vocab.pad)
  if list(row[:len(head)]) != head:
    return ""
  return vocab.decode(row[len(head):])


def round_up(n: int, multiple: int) -> int:
  """n rounded up to a multiple: padded lengths from few buckets compile few shapes."""
  return -(-int(n) // multiple) * multiple


def _head(vocab) -> list[int]:
  return [] if vocab.bos is None else [vocab.bos]


def prompt_length(vocab, text: str) -> int:
  """Tokens of a prompt (or prompt + prefix) as the sampler sees it: BOS where the vocabulary
  has one, then the text."""
  return len(_head(vocab)) + len(vocab.encode(text))


def prompt_width(lengths: Sequence[int] | np.ndarray, minimum: int, multiple: int = 16) -> int:
  """The padded prompt width for prompts of `lengths` tokens: `minimum` when they fit (synthetic
  tasks keep one width), else the longest rounded up to `multiple` (dataset prompts vary in
  length; few compiled shapes)."""
  longest = max(lengths)
  return minimum if longest <= minimum else round_up(longest, multiple)


def pad_prompts(vocab: Vocab, prompts: Sequence[str], length: int | None = None) -> np.ndarray:
  """Left-padded `[PAD..., BOS, prompt]`: tokens [B, P] int32. `vocab` is a CharVocab or any
  tokenizer with its interface (reasoning.tokenizer.HFTokenizer); no BOS where it has none."""
  ids = [_head(vocab) + vocab.encode(p) for p in prompts]
  length = length or max(map(len, ids))
  if max(map(len, ids)) > length:
    raise ValueError(f"a prompt of {max(map(len, ids))} tokens exceeds the prompt length {length}")
  out = np.full((len(ids), length), vocab.pad, np.int32)
  for row, seq in zip(out, ids):
    row[length - len(seq):] = seq
  return out


def pad_examples(vocab: Vocab, prompts: Sequence[str], completions: Sequence,
                 length: int) -> tuple[np.ndarray, np.ndarray]:
  """Right-padded `[BOS, prompt, completion, EOS, PAD...]` and a loss mask on completion + EOS.

  A completion is a string, or a sequence of (text, in_loss) pieces whose texts are whole lines:
  pieces with in_loss False are context the model reads but is not trained to write.
  Returns tokens [B, length] int32 and loss_mask [B, length] float32, where loss_mask[b, t] = 1
  iff tokens[b, t] is a trained completion token (so the logits at t-1 predict it).
  """
  tokens = np.full((len(prompts), length), vocab.pad, np.int32)
  mask = np.zeros((len(prompts), length), np.float32)
  for b, (p, c) in enumerate(zip(prompts, completions)):
    pieces = [(c, True)] if isinstance(c, str) else list(c)
    head = _head(vocab) + vocab.encode(p)
    tail, weights = [], []
    for text, in_loss in pieces:
      ids = vocab.encode(text)
      tail += ids
      weights += [float(in_loss)] * len(ids)
    tail, weights = tail + [vocab.eos], weights + [1.0]
    if len(head) + len(tail) > length:
      text = p + "".join(t for t, _ in pieces)
      raise ValueError(f"example {b} has {len(head) + len(tail)} tokens > seq_len={length}: "
                       f"{text[:60]!r}")
    tokens[b, :len(head) + len(tail)] = head + tail
    mask[b, len(head):len(head) + len(tail)] = weights
  return tokens, mask


def row_lengths(tokens: np.ndarray, loss_mask: np.ndarray, pad: int = PAD) -> np.ndarray:
  """Tokens in each right-padded row [B]: up to its last non-pad or loss-masked token."""
  real = (tokens != pad) | (loss_mask > 0)
  return np.where(real.any(1), real.shape[1] - np.argmax(real[:, ::-1], axis=1), 0)


def pack_examples(tokens: np.ndarray, loss_mask: np.ndarray, length: int, *,
                  rows_multiple: int = 1, pad: int = PAD):
  """Packs right-padded examples into rows of `length` tokens, first-fit by decreasing length,
  so (almost) no compute goes to padding. The row count is rounded up to `rows_multiple` with
  empty rows, so a training loop compiles only a few shapes.

  Returns tokens, loss_mask and segments [R, length]: segments numbers the examples of a row
  1, 2, ... (0 = padding), for `model.apply(..., segments=)`.
  """
  lengths = row_lengths(tokens, loss_mask, pad)
  if lengths.max(initial=0) > length:
    raise ValueError(f"an example of {lengths.max()} tokens does not fit packed rows of {length}")
  rows: list[list[int]] = []
  free: list[int] = []
  for i in sorted(range(len(lengths)), key=lambda i: -lengths[i]):
    r = next((r for r, room in enumerate(free) if room >= lengths[i]), None)
    if r is None:
      rows.append([])
      free.append(length)
      r = len(rows) - 1
    rows[r].append(i)
    free[r] -= lengths[i]
  n_rows = round_up(len(rows), rows_multiple)
  out = np.full((n_rows, length), pad, np.int32)
  mask = np.zeros((n_rows, length), np.float32)
  segments = np.zeros((n_rows, length), np.int32)
  for r, members in enumerate(rows):
    at = 0
    for s, i in enumerate(members, 1):
      n = lengths[i]
      out[r, at:at + n] = tokens[i, :n]
      mask[r, at:at + n] = loss_mask[i, :n]
      segments[r, at:at + n] = s
      at += n
  return out, mask, segments

"""A real model's tokenizer (`tokenizer.json`, the `tokenizers` package) behind CharVocab's interface.

  tok = HFTokenizer.from_dir("path/to/model")    # tokenizer.json (+ config.json for special ids)
  tok.encode("3 + 4 = 7\n"), tok.decode(ids), tok.size, tok.specials

A task's prompt is encoded as is, after the BOS token when the model has one (Llama) and with
none when it has none (Qwen2); an instruct model's chat template (tokenizer_config.json's
`chat_template`) renders messages as transformers does (`apply_chat_template`). Special ids come from the
model's config.json (`bos_token_id`, `eos_token_id`), falling back to tokenizer_config.json's
token strings. Padding is marked with text.NOT_A_TOKEN, never with the model's own pad token:
that is often its EOS or end-of-turn token (SmolLM2's `<|im_end|>`, Llama 3's `<|eot_id|>`),
which a chat template puts inside every prompt, where it must be read like any other token.

Steps end at a newline, but byte-level BPE merges a newline with its neighbours ('.\\n', '\\n\\n'),
so the step-end set is every token whose text ends with a newline (`Specials.step_ends`), and
text is encoded line by line so that no token spans two lines.
Local files only: nothing is downloaded.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from typing import Sequence

from reasoning.hf import read_json
from reasoning.text import NOT_A_TOKEN, Specials


@dataclasses.dataclass(frozen=True)
class HFTokenizer:
  path: str                 # the tokenizer.json
  bos: int | None
  eos: int
  pad: int = NOT_A_TOKEN    # marks padding; no text encodes to it
  chat_template: str | None = None  # tokenizer_config.json's Jinja template (instruct models)
  special_tokens: tuple[tuple[str, str], ...] = ()  # (bos_token, "<s>"), ...: the template reads them

  @classmethod
  def from_dir(cls, directory: str) -> "HFTokenizer":
    path = os.path.join(directory, "tokenizer.json")
    if not os.path.exists(path):
      raise ValueError(f"{directory}: no tokenizer.json (a Hugging Face tokenizer file is needed)")
    hf_config = read_json(os.path.join(directory, "config.json"))
    tok_config = read_json(os.path.join(directory, "tokenizer_config.json"))
    tok = _load(path)

    def special(name: str) -> int | None:
      value = hf_config.get(f"{name}_token_id")
      if isinstance(value, list):  # several EOS ids (chat models): the first is the text's end
        value = value[0] if value else None
      if value is None:
        text = tok_config.get(f"{name}_token")
        if isinstance(text, dict):  # AddedToken serialized as a dict
          text = text.get("content")
        value = tok.token_to_id(text) if text else None
      return value

    eos = special("eos")
    if eos is None:
      raise ValueError(f"{directory}: no eos_token_id in config.json and no eos_token in "
                       f"tokenizer_config.json; generation needs an end-of-text token")
    template = tok_config.get("chat_template")
    if isinstance(template, list):  # named templates: the default one
      template = next((t["template"] for t in template if t.get("name") == "default"), None)
    tokens = []
    for name in ("bos_token", "eos_token", "pad_token", "unk_token"):
      text = tok_config.get(name)
      text = text.get("content") if isinstance(text, dict) else text
      if text is not None:
        tokens.append((name, text))
    return cls(path=path, bos=special("bos"), eos=eos, chat_template=template,
               special_tokens=tuple(tokens))

  def apply_chat_template(self, messages: Sequence[dict], *,
                          add_generation_prompt: bool = True) -> str:
    """The model's chat template rendered for `messages` ([{"role", "content"}]) as
    transformers' `apply_chat_template(tokenize=False)` renders it (Jinja, trimmed blocks,
    sandboxed), ending with the assistant's header when `add_generation_prompt`."""
    if self.chat_template is None:
      raise ValueError(f"{os.path.dirname(self.path)}: tokenizer_config.json has no "
                       f"chat_template (a base model, not an instruct model)")
    return render_chat(self.chat_template, messages, add_generation_prompt=add_generation_prompt,
                       special_tokens=self.special_tokens)

  @functools.cached_property
  def _tok(self):
    return _load(self.path)

  @property
  def size(self) -> int:
    return self._tok.get_vocab_size(with_added_tokens=True)

  @functools.cached_property
  def specials(self) -> Specials:
    texts = self._tok.decode_batch([[i] for i in range(self.size)], skip_special_tokens=False)
    step_ends = tuple(i for i, t in enumerate(texts) if t.endswith("\n"))
    if not step_ends:
      raise ValueError(f"{self.path}: no token ends with a newline; steps cannot be delimited")
    return Specials(pad=self.pad, bos=self.bos, eos=self.eos, step_ends=step_ends)

  def encode(self, text: str) -> list[int]:
    """Token ids of `text`, encoded line by line: no token spans two lines, so the last token
    of every line ends with its newline (a step end), as the PRM's labels and the step-wise
    sampler need; training data and search prefixes tokenize the same way."""
    lines = text.splitlines(keepends=True)
    encoded = self._tok.encode_batch(lines, add_special_tokens=False) if lines else []
    return [i for e in encoded for i in e.ids]

  def decode(self, ids: Sequence[int]) -> str:
    """Text of `ids` up to the first EOS; PAD and BOS are skipped (as CharVocab.decode)."""
    out = []
    for i in ids:
      i = int(i)
      if i == self.eos:
        break
      if i != self.bos and 0 <= i < self.size:  # padding and ids past the tokenizer: skipped
        out.append(i)
    return self._tok.decode(out, skip_special_tokens=False)


def render_chat(template: str, messages: Sequence[dict], *, add_generation_prompt: bool = True,
                special_tokens: tuple[tuple[str, str], ...] = ()) -> str:
  """A Jinja chat template rendered for `messages`, as HFTokenizer.apply_chat_template."""
  return _compiled(template).render(messages=list(messages),
                                    add_generation_prompt=add_generation_prompt,
                                    **dict(special_tokens))


@functools.lru_cache(maxsize=4)
def _compiled(template: str):
  """The template compiled as transformers compiles chat templates (jinja2's sandbox, trimmed
  blocks, loop controls, a JSON filter that keeps non-ASCII text, `raise_exception`)."""
  import json

  import jinja2
  import jinja2.ext
  from jinja2.sandbox import ImmutableSandboxedEnvironment

  def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)

  env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                      extensions=[jinja2.ext.loopcontrols])
  env.filters["tojson"] = lambda x, ensure_ascii=False, indent=None, separators=None, \
      sort_keys=False: json.dumps(x, ensure_ascii=ensure_ascii, indent=indent,
                                  separators=separators, sort_keys=sort_keys)
  env.globals["raise_exception"] = raise_exception
  return env.from_string(template)


def _load(path: str):
  from tokenizers import Tokenizer
  try:
    return Tokenizer.from_file(path)
  except Exception as e:  # the Rust library raises its own exception type
    raise ValueError(f"{path}: unreadable tokenizer file ({e})") from e


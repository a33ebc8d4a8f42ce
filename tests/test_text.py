import numpy as np
import pytest

from reasoning.tasks import TASKS, get_task, reference_completion
from reasoning.text import BOS, EOS, PAD, VOCAB, pad_examples, pad_prompts


def test_vocabulary_covers_every_task():
  for name in TASKS:
    task = get_task(name, trap_share=0.5)
    for d in task.difficulties[:3]:
      for p in task.sample(np.random.default_rng(0), 30, d):
        text = p.prompt + reference_completion(task, p)
        assert VOCAB.decode(VOCAB.encode(text)) == text


def test_unknown_character_is_a_clear_error():
  with pytest.raises(ValueError, match="character 'é'"):
    VOCAB.encode("café")


def test_padding_layouts():
  tokens = pad_prompts(VOCAB, ["ab", "abcd"])
  assert tokens.shape == (2, 5)
  assert tokens[0, :2].tolist() == [PAD, PAD] and tokens[0, 2] == BOS
  tokens, mask = pad_examples(VOCAB, ["ab"], ["cd\n"], 8)
  assert tokens[0].tolist() == [BOS] + VOCAB.encode("abcd\n") + [EOS, PAD]
  assert mask[0].tolist() == [0, 0, 0, 1, 1, 1, 1, 0]
  assert VOCAB.decode(tokens[0]) == "abcd\n"
  with pytest.raises(ValueError, match="seq_len=4"):
    pad_examples(VOCAB, ["ab"], ["cd\n"], 4)

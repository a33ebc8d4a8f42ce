import numpy as np
import pytest

from reasoning.tasks import TASKS, get_task, reference_completion
from reasoning.text import BOS, EOS, PAD, VOCAB, CharVocab, pad_examples, pad_prompts


def test_vocabulary_covers_every_task():
  for name in TASKS:
    task = get_task(name, trap_share=0.5)
    for d in task.difficulties[:3]:
      for p in task.sample(np.random.default_rng(0), 30, d):
        text = p.prompt + reference_completion(task, p)
        assert VOCAB.decode(VOCAB.encode(text)) == text


def test_format_words_are_one_token_and_decode_like_their_spelling():
  ids = VOCAB.encode("countdown 3 8 to 24\n8*3=24\nANSWER: 24\n")
  pieces = [VOCAB.decode([i]) for i in ids]
  assert pieces == ["countdown ", "3", " ", "8", " to ", "2", "4", "\n", "8", "*", "3", "=", "2",
                    "4", "\n", "ANSWER: ", "2", "4", "\n"]
  # The longest word wins ("countdown " over "count "); a word spelled out character by
  # character (as a sampler may emit it) decodes to the same text as the word's own token.
  assert VOCAB.decode(VOCAB.encode("count r in rr\n")) == "count r in rr\n"
  assert len(VOCAB.encode("count ")) == 1 and len(VOCAB.encode("countdown ")) == 1
  spelled = [VOCAB.encode(c)[0] for c in "ANSWER: 7"]
  assert VOCAB.decode(spelled) == VOCAB.decode(VOCAB.encode("ANSWER: 7")) == "ANSWER: 7"
  assert VOCAB.size == 3 + len(VOCAB.chars) + len(VOCAB.words)
  assert VOCAB.specials.step_ends == (VOCAB.encode("\n")[0],)
  with pytest.raises(ValueError, match="newline"):
    CharVocab(words=("a\nb",))
  with pytest.raises(ValueError, match="duplicate words"):
    CharVocab(words=("ab", "ab"))


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


def test_row_lengths_keep_the_final_eos_of_eos_padded_vocabularies():
  from reasoning.train.sft_data import batch_at
  from reasoning.text import row_lengths
  eos = 7  # a tokenizer without a pad token pads with its EOS
  tokens = np.array([[4, 5, 6, eos, eos, eos], [4, 5, eos, eos, eos, eos]])
  loss_mask = np.array([[0, 1, 1, 1, 0, 0], [0, 1, 1, 0, 0, 0]], np.float32)
  np.testing.assert_array_equal(row_lengths(tokens, loss_mask, eos), [4, 3])
  assert (tokens != eos).sum(1).tolist() == [3, 2]  # what counting non-pad tokens would miss
  # The char vocabulary (PAD = 0 differs from EOS) gives the plain count.
  chars, mask = pad_examples(VOCAB, ["ab"], ["c\n"], 10)
  assert row_lengths(chars, mask)[0] == (chars != PAD).sum() == 6
  # A batch trimmed to its longest row keeps every row's EOS target.
  batch = batch_at(0, 0, [(tokens, loss_mask)], 2, multiple=1, pad=eos)
  assert batch["tokens"].shape[1] == 4 and batch["loss_mask"].sum() == loss_mask.sum()

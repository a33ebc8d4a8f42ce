"""Letter counting ("how many r in strawberry"): walk the word one letter per line.

Prompt `count r in strawberry`; each step is the letter and the running count of the asked
letter so far:

  s 0 / t 0 / r 1 / a 1 / w 1 / b 1 / e 1 / r 2 / r 3 / y 3 / ANSWER: 3

Difficulty d sets the word length: 3d to 3d+2 letters, from a built-in word list or random
letters (`source`). A letter that never occurs is not a trap (the answer is 0); a trap is a
malformed question that asks for a non-letter (`count 7 in ...`), whose answer is `none`.

Verification checks the work: the completion must be the reference walk and the right count.
The oracle step labels: a step is good iff it and every step before it equal the reference walk.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from reasoning.tasks import base

_LETTERS = "abcdefghijklmnopqrstuvwxyz"
TRAP_SYMBOLS = "0123456789?!#"
WORDS = tuple("""
cat dog sun map red pie owl ant bee cow fig jam kit log mud net oak pen rug sky toy van web yak
apple berry cherry lemon mango melon olive onion pear plum grape peach river stone cloud storm
forest garden planet rocket silver window yellow banana carrot butter bottle candle dragon
strawberry blueberry raspberry pineapple chocolate butterfly crocodile elephant kangaroo
mountain notebook sunflower umbrella volcano waterfall keyboard computer triangle rectangle
hippopotamus mississippi encyclopedia accommodation necessary embarrass occurrence committee
bookkeeper parallel assessment possession successful millennium programming grammar
independence misspelled questionnaire recommendation unbelievable understanding
""".split())


def walk(word: str, letter: str) -> list[str]:
  count, steps = 0, []
  for c in word:
    count += c == letter
    steps.append(f"{c} {count}")
  return steps


@dataclasses.dataclass(frozen=True)
class Letters(base.MatchesReference):
  """`source`: 'words' (built-in list, random letters where no word has the length), 'random',
  or 'mixed' (half and half). `present_share`: how often the asked letter occurs in the word."""
  trap_share: float = 0.1
  source: str = "mixed"
  present_share: float = 0.7
  name: str = "letters"
  difficulties: tuple[int, ...] = (1, 2, 3, 4)

  def __post_init__(self):
    base.check_share("letters.trap_share", self.trap_share)
    base.check_share("letters.present_share", self.present_share)
    if self.source not in ("words", "random", "mixed"):
      raise ValueError(f"letters.source must be 'words', 'random' or 'mixed', got {self.source!r}")

  def _word(self, rng: np.random.Generator, difficulty: int) -> str:
    length = int(rng.integers(3 * difficulty, 3 * difficulty + 3))
    use_list = self.source == "words" or (self.source == "mixed" and rng.random() < 0.5)
    candidates = [w for w in WORDS if 3 * difficulty <= len(w) <= 3 * difficulty + 2]
    if use_list and candidates:
      return candidates[rng.integers(len(candidates))]
    return "".join(_LETTERS[i] for i in rng.integers(0, 26, size=length))

  def sample(self, rng: np.random.Generator, n: int, difficulty: int) -> list[base.Problem]:
    base.check_difficulty(self, difficulty)
    problems = []
    for _ in range(n):
      word = self._word(rng, difficulty)
      if rng.random() < self.trap_share:
        letter = TRAP_SYMBOLS[rng.integers(len(TRAP_SYMBOLS))]
        answer = base.NONE_ANSWER
      else:
        if rng.random() < self.present_share:
          letter = word[rng.integers(len(word))]
        else:
          letter = _LETTERS[rng.integers(26)]
        answer = str(word.count(letter))
      problems.append(base.Problem(f"count {letter} in {word}\n", answer,
                                   {"word": word, "letter": letter, "difficulty": difficulty}))
    return problems

  def solve(self, problem: base.Problem, rng=None) -> list[str] | None:
    """The one solution (`rng` is accepted for the Task interface and unused)."""
    if problem.is_trap:
      return None
    return walk(problem.meta["word"], problem.meta["letter"]) + [base.answer_line(problem.answer)]


import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from reasoning.tasks import Arithmetic, Letters
from reasoning.tasks.chat import ChatFormat, natural_answer

TEMPLATE = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
            "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


@pytest.mark.parametrize("reply,answer", [
    ("23 + 48 = 71", "71"), ("Answer: 42", "42"), ("The answer is 1,234.", "1234"),
    ("7 + 5 = 12\nANSWER: 12\n", "12"), ("answer: -3 (I think 4)", "-3"),
    ("There are 3 r's in strawberry.", "3"), ("ANSWER: none\n", "none"), ("no idea", None),
    ("", None)])
def test_natural_answer_reads_the_stated_answer(reply, answer):
  assert natural_answer(reply) == answer


@settings(max_examples=300, derandomize=True)
@given(st.text(max_size=200))
def test_natural_answer_never_raises(text):
  out = natural_answer(text)
  assert out is None or out == "none" or out.lstrip("-").isascii() and out.lstrip("-").isdigit()


def test_chat_format_renders_the_template_and_verifies_natural_replies():
  task = ChatFormat(Arithmetic(trap_share=0.0, ops="+"), template=TEMPLATE,
                    question="What is {a} {op} {b}?", instruction="Answer with just the number.",
                    system="Be brief.")
  [p] = task.sample(np.random.default_rng(0), 1, 2)
  a, b = p.meta["a"], p.meta["b"]
  assert p.prompt == (f"<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nWhat is {a} + "
                      f"{b}? Answer with just the number.<|im_end|>\n<|im_start|>assistant\n")
  assert p.answer == str(int(a) + int(b))
  assert task.verify(p, f"{a} + {b} = {p.answer}") == 1.0
  assert task.verify(p, f"{a} + {b} = {int(p.answer) + 1}") == 0.0
  assert task.verify(p, "\n".join(task.solve(p))) == 1.0  # the scratchpad's ANSWER line
  assert not task.has_step_oracle and task.difficulties == Arithmetic().difficulties
  with pytest.raises(ValueError, match="no step oracle"):
    task.step_labels(p, ["x"])
  letters = ChatFormat(Letters(trap_share=0.0), template=TEMPLATE,
                       question="How many times does the letter {letter} appear in {word}?")
  [q] = letters.sample(np.random.default_rng(1), 1, 1)
  assert q.meta["word"] in q.prompt and letters.verify(q, f"It appears {q.answer} times.") == 1.0
  with pytest.raises(ValueError, match="names 'word'"):
    ChatFormat(Arithmetic(), template=TEMPLATE, question="{word}").sample(
        np.random.default_rng(0), 1, 1)
  with pytest.raises(ValueError, match="no chat_template"):
    ChatFormat(Arithmetic(), template="", question="x")

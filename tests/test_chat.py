import json

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
  # Taught the scratchpad, the reply is judged as the wrapped task judges it, step by step.
  pad = ChatFormat(Arithmetic(trap_share=0.0, ops="+"), template=TEMPLATE, question="{a}+{b}",
                   scratchpad=True)
  [r] = pad.sample(np.random.default_rng(0), 1, 3)
  lines = pad.solve(r)
  assert pad.has_step_oracle and pad.verify(r, "\n".join(lines) + "\n") == 1.0
  assert pad.verify(r, f"ANSWER: {r.answer}\n") == 0.0  # the right answer without the work
  assert pad.step_labels(r, lines) == [1] * len(lines)
  assert pad.step_labels(r, ["0+0+0=0"] + lines[1:]) == [0] * len(lines)
  letters = ChatFormat(Letters(trap_share=0.0), template=TEMPLATE,
                       question="How many times does the letter {letter} appear in {word}?")
  [q] = letters.sample(np.random.default_rng(1), 1, 1)
  assert q.meta["word"] in q.prompt and letters.verify(q, f"It appears {q.answer} times.") == 1.0
  with pytest.raises(ValueError, match="names 'word'"):
    ChatFormat(Arithmetic(), template=TEMPLATE, question="{word}").sample(
        np.random.default_rng(0), 1, 1)
  with pytest.raises(ValueError, match="no chat_template"):
    ChatFormat(Arithmetic(), template="", question="x")


def test_rl_through_the_chat_template_of_a_tiny_instruct_model(tmp_path):
  """configs/smollm2_rl.py's path on a tiny random model whose tokenizer has a chat template: the
  task block's `chat` poses every prompt through it, and rewards read natural replies."""
  from experiments import rl
  from reasoning import runs as runs_lib
  from configs import smollm2_rl
  from reasoning import hf
  from reasoning.train import rewards
  texts = [f"<|im_start|>user\nWhat is {a} + {b}? Answer with just the number.<|im_end|>\n"
           f"<|im_start|>assistant\n{a + b}<|im_end|>\n" for a in range(10) for b in range(10)]
  model_dir = hf.write_tiny_model(str(tmp_path / "model"), texts, chat_template=TEMPLATE)
  config = smollm2_rl.get_config("tiny")
  config.init_from = model_dir
  vocab = runs_lib.load_sft(model_dir)[0]
  task = runs_lib.make_task(config, vocab)
  assert isinstance(task, ChatFormat) and task.template == TEMPLATE
  [p] = task.sample(np.random.default_rng(0), 1, 1)
  assert p.prompt.startswith("<|im_start|>user\nWhat is ") and p.prompt.endswith("assistant\n")
  # A reply with a stated answer is well-formed (no ANSWER line needed); one without is not.
  got = rewards.rewards_of(task, [p, p], [f"It is {p.answer}.", "I do not know."], 1.0)
  np.testing.assert_array_equal(got, [1.0, -1.0])
  with pytest.raises(ValueError, match="task.chat.*the character vocabulary has none"):
    runs_lib.make_task(config)
  # An SFT config of a Hugging Face model poses the task through that model's own tokenizer.
  sft_config = {"task": dict(config.task), "model": {"path": model_dir}}
  assert runs_lib.make_task(sft_config).render(p) == p.prompt
  bad = {"task": {"name": "arithmetic", "chat": {"question": "What is {a}?", "tone": "x"}}}
  with pytest.raises(ValueError, match="task.chat.tone is not a chat setting"):
    runs_lib.make_task(bad, vocab)
  out = rl.run(config, str(tmp_path / "rl"))
  assert out["metrics"]["step"] == 2 and "sampled/d1" in out["metrics"]


@pytest.mark.slow
def test_sft_prm_and_tree_search_on_the_scratchpad_through_a_chat_template(tmp_path):
  """configs/smollm2_{sft,prm,search}.py's path on a tiny random instruct-format model: SFT on
  the arithmetic scratchpad through the chat template, a PRM on the oracle's step labels of its
  replies, then best-of-N, beam search and MCTS over the reply's lines."""
  from configs import smollm2_prm, smollm2_search, smollm2_sft
  from experiments import search, sft, verifier
  from reasoning import hf
  from reasoning.tasks import base
  task = ChatFormat(Arithmetic(trap_share=0.0), template=TEMPLATE, question="What is {a} {op} {b}?",
                    instruction="Work it out column by column.", scratchpad=True)
  rng = np.random.default_rng(0)
  texts = [p.prompt + base.reference_completion(task, p) for d in (2, 3)
           for p in task.sample(rng, 50, d)]
  model_dir = hf.write_tiny_model(str(tmp_path / "model"), texts, chat_template=TEMPLATE)
  config = smollm2_sft.get_config("tiny")
  config.model.path = model_dir
  out = sft.run(config, str(tmp_path / "sft"))
  assert out["metrics"]["step"] == 2 and "greedy/d3" in out["metrics"]
  config = smollm2_prm.get_config("tiny")
  config.init_from = str(tmp_path / "sft")
  out = verifier.run(config, str(tmp_path / "prm"))
  assert "auc/step" in out["metrics"] and out["metrics"]["eval/steps"] > 0  # oracle labels
  config = smollm2_search.get_config("tiny")
  config.policy, config.prm = str(tmp_path / "sft"), str(tmp_path / "prm")
  summary = search.run(config, str(tmp_path / "search"))
  methods = {json.loads(line)["method"] for line in open(tmp_path / "search" / "results.jsonl")}
  assert {"best-of-2 PRM weighted", "beam N=2", "MCTS sims=2"} <= methods, methods
  assert summary

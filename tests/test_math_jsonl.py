"""Math word problems from JSONL: GSM8K answers, normalization, clear file errors."""

import numpy as np
import pytest

from reasoning.tasks import get_task, reference_completion
from reasoning.tasks.math_jsonl import extract_answer, normalize_answer

SAMPLE = "tests/data/math_sample.jsonl"


@pytest.mark.parametrize("text,want", [
    ("1,000", "1000"), ("1000.0", "1000"), ("\\boxed{1000}", "1000"), ("$1,000.", "1000"),
    ("0.75", "3/4"), ("3/4", "3/4"), ("6/8", "3/4"), ("-2", "-2"), ("52.5", "105/2"),
    ("1,234,567", "1234567"), (" Paris ", "paris"), ("", None), ("1/0", None), ("x" * 80, None)])
def test_normalize_answer(text, want):
  assert normalize_answer(text) == want


def test_extract_answer_prefers_the_last_answer_line_then_boxed_then_gsm8k():
  assert extract_answer("so 3\nANSWER: 1,000\n") == "1000"
  assert extract_answer("ANSWER: 4\nno wait\nANSWER: 5") == "5"
  assert extract_answer("the answer is \\boxed{0.5}") == "1/2"
  assert extract_answer("work\n#### 26") == "26"
  assert extract_answer("no answer here") is None
  assert extract_answer("ANSWER: 1" * 2000) is None  # over-long: rejected, not parsed
  assert extract_answer(None) is None


def test_tasks_from_the_sample_file():
  task = get_task("math_jsonl", path=SAMPLE)
  rng = np.random.default_rng(0)
  by_level = {d: task.sample(rng, 2, d) for d in (1, 2, 3)}
  assert {p.answer for p in by_level[1]} <= {"26", "105/2", "3/4"}
  assert [p.answer for p in by_level[2]] == ["24", "24"]  # one problem, drawn with replacement
  assert by_level[3][0].answer == "6" and by_level[3][0].prompt.startswith("A farm has 1,200")
  for problems in by_level.values():
    for p in problems:
      completion = reference_completion(task, p)
      assert "<<" not in completion and completion.endswith(f"ANSWER: {p.answer}\n")
      assert task.verify(p, completion) == 1.0
      assert task.verify(p, "ANSWER: 7\n") == 0.0
  [train] = [p for p in by_level[1] if p.answer == "105/2"] or [None]
  if train is not None:
    assert task.verify(train, "ANSWER: 52.50") == 1.0
  with pytest.raises(ValueError, match="no per-step oracle"):
    task.step_labels(by_level[1][0], ["x"])


def test_bad_files_are_clear_errors(tmp_path):
  with pytest.raises(ValueError, match="no such file 'nope.jsonl'"):
    get_task("math_jsonl", path="nope.jsonl").sample(np.random.default_rng(0), 1, 1)
  bad = tmp_path / "bad.jsonl"
  bad.write_text('{"question": "q", "answer": "#### 1"}\n{"question": "q"}\n')
  with pytest.raises(ValueError, match=r"bad.jsonl:2: expected a JSON object with 'question'"):
    get_task("math_jsonl", path=str(bad)).sample(np.random.default_rng(0), 1, 1)
  bad.write_text('{"question": "q", "answer": "#### "}\n')
  with pytest.raises(ValueError, match=r"bad.jsonl:1: cannot read a final answer"):
    get_task("math_jsonl", path=str(bad)).sample(np.random.default_rng(0), 1, 1)
  with pytest.raises(ValueError, match="trap_share must be 0"):
    get_task("math_jsonl", path=SAMPLE, trap_share=0.1)


def test_prompt_template_by_config():
  task = get_task("math_jsonl", path=SAMPLE, template="Question: {question}\nSolve it step by step.\n")
  [p] = task.sample(np.random.default_rng(0), 1, 1)
  assert p.prompt.startswith("Question: ") and p.prompt.endswith("\nSolve it step by step.\n")
  assert p.meta["question"] in p.prompt and task.verify(p, f"ANSWER: {p.answer}\n") == 1.0
  [plain] = get_task("math_jsonl", path=SAMPLE).sample(np.random.default_rng(0), 1, 1)
  assert plain.prompt == plain.meta["question"] + "\n"
  with pytest.raises(ValueError, match="math_jsonl.template=.*must contain '{question}'"):
    get_task("math_jsonl", path=SAMPLE, template="no placeholder\n")

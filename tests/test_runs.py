"""reasoning/runs.py's readers of config values: one answer whatever form a list arrives in."""

import pytest

from reasoning import runs


def test_ints_read_a_tuple_an_integer_and_a_saved_comma_string_alike():
  assert runs.ints((1, 2, 3)) == runs.ints([1, 2, 3]) == runs.ints("1,2,3") == [1, 2, 3]
  assert runs.ints(2) == runs.ints("2") == runs.ints((2,)) == [2]
  assert runs.ints(()) == runs.ints("") == []
  with pytest.raises(ValueError, match=r"expected integers .* got \('a', 2\)"):
    runs.ints(("a", 2))


def test_names_split_an_element_that_holds_commas():
  # --config.tasks=countdown,letters reaches a tuple field as the one-element tuple below.
  assert runs.names(("countdown,letters",)) == runs.names("countdown, letters") == [
      "countdown", "letters"]
  assert runs.names(("countdown", "arithmetic")) == ["countdown", "arithmetic"]

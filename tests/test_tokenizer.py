"""A real tokenizer (tokenizer.json) behind the vocabulary interface, and SFT -> RL on a Hugging
Face-layout model with it (a tiny random Qwen2-style checkpoint made without torch)."""

import json
import runpy

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from reasoning import hf, sampling, testing
from reasoning.tasks import math_jsonl
from reasoning.text import VOCAB, pad_examples, pad_prompts
from reasoning.tokenizer import HFTokenizer

SAMPLE = "tests/data/math_sample.jsonl"


def _texts():
  problems = math_jsonl.load(SAMPLE)
  return [p.prompt + "\n".join(p.meta["steps"]) + "\nANSWER: " + p.answer + "\n"
          for p in problems] * 4


@pytest.fixture(scope="module")
def hf_dir(tmp_path_factory):
  return testing.write_tiny_hf_model(str(tmp_path_factory.mktemp("hf") / "model"), _texts())


def test_tokenizer_round_trip_specials_and_step_ends(hf_dir):
  tok = HFTokenizer.from_dir(hf_dir)
  text = "Mia has 3 boxes.\nShe gives 10 away.\nANSWER: 26\n"
  ids = tok.encode(text)
  assert tok.decode(ids) == text
  assert tok.decode(ids + [tok.eos] + ids) == text  # stops at EOS
  assert tok.bos is None and tok.pad == tok.eos  # Qwen2-style: no BOS, no pad token
  ends = set(tok.specials.step_ends)
  # Every token that ends with a newline ends a step, merged ones ('.\n') included; no other.
  for i in range(tok.size):
    assert (i in ends) == tok.decode([i]).endswith("\n")
  assert any(len(tok.decode([i])) > 1 for i in ends)
  # Prompts have no BOS; examples end with EOS; padding is the model's pad id.
  prompts = pad_prompts(tok, ["Mia has 3 boxes.\n", "Hi\n"])
  assert prompts[1, 0] == tok.pad and list(prompts[0]) == tok.encode("Mia has 3 boxes.\n")
  tokens, mask = pad_examples(tok, ["Q\n"], ["A\n"], 12)
  n = len(tok.encode("Q\n")) + len(tok.encode("A\n"))
  assert tokens[0, n] == tok.eos and mask[0].sum() == len(tok.encode("A\n")) + 1


def test_tokenizer_errors_name_the_file(tmp_path, hf_dir):
  with pytest.raises(ValueError, match="no tokenizer.json"):
    HFTokenizer.from_dir(str(tmp_path))
  (tmp_path / "tokenizer.json").write_text("{not json")
  with pytest.raises(ValueError, match="tokenizer.json: unreadable tokenizer file"):
    HFTokenizer.from_dir(str(tmp_path))
  (tmp_path / "tokenizer.json").write_text((__import__("pathlib").Path(hf_dir) /
                                            "tokenizer.json").read_text())
  with pytest.raises(ValueError, match="no eos_token_id"):
    HFTokenizer.from_dir(str(tmp_path))


def test_sampler_uses_the_tokenizers_special_ids(hf_dir):
  tok = HFTokenizer.from_dir(hf_dir)
  cfg, graphdef, params = hf.load(hf_dir, specials=tok.specials)
  assert cfg.pad_id == tok.pad and cfg.bos_id is None
  prompts = jnp.asarray(pad_prompts(tok, ["Mia has 3 boxes.\n", "A train travels 60 km.\n"]))
  out = sampling.generate(graphdef, params, prompts, jax.random.key(0), max_new=24,
                          stop="step", temperature=1.0, specials=tok.specials)
  tokens, lengths, done = map(np.asarray, (out.tokens, out.lengths, out.done))
  for row, n, d in zip(tokens, lengths, done):
    last = int(row[n - 1])
    assert (last in tok.specials.step_ends or last == tok.eos) == bool(d)
    assert not any(int(t) in tok.specials.step_ends for t in row[:n - 1])  # stops at the first
    assert (row[n:] == tok.pad).all()
  with pytest.raises(ValueError, match="specials pad=0, bos=1 differ from the model's pad_id"):
    sampling.generate(graphdef, params, prompts, jax.random.key(0), max_new=4,
                      specials=VOCAB.specials)


@pytest.mark.slow
def test_sft_then_rl_on_a_hugging_face_model(tmp_path, hf_dir):
  from experiments import common, rl, sft
  config = runpy.run_path("configs/hf_sft.py")["get_config"]("tiny")
  config.model.path = hf_dir
  result = sft.run(config, str(tmp_path / "sft"))
  records = [json.loads(x) for x in (tmp_path / "sft" / "metrics.jsonl").read_text().splitlines()]
  losses = [r["loss"] for r in records if "loss" in r]
  assert len(losses) == 3 and losses[-1] < losses[0]
  assert (tmp_path / "sft" / "plots" / "learning_curve.png").exists()
  # The run reloads as a Hugging Face model with its tokenizer; other entrypoints refuse it.
  vocab, _, cfg, _, params, _ = common.load_sft(str(tmp_path / "sft"), with_vocab=True)
  assert isinstance(vocab, HFTokenizer) and cfg.pad_id == vocab.eos
  for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(result["params"])):
    np.testing.assert_array_equal(a, b)
  with pytest.raises(ValueError, match="character vocabulary only"):
    common.load_sft(str(tmp_path / "sft"))

  config = runpy.run_path("configs/hf_rl.py")["get_config"]("tiny")
  config.init_from = str(tmp_path / "sft")
  out = rl.run(config, str(tmp_path / "rl"))
  assert out["metrics"]["step"] == 2 and "greedy/d1" in out["metrics"]
  records = [json.loads(x) for x in (tmp_path / "rl" / "metrics.jsonl").read_text().splitlines()]
  assert [r["step"] for r in records if "kl" in r] == [1, 2]
  assert all(np.isfinite(r["loss"]) for r in records if "loss" in r)


@pytest.mark.slow
def test_prm_from_monte_carlo_labels_search_and_revisions_on_a_hugging_face_model(tmp_path, hf_dir):
  from experiments import search, sft, verifier as verifier_exp
  config = runpy.run_path("configs/hf_sft.py")["get_config"]("tiny")
  config.model.path = hf_dir
  config.steps, config.eval_every = 1, 1
  sft.run(config, str(tmp_path / "sft"))
  config = runpy.run_path("configs/hf_verifier.py")["get_config"]("tiny")
  config.init_from = str(tmp_path / "sft")
  with pytest.raises(ValueError, match="no per-step oracle.*labels=mc"):
    verifier_exp.run(dict_copy(config, labels="oracle"), str(tmp_path / "bad"))
  out = verifier_exp.run(config, str(tmp_path / "prm"))
  assert "auc/step" not in out["metrics"] and "auc/outcome_min" in out["metrics"]
  config = runpy.run_path("configs/hf_search.py")["get_config"]("tiny")
  config.policy, config.prm = str(tmp_path / "sft"), str(tmp_path / "prm")
  out = search.run(config, str(tmp_path / "search"))
  methods = {json.loads(x)["method"] for x in (tmp_path / "search" / "results.jsonl").read_text()
             .splitlines()}
  assert {"best-of-2 majority", "best-of-2 PRM weighted", "beam N=2", "lookahead1 N=2"} <= methods
  assert (tmp_path / "search" / "plots" / "search_scaling.png").exists()
  from experiments import revision
  config = runpy.run_path("configs/hf_revision.py")["get_config"]("tiny")
  config.init_from, config.prm = str(tmp_path / "sft"), str(tmp_path / "prm")
  out = revision.run(config, str(tmp_path / "revision"))
  assert out["pool"]["correct"].shape == (2, 2, 2)  # problems, chains, attempts
  assert {r["method"] for r in out["records"]} >= {"N=1 L=1", "N=2 L=2"}


def dict_copy(config, **changes):
  config = config.copy_and_resolve_references()
  config.unlock()
  config.update(changes)
  return config

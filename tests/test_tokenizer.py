"""A real tokenizer (tokenizer.json) behind the vocabulary interface, searchers on its ids, and
every entrypoint on a Hugging Face-layout model with it (a tiny random Qwen2-style checkpoint
with a BPE tokenizer, made without torch), on a math JSONL file and on Countdown."""

import json
import runpy

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from ml_collections import ConfigDict

from reasoning import hf, mesh as mesh_lib, runs as runs_lib, sampling
from reasoning.search import mcts, rstar
from reasoning.model import Model
from reasoning.tasks import Countdown, math_jsonl, reference_completion
from reasoning.text import (NOT_A_TOKEN, VOCAB, answer_ids, completion_of, line_end, pad_examples,
                            pad_prompts, strip_left_pad)
from reasoning.tokenizer import HFTokenizer
from reasoning.train import expert_iteration as exit_lib, sft
from support import tiny_config

SAMPLE = "tests/data/math_sample.jsonl"


def _texts():
  """Math word problems and Countdown solutions: the tokenizer's training text."""
  problems = math_jsonl.load(SAMPLE)
  countdown = Countdown()
  rng = np.random.default_rng(0)
  return ([p.prompt + "\n".join(p.meta["steps"]) + "\nANSWER: " + p.answer + "\n"
           for p in problems] * 4 +
          [p.prompt + reference_completion(countdown, p) for d in (1, 2)
           for p in countdown.sample(rng, 100, d)])


@pytest.fixture(scope="module")
def hf_dir(tmp_path_factory):
  return hf.write_tiny_model(str(tmp_path_factory.mktemp("hf") / "model"), _texts())


def test_tokenizer_round_trip_specials_and_step_ends(hf_dir):
  tok = HFTokenizer.from_dir(hf_dir)
  text = "Mia has 3 boxes.\nShe gives 10 away.\nANSWER: 26\n"
  ids = tok.encode(text)
  assert tok.decode(ids) == text
  assert tok.decode(ids + [tok.eos] + ids) == text  # stops at EOS
  assert tok.bos is None and tok.pad == NOT_A_TOKEN  # Qwen2-style: no BOS; padding is no token
  ends = set(tok.specials.step_ends)
  # Every token that ends with a newline ends a step, merged ones ('.\n') included; no other.
  for i in range(tok.size):
    assert (i in ends) == tok.decode([i]).endswith("\n")
  assert any(len(tok.decode([i])) > 1 for i in ends)
  # Prompts have no BOS; examples end with EOS; padding is NOT_A_TOKEN, which decodes to nothing.
  prompts = pad_prompts(tok, ["Mia has 3 boxes.\n", "Hi\n"])
  assert prompts[1, 0] == tok.pad and list(prompts[0]) == tok.encode("Mia has 3 boxes.\n")
  assert tok.decode(prompts[1]) == "Hi\n"
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
  with pytest.raises(ValueError, match="specials pad=0, bos=1 differ from the model's pad_id=-1"):
    sampling.generate(graphdef, params, prompts, jax.random.key(0), max_new=4,
                      specials=VOCAB.specials)


@pytest.fixture(scope="module")
def memorizer(hf_dir):
  """(tokenizer, Model, problems): the tiny BPE model fine-tuned until it writes the reference
  solutions of two Countdown problems (no pad token, as Qwen2's)."""
  tok = HFTokenizer.from_dir(hf_dir)
  cfg, graphdef, params = hf.load(hf_dir, specials=tok.specials)
  task = Countdown(trap_share=0.0)
  problems = task.sample(np.random.default_rng(3), 2, 1)
  examples = [(p.prompt, reference_completion(task, p)) for p in problems] * 4
  params, _, metrics = sft.finetune(graphdef, params, examples, tok, cfg,
                                    mesh_lib.make_mesh(mesh_lib.MeshConfig()),
                                    optim={"lr": 1e-2, "warmup_steps": 5}, steps=100,
                                    batch_size=8, seq_len=48, seed=0)
  assert metrics["token_accuracy"] == 1.0
  return tok, Model(graphdef, params, cfg, tok), task, problems


def test_answer_lines_and_step_ends_in_a_bpe_vocabulary(hf_dir):
  tok = HFTokenizer.from_dir(hf_dir)
  ids = answer_ids(tok)
  assert tok.encode("ANSWER: 12\n")[:len(ids)] == list(ids)
  assert len(tok.decode(ids)) >= len("ANSWER") and len(tok.decode(ids[:-1])) < len("ANSWER")
  assert answer_ids(VOCAB) == tuple(VOCAB.encode("ANSWER: "))  # one word token
  assert line_end(tok) in tok.specials.step_ends and line_end(VOCAB) == VOCAB.newline
  row = np.array([tok.pad] * 3 + tok.encode("countdown 1 2 to 3\n"))
  assert tok.decode(row) == tok.decode(strip_left_pad(row, tok.pad)) == "countdown 1 2 to 3\n"
  # A prompt that holds the EOS id (a chat template's end of turn): the completion after it.
  prompt = "system\n" + tok._tok.id_to_token(tok.eos) + "countdown 1 2 to 3\n"
  row = np.concatenate([pad_prompts(tok, [prompt], 24)[0], tok.encode("1+2=3\n")])
  assert tok.eos in row and completion_of(tok, row, prompt) == "1+2=3\n"


def test_mcts_rstar_and_the_self_play_judge_on_a_bpe_model(memorizer):
  """The searchers find answer lines and EOS by the tokenizer's ids: a model that knows the
  solutions ends each search at its answer line, and the judge reads the rows back."""
  tok, model, task, problems = memorizer
  prompts = [p.prompt for p in problems]
  out = mcts.mcts(model, model, prompts, jax.random.key(0), num_candidates=2, num_simulations=4,
                  max_moves=5, step_tokens=12)
  assert out.completions == [reference_completion(task, p) for p in problems]
  found = rstar.rstar(model, model, model, prompts, jax.random.key(1), num_candidates=2,
                      num_simulations=3, step_tokens=12, finish_tokens=24, value="value")
  assert found.mutual.completions == out.completions and found.consistent == [[True], [True]]
  with pytest.raises(ValueError, match="mcts: the evaluator reads another vocabulary"):
    mcts.mcts(model, Model(model.graphdef, model.params, model.cfg, VOCAB), prompts,
              jax.random.key(0))
  judge = exit_lib.make_judge(task, problems, tok)
  rows = pad_prompts(tok, [p + c for p, c in zip(prompts, out.completions)] + [prompts[0]], 40)
  verdicts = judge(rows)
  assert verdicts[:2].tolist() == [1.0, 1.0] and np.isnan(verdicts[2])  # unfinished: NaN


_config = tiny_config


def _records(path) -> list[dict]:
  return [json.loads(x) for x in path.read_text().splitlines()]


def _methods(path) -> set[str]:
  return {r["method"] for r in _records(path)}


@pytest.mark.slow
def test_every_entrypoint_on_a_math_jsonl_file_with_a_hugging_face_model(tmp_path, hf_dir):
  from experiments import (best_of_n, distill, expert_iteration, revision, rl, rstar,
                           search, sft, star, verifier as verifier_exp)
  result = sft.run(_config("configs/hf_sft.py", **{"model.path": hf_dir}), str(tmp_path / "sft"))
  losses = [r["loss"] for r in _records(tmp_path / "sft" / "metrics.jsonl") if "loss" in r]
  assert len(losses) == 3 and losses[-1] < losses[0]
  assert (tmp_path / "sft" / "plots" / "learning_curve.png").exists()
  # The run reloads as a Hugging Face model with its tokenizer.
  vocab, _, cfg, _, params, _ = runs_lib.load_sft(str(tmp_path / "sft"))
  assert isinstance(vocab, HFTokenizer) and cfg.pad_id == vocab.pad == NOT_A_TOKEN
  for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(result["params"])):
    np.testing.assert_array_equal(a, b)
  sft_dir = str(tmp_path / "sft")

  out = rl.run(_config("configs/hf_rl.py", init_from=sft_dir), str(tmp_path / "rl"))
  assert out["metrics"]["step"] == 2 and "greedy/d1" in out["metrics"]
  records = _records(tmp_path / "rl" / "metrics.jsonl")
  assert [r["step"] for r in records if "kl" in r] == [1, 2]
  assert all(np.isfinite(r["loss"]) for r in records if "loss" in r)
  # On-policy distillation of the SFT run (LoRA) from the base model it started from.
  out = distill.run(_config("configs/hf_distill.py", init_from=sft_dir, teacher=hf_dir,
                            **{"lora.rank": 2}), str(tmp_path / "distill"))
  assert out["metrics"]["step"] == 2 and "greedy/d1" in out["metrics"]
  records = [r for r in _records(tmp_path / "distill" / "metrics.jsonl") if "loss" in r]
  assert [r["step"] for r in records] == [1, 2]
  assert all(np.isfinite(r["loss"]) and r["reverse_kl"] > 0 for r in records)

  config = _config("configs/hf_verifier.py", init_from=sft_dir)
  with pytest.raises(ValueError, match="no per-step oracle.*labels=mc"):
    verifier_exp.run(dict_copy(config, labels="oracle"), str(tmp_path / "bad"))
  out = verifier_exp.run(config, str(tmp_path / "prm"))
  assert "auc/step" not in out["metrics"] and "auc/outcome_min" in out["metrics"]
  prm = str(tmp_path / "prm")
  # RL against the learned reward: the PRM's score is optimized, the exact verdict logged.
  rl.run(_config("configs/hf_rl.py", init_from=sft_dir, **{"reward.model": prm}),
         str(tmp_path / "rl_prm"))
  records = [r for r in _records(tmp_path / "rl_prm" / "metrics.jsonl") if "reward" in r]
  assert len(records) == 2
  assert all(0 <= r["reward"] <= 1 and 0 <= r["pass_rate"] <= 1 and np.isfinite(r["kl_start"])
             for r in records)
  # Dense step rewards through the BPE tokenizer: each step's score on the token that closes it.
  rl.run(_config("configs/hf_rl.py", init_from=sft_dir,
                 **{"reward.model": prm, "reward.dense": True}), str(tmp_path / "rl_dense"))
  records = [r for r in _records(tmp_path / "rl_dense" / "metrics.jsonl") if "reward" in r]
  assert len(records) == 2 and all(r["reward"] >= 0 and np.isfinite(r["pg_loss"])
                                   for r in records)

  search.run(_config("configs/hf_search.py", policy=sft_dir, prm=prm), str(tmp_path / "search"))
  assert {"best-of-2 majority", "best-of-2 PRM weighted", "beam N=2", "lookahead1 N=2",
          "MCTS sims=2"} <= _methods(tmp_path / "search" / "results.jsonl")
  assert (tmp_path / "search" / "plots" / "search_scaling.png").exists()
  best_of_n.run(_config("configs/hf_bon.py", policy=sft_dir, orm=prm, prm=prm),
                str(tmp_path / "bon"))
  assert (tmp_path / "bon" / "plots" / "best_of_n.png").exists()
  rstar.run(_config("configs/hf_rstar.py", generator=sft_dir, prm=prm, discriminator=sft_dir),
            str(tmp_path / "rstar"))
  assert (tmp_path / "rstar" / "plots" / "rstar_scaling.png").exists()
  for name, module in (("star", star), ("expert_iteration", expert_iteration)):
    out = module.run(_config(f"configs/hf_{name}.py", init_from=sft_dir), str(tmp_path / name))
    assert out["metrics"]["step"] == 1 and "greedy/d1" in out["metrics"]

  out = revision.run(_config("configs/hf_revision.py", init_from=sft_dir, prm=prm),
                     str(tmp_path / "revision"))
  assert out["pool"]["correct"].shape == (2, 2, 2)  # problems, chains, attempts
  assert {r["method"] for r in out["records"]} >= {"N=1 L=1", "N=2 L=2"}


@pytest.mark.slow
def test_every_entrypoint_on_countdown_through_a_bpe_tokenizer(tmp_path, hf_dir):
  """Countdown's prompts and solutions through the model's tokenizer: the oracle's step labels
  train the PRM, and RL starts from the base model directory itself (the TinyZero set-up)."""
  from experiments import (best_of_n, critic, expert_iteration, rl, rstar, search, sft,
                           star, verifier as verifier_exp)
  def countdown(path, **changes):
    config = _config(path, **changes)
    config.task = ConfigDict({"name": "countdown", "trap_share": 0.1})
    return config
  # SFT with LoRA: every later stage reads the merged parameters.
  result = sft.run(countdown("configs/hf_sft.py", **{"model.path": hf_dir, "steps": 1,
                                                     "eval_every": 1, "lora.rank": 2}),
                   str(tmp_path / "sft"))
  sft_dir = str(tmp_path / "sft")
  loaded = runs_lib.load_sft(sft_dir)[4]
  for a, b in zip(jax.tree.leaves(loaded), jax.tree.leaves(result["params"])):
    np.testing.assert_allclose(a, b, atol=1e-6)
  out = verifier_exp.run(countdown("configs/hf_verifier.py", init_from=sft_dir, labels="oracle"),
                         str(tmp_path / "prm"))
  assert "auc/step" in out["metrics"]  # the oracle labels every step
  prm = str(tmp_path / "prm")
  # LoRA RL from the model directory; the run reloads merged and exports as a plain checkpoint.
  # The random model may solve nothing in two steps (then every advantage is zero): the entropy
  # bonus moves the adapters whatever the rewards.
  out = rl.run(_config("configs/hf_countdown_rl.py", init_from=hf_dir,
                       **{"lora.rank": 2, "rl.entropy_coef": 0.01}), str(tmp_path / "rl"))
  assert out["metrics"]["step"] == 2 and (tmp_path / "rl" / "plots" / "train_scaling.png").exists()
  assert json.loads((tmp_path / "rl" / "config.json").read_text())["task"]["template"].startswith(
      "Use the numbers")
  export = runpy.run_path("scripts/export_hf.py")["export"]
  _, _, cfg, graphdef, params, _ = runs_lib.load_sft(str(tmp_path / "rl"))
  base = hf.load(hf_dir, specials=HFTokenizer.from_dir(hf_dir).specials)[2]
  assert not np.allclose(params["block_0"]["mlp"]["up"]["kernel"],
                         base["block_0"]["mlp"]["up"]["kernel"])
  np.testing.assert_array_equal(params["embed"]["embedding"], base["embed"]["embedding"])
  export(str(tmp_path / "rl"), str(tmp_path / "exported"))
  tok = HFTokenizer.from_dir(str(tmp_path / "exported"))
  _, _, exported = hf.load(str(tmp_path / "exported"), specials=tok.specials)
  for a, b in zip(jax.tree.leaves(exported), jax.tree.leaves(params)):
    np.testing.assert_array_equal(a, b)
  search.run(countdown("configs/hf_search.py", policy=sft_dir, prm=prm), str(tmp_path / "search"))
  assert "MCTS sims=2" in _methods(tmp_path / "search" / "results.jsonl")
  best_of_n.run(countdown("configs/hf_bon.py", policy=sft_dir, orm=prm, prm=prm),
                str(tmp_path / "bon"))
  rstar.run(countdown("configs/hf_rstar.py", generator=sft_dir, prm=prm, discriminator=sft_dir),
            str(tmp_path / "rstar"))
  # The critic needs the step oracle: Countdown through the tokenizer gives it one.
  out = critic.run(_config("configs/hf_critic.py", init_from=sft_dir, prm=prm),
                   str(tmp_path / "critic"))
  assert any(k.endswith("critic/accuracy") for k in out["metrics"])
  assert any(k.endswith("prm_threshold/accuracy") for k in out["metrics"])
  # The critic's verdict as the RL reward, read through the tokenizer.
  rl.run(countdown("configs/hf_rl.py", init_from=sft_dir,
                   **{"reward.model": str(tmp_path / "critic")}), str(tmp_path / "rl_critic"))
  records = [r for r in _records(tmp_path / "rl_critic" / "metrics.jsonl") if "reward" in r]
  assert len(records) == 2 and all(0 <= r["reward"] <= 1 for r in records)
  out = star.run(countdown("configs/hf_star.py", init_from=sft_dir), str(tmp_path / "star"))
  assert out["metrics"]["step"] == 1
  # The (pi, z) targets: the search's candidates scored under the model, padded with its EOS id.
  out = expert_iteration.run(countdown("configs/hf_expert_iteration.py", init_from=sft_dir,
                                       target="policy"), str(tmp_path / "expert_iteration"))
  assert out["metrics"]["step"] == 1 and np.isfinite(out["metrics"]["train/loss"])


def dict_copy(config, **changes):
  config = config.copy_and_resolve_references()
  config.unlock()
  config.update(changes)
  return config


def test_a_verifier_on_another_vocabulary_is_a_clear_error(hf_dir):
  tok = HFTokenizer.from_dir(hf_dir)
  runs_lib.check_same_vocab(tok, HFTokenizer.from_dir(hf_dir), "config.prm", "config.policy")
  with pytest.raises(ValueError, match=r"config.prm: its model reads the character vocabulary, "
                                       r"but config.policy's reads .*tokenizer.json"):
    runs_lib.check_same_vocab(tok, VOCAB, "config.prm", "config.policy")


def test_quiet_star_on_a_hugging_face_model(tmp_path, hf_dir):
  """Quiet-STaR through the BPE tokenizer: two new ids for START and END, thoughts that never
  hold them, specials or the tokenizer's unused rows."""
  from experiments import quiet_star
  config = _config("configs/hf_quiet_star.py", init_from=hf_dir)
  summary = quiet_star.run(config, str(tmp_path))
  assert [row["arm"] for row in summary["arms"]] == ["m=2"]
  assert summary["base"]["flops"] > 0 and summary["arms"][0]["flops"] > summary["base"]["flops"]
  vocab = HFTokenizer.from_dir(hf_dir)
  _, model_cfg, _, _, _, never = quiet_star.base_model(config, jax.random.key(0))
  assert model_cfg.vocab_size == vocab.size + 2
  assert {vocab.eos, vocab.size, vocab.size + 1} <= set(never)
  with pytest.raises(ValueError, match="meta_init"):
    quiet_star.run(_config("configs/hf_quiet_star.py", init_from=hf_dir, meta_init=""),
                   str(tmp_path / "bad"))

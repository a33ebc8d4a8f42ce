"""Pulse tests: each entrypoint's run(config, workdir) on its tiny config, and flag errors."""

import json
import subprocess
import sys

import numpy as np
import pytest

from experiments import common, tasks_demo


def _config(path, variant="tiny"):
  import runpy
  return runpy.run_path(path)["get_config"](variant)


def test_tasks_demo_pulse(tmp_path, capsys):
  table = tasks_demo.run(_config("configs/tasks_demo.py"), str(tmp_path))
  assert json.loads((tmp_path / "tasks_table.json").read_text()) == table
  assert json.loads((tmp_path / "config.json").read_text())["seed"] == 0
  assert {k.split("/")[0] for k in table} == {"countdown", "arithmetic", "letters"}
  assert all(row["verified"] == 1.0 for row in table.values())
  out = capsys.readouterr().out
  assert "countdown/1" in out and "ANSWER:" in out


def test_unknown_config_field_is_a_clear_error():
  with pytest.raises(ValueError, match=r"--config.bogus: unknown field 'bogus'.*known fields: "):
    common.check_overrides(["--config", "configs/tasks_demo.py", "--config.bogus=1"])
  with pytest.raises(ValueError, match="no such config file"):
    common.check_overrides(["--config=configs/nope.py", "--config.seed=1"])
  common.check_overrides(["--config=configs/tasks_demo.py:tiny", "--config.seed=1"])  # fine
  with pytest.raises(ValueError, match="unknown variant 'huge'"):
    _config("configs/tasks_demo.py", "huge")


REPRODUCED = ["countdown_sft", "countdown_rl", "countdown_verifier", "countdown_bon",
              "countdown_search", "countdown_star", "countdown_expert_iteration", "countdown_rstar"]


@pytest.mark.parametrize("name", REPRODUCED)
def test_small_variant_shrinks_the_default_and_keeps_its_fields(name):
  """make reproduce SCALE=small: same fields (so the same flags work), same model, less work."""
  default, small = _config(f"configs/{name}.py", None), _config(f"configs/{name}.py", "small")
  d, s = common.flatten(default.to_dict()), common.flatten(small.to_dict())
  assert d.keys() == s.keys()
  assert {k: v for k, v in s.items() if k.startswith("model.")} == \
      {k: v for k, v in d.items() if k.startswith("model.")}
  changed = {k for k in d if d[k] != s[k]}
  assert changed, f"{name}: the small variant equals the default"
  for k in changed:
    if isinstance(d[k], (int, float)) and not isinstance(d[k], bool):
      assert s[k] <= d[k], f"{name}: small raises {k} from {d[k]} to {s[k]}"


def test_rerun_with_a_different_config_is_a_clear_error(tmp_path):
  config = _config("configs/countdown_sft.py")
  common.save_config(config, str(tmp_path))
  config.log_every, config.eval_every = 7, 11       # how the run is watched: fine to change
  common.save_config(config, str(tmp_path))
  config.optim.lr = 1.0
  config.steps = 5
  with pytest.raises(ValueError, match=r"config.json: this workdir holds a run with a different "
                                       r"config \(optim.lr: 0.002 -> 1.0, steps: 6 -> 5\)"):
    common.save_config(config, str(tmp_path))
  (tmp_path / "config.json").write_text("{trunc")
  with pytest.raises(ValueError, match="config.json: unreadable"):
    common.save_config(config, str(tmp_path))


def test_entrypoint_rejects_unknown_field_in_a_subprocess():
  proc = subprocess.run(
      [sys.executable, "-m", "experiments.tasks_demo", "--config", "configs/tasks_demo.py:tiny",
       "--config.trap_sahre=0.2"], capture_output=True, text=True, timeout=120)
  assert proc.returncode != 0
  assert "unknown field 'trap_sahre'" in proc.stderr


def _interrupt_then_rerun(monkeypatch, module, name, step_arg, at_step, config, workdir):
  """Runs `module.run` with `module.name` raising KeyboardInterrupt when its positional argument
  `step_arg` equals `at_step` (a simulated kill), then reruns the same command unpatched."""
  real = getattr(module, name)

  def crash(*args, **kwargs):
    if args[step_arg] == at_step:
      raise KeyboardInterrupt("simulated kill")
    return real(*args, **kwargs)

  monkeypatch.setattr(module, name, crash)
  with pytest.raises(KeyboardInterrupt):
    module.run(config, workdir)
  monkeypatch.setattr(module, name, real)
  return module.run(config, workdir)


def _tree_equal(a, b):
  import jax
  import numpy as np
  return all(np.array_equal(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


@pytest.mark.slow
def test_sft_pulse_resume_and_corrupt_checkpoint(tmp_path, monkeypatch):
  import os

  from experiments import sft
  config = _config("configs/countdown_sft.py")
  full = sft.run(config, str(tmp_path / "full"))
  lines = [json.loads(l) for l in (tmp_path / "full" / "metrics.jsonl").read_text().splitlines()]
  assert [r["step"] for r in lines if "loss" in r] == list(range(1, config.steps + 1))
  assert lines[-1]["train_flops"] > 0 and "greedy/d1" in lines[-1] and "pass@2/all" in lines[-1]
  assert (tmp_path / "full" / "plots" / "learning_curve.png").stat().st_size > 1000

  # Interrupt a second run after step 5 (a checkpoint exists at 4), then rerun the same command.
  resumed = _interrupt_then_rerun(monkeypatch, sft, "batch_at", 0, 5, config,
                                  str(tmp_path / "resumed"))
  assert _tree_equal(full["params"], resumed["params"])
  steps = [json.loads(l)["step"] for l in (tmp_path / "resumed" / "metrics.jsonl").read_text().splitlines()
           if "loss" in json.loads(l)]
  assert steps == list(range(1, config.steps + 1))  # no duplicated or lost lines

  # Corrupt every file of the latest checkpoint: a clear error naming it, not a silent restart.
  latest = tmp_path / "resumed" / "checkpoints" / str(config.steps)
  for root, _, files in os.walk(latest):
    for name in files:
      with open(os.path.join(root, name), "wb") as f:
        f.write(b"\x00garbage")
  with pytest.raises(ValueError, match=rf"checkpoint .*{latest.name}.* unreadable"):
    sft.run(config, str(tmp_path / "resumed"))


@pytest.mark.slow
@pytest.mark.parametrize("path", ["configs/arithmetic_sft.py", "configs/letters_sft.py"])
def test_sft_pulse_other_tasks(tmp_path, path):
  from experiments import sft
  config = _config(path)
  out = sft.run(config, str(tmp_path))
  assert config.task.name in (tmp_path / "config.json").read_text()
  assert 0.0 <= out["metrics"]["greedy/all"] <= 1.0
  assert (tmp_path / "plots" / "learning_curve.png").exists()


@pytest.fixture(scope="module")
def tiny_sft_run(tmp_path_factory):
  from experiments import sft
  workdir = tmp_path_factory.mktemp("sft")
  sft.run(_config("configs/countdown_sft.py"), str(workdir))
  return workdir


@pytest.mark.slow
@pytest.mark.parametrize("algo", ["grpo", "ppo"])
def test_rl_pulse_and_resume(tmp_path, tiny_sft_run, algo, monkeypatch):
  from experiments import rl
  config = _config("configs/countdown_rl.py")
  config.init_from = str(tiny_sft_run)
  config.rl.algo = algo
  config.abandoned_credit = 0.0 if algo == "ppo" else 1.0  # the retry-credit path runs too
  full = rl.run(config, str(tmp_path / "full"))
  records = [json.loads(l) for l in (tmp_path / "full" / "metrics.jsonl").read_text().splitlines()]
  train = [r for r in records if "reward" in r]
  assert [r["step"] for r in train] == [1, 2, 3]
  assert all(r["algo"] == algo and r["train_flops"] > 0 for r in records)
  flops = [r["train_flops"] for r in train]
  assert flops == sorted(flops) and len(set(flops)) == 3
  assert "greedy/d1" in records[0] and records[0]["step"] == 0  # the SFT starting point
  assert (tmp_path / "full" / "plots" / "train_scaling.png").stat().st_size > 1000
  if algo == "ppo":
    assert "value_loss" in train[0] and "explained_variance" in train[0]

  resumed = _interrupt_then_rerun(monkeypatch, rl, "sample_step_problems", 2, 2, config,
                                  str(tmp_path / "resumed"))
  assert _tree_equal(full["params"], resumed["params"])


def test_rl_needs_an_sft_workdir(tmp_path):
  from experiments import rl
  config = _config("configs/countdown_rl.py")
  config.init_from = str(tmp_path / "nothing")
  with pytest.raises(ValueError, match="no config.json there"):
    rl.run(config, str(tmp_path / "rl"))


def test_rl_names_a_bad_setting(tmp_path, tiny_sft_run):
  from experiments import rl
  config = _config("configs/countdown_rl.py")
  config.init_from = str(tiny_sft_run)
  config.temperature = 0.0
  with pytest.raises(ValueError, match="temperature=0.0: the rollout temperature"):
    rl.run(config, str(tmp_path / "greedy"))
  config.temperature = 1.0
  config.illegal_penalty = 0.5
  config.task.name = "letters"
  with pytest.raises(ValueError, match="illegal_penalty=0.5: task letters has no has_illegal_step"):
    rl.run(config, str(tmp_path / "letters"))


@pytest.fixture(scope="module")
def tiny_verifier_runs(tmp_path_factory, tiny_sft_run):
  """{(kind, labels): (workdir, run output)} of tiny ORM/PRM runs, shared with best-of-N."""
  from experiments import verifier
  runs = {}
  for kind, labels in [("prm", "oracle"), ("prm", "mc"), ("orm", "oracle")]:
    config = _config("configs/countdown_verifier.py")
    config.init_from = str(tiny_sft_run)
    config.kind, config.labels = kind, labels
    if (kind, labels) == ("prm", "oracle"):
      config.synthetic_problems = 3  # and 3 x 2 flawed attempts made by the task
      config.synthetic_per_problem = 2
    workdir = tmp_path_factory.mktemp(f"{kind}_{labels}")
    runs[kind, labels] = (workdir, verifier.run(config, str(workdir)))
  return runs


def test_verifier_synthetic_attempts_need_a_task_that_makes_them(tmp_path, tiny_sft_run):
  from experiments import verifier
  config = _config("configs/countdown_verifier.py")
  config.init_from = str(tiny_sft_run)
  config.synthetic_problems = 3
  config.labels = "mc"
  with pytest.raises(ValueError, match="labels='mc'"):
    verifier.run(config, str(tmp_path / "mc"))
  config.labels = "oracle"
  config.task.name = "letters"
  with pytest.raises(ValueError, match="task letters has no flawed_solution"):
    verifier.run(config, str(tmp_path / "letters"))


def test_step_auc_by_difficulty_by_hand():
  from experiments import verifier
  # d1: first steps ranked perfectly (0.9 good > 0.2 bad), later steps inverted; d2: one class.
  out = verifier.step_auc_by_difficulty(
      [1, 1, 2, 1], [[0.9, 0.1], [0.2, 0.8], [0.5], []], [[1, 1], [0, 0], [1], []])
  assert out["auc/first_step_d1"] == 1.0
  # all d1 steps: positives 0.9, 0.1; negatives 0.2, 0.8 -> pairs won 2 of 4
  assert out["auc/step_d1"] == 0.5
  assert np.isnan(out["auc/step_d2"]) and np.isnan(out["auc/first_step_d2"])


@pytest.mark.slow
@pytest.mark.parametrize("kind,labels", [("prm", "oracle"), ("prm", "mc"), ("orm", "oracle")])
def test_verifier_pulse(tiny_verifier_runs, kind, labels):
  tmp_path, out = tiny_verifier_runs[kind, labels]
  m = out["metrics"]
  if kind == "prm":
    assert {"auc/step", "auc/outcome_min", "auc/outcome_prod", "auc/outcome_last",
            "auc/outcome_mean"} <= set(m)
    if labels == "oracle":
      assert {"auc/step_d1", "auc/first_step_d1", "auc/step_d3"} <= set(m)
  else:
    assert "auc/outcome_orm" in m
  records = [json.loads(l) for l in (tmp_path / "metrics.jsonl").read_text().splitlines()]
  assert [r["step"] for r in records if "loss" in r] == [1, 2, 3, 4]
  assert (tmp_path / "checkpoints" / "4").exists()
  if (kind, labels) == ("prm", "oracle"):
    assert out["data_size"] == 8 * 2 + 3 * 2  # policy samples + synthetic attempts


@pytest.mark.slow
def test_best_of_n_pulse(tmp_path, tiny_sft_run, tiny_verifier_runs):
  from experiments import best_of_n
  config = _config("configs/countdown_bon.py")
  config.policy = str(tiny_sft_run)
  config.orm = str(tiny_verifier_runs["orm", "oracle"][0])
  config.prm = str(tiny_verifier_runs["prm", "oracle"][0])
  out = best_of_n.run(config, str(tmp_path / "bon"))
  assert set(out["curves"]) == {1, 2, 3}
  assert set(out["curves"][1]) == {m[0] for m in best_of_n.METHODS}
  assert [p[0] for p in out["curves"][1]["majority"]] == [1, 2, 4]
  records = [json.loads(l) for l in (tmp_path / "bon" / "metrics.jsonl").read_text().splitlines()]
  assert len(records) == 3 * 5 * 3 and all(0 <= r["accuracy"] <= 1 for r in records)
  flops = {r["step"]: r["test_flops"] for r in records if r["method"] == "PRM best"}
  assert flops[4] == pytest.approx(4 * flops[1])
  assert (tmp_path / "bon" / "plots" / "best_of_n.png").stat().st_size > 1000


def test_rl_curriculum_prefers_difficulties_near_half_pass_rate():
  from experiments import common, rl
  config = _config("configs/countdown_rl.py")
  config.prompts_per_step = 400
  config.train_difficulties = "1,2"
  task = common.make_task(config)
  rates = {"1": 0.95, "2": 0.5}
  config.curriculum = False
  uniform = [p.difficulty for p in rl.sample_step_problems(config, task, 0, rates, set())]
  config.curriculum = True
  tilted = [p.difficulty for p in rl.sample_step_problems(config, task, 0, rates, set())]
  # weights p(1-p) + 0.02: 0.0675 vs 0.27 -> 20% vs 80%
  assert 0.4 < uniform.count(1) / 400 < 0.6
  assert 0.13 < tilted.count(1) / 400 < 0.27
  held = {tilted_problem.prompt for tilted_problem in
          rl.sample_step_problems(config, task, 0, rates, set())[:50]}
  again = rl.sample_step_problems(config, task, 0, rates, held)  # held-out prompts are skipped
  assert held.isdisjoint({p.prompt for p in again})
  assert rl.training_task(config, task) is task  # train_trap_share unset: the task's 10%
  config.train_trap_share = 0.5
  traps = [p.is_trap for p in rl.sample_step_problems(config, rl.training_task(config, task), 0,
                                                      rates, set())]
  assert 0.4 < np.mean(traps) < 0.6 and task.trap_share == 0.1


@pytest.mark.slow
def test_search_pulse_and_resume(tmp_path, tiny_sft_run, monkeypatch):
  from experiments import search
  config = _config("configs/countdown_search.py")
  # Any checkpoint of the model class serves as a (here untrained) PRM.
  config.policy = config.prm = str(tiny_sft_run)
  out = search.run(config, str(tmp_path))
  methods = [json.loads(l)["method"] for l in (tmp_path / "results.jsonl").read_text().splitlines()]
  assert methods == ["_pool", "best-of-1 majority", "best-of-1 PRM weighted", "best-of-2 majority",
                     "best-of-2 PRM weighted", "beam N=2", "lookahead1 N=2", "MCTS sims=2"]
  assert set(out["curves"]) == {"d1", "d2", "all"}
  assert "all, binned by pass rate" in out["summary"]
  assert set(out["curves"]["all"]) == {"best-of-N majority", "best-of-N PRM weighted",
                                       "beam (PRM)", "lookahead k=1", "MCTS (mctx, K=2)"}
  for points in out["curves"]["all"].values():
    assert all(p[0] > 0 and 0 <= p[1] <= 1 for p in points)
  assert (tmp_path / "plots" / "search_scaling.png").stat().st_size > 1000
  # Rerunning resumes: no method runs again.
  monkeypatch.setattr(search.beam, "beam_search", lambda *a, **k: 1 / 0)
  monkeypatch.setattr(search.mcts, "mcts", lambda *a, **k: 1 / 0)
  again = search.run(config, str(tmp_path))
  assert again["summary"] == out["summary"]


def test_rl_rewards_penalize_malformed_and_false_none():
  from experiments import rl
  from reasoning.tasks import get_task
  task = get_task("countdown")
  solvable = task.make_problem([3, 8, 5], 29, 1)
  trap = task.make_problem([1, 1, 1], 97, 1)
  assert trap.is_trap and not solvable.is_trap
  problems = [solvable, solvable, solvable, trap, solvable]
  completions = ["8*3=24\n24+5=29\nANSWER: 29\n", "garbage", "ANSWER: none\n", "ANSWER: none\n",
                 "8+3=11\n11+5=16\nANSWER: 16\n"]
  assert rl.rewards_of(task, problems, completions, 0.5, 0.25).tolist() == [1.0, -0.5, -0.25, 1.0, 0.0]
  assert rl.rewards_of(task, problems, completions, 0.0).tolist() == [1.0, 0.0, 0.0, 1.0, 0.0]
  # The process reward: a correct attempt gets the whole bonus, a dead-end first step none of
  # it, a good first step then a dead end a third (1 of 3 lines good).
  more = ["8*5=40\n40-3=37\nANSWER: 29\n", "8*3=24\n24*5=120\nANSWER: 29\n"]
  shaped = rl.rewards_of(task, problems + [solvable] * 2, completions + more, 0.5, 0.25, 0.3)
  np.testing.assert_allclose(shaped, [1.3, -0.5, -0.25, 1.3, 0.0, 0.0, 0.1], atol=1e-6)
  # The illegal-step penalty: a fudged last step (11+5 is not 29), a number not in the pool, an
  # illegal step in an abandoned attempt; not an honest miss, a legal retry or a correct answer.
  fudged = ["8+3=11\n11+5=29\nANSWER: 29\n", "8*4=32\n32-3=29\nANSWER: 29\n",
            "8+3=12\nretry\n8*3=24\n24+5=29\nANSWER: 29\n",
            "8+3=11\n11+5=16\nretry\n8*3=24\n24+5=29\nANSWER: 29\n",
            "8+3=11\n11+5=16\nANSWER: 16\n"]
  np.testing.assert_allclose(rl.rewards_of(task, [solvable] * 5, fudged, 0.5, 0.25, 0.0, 0.4),
                             [-0.4, -0.4, -0.4, 1.0, 0.0], atol=1e-6)


def test_sft_retry_examples_train_on_all_but_the_dead_end_moves():
  from experiments import sft
  from reasoning.tasks import get_task, reference_completion
  from reasoning.text import VOCAB, pad_examples
  task = get_task("countdown")
  rng = np.random.default_rng(0)
  retried = 0
  for p in task.sample(np.random.default_rng(1), 40, 2):
    c = reference_completion(task, p, rng)
    pieces = sft.with_failed_attempts(task, p, c, rng, 2, 1.0)
    text = "".join(t for t, _ in pieces)
    if p.is_trap:
      assert pieces == [(c, True)]
      continue
    retried += 1
    assert text.endswith("retry\n" + c) and task.verify(p, text) == 1.0
    attempts = text[:-len(c)].split("retry\n")[:-1]
    assert 1 <= len(attempts) <= 2 and len(set(attempts)) == len(attempts)
    lines = text.rstrip("\n").split("\n")
    labels = task.step_labels(p, lines)
    # Untrained: exactly the first dead-end line of each failed attempt.
    untrained = [t.rstrip("\n") for t, w in pieces if not w]
    assert len(untrained) == len(attempts)
    assert all(labels[lines.index(u)] == 0 for u in untrained)
    tokens, mask = pad_examples(VOCAB, [p.prompt], [pieces], 128)
    head = 1 + len(VOCAB.encode(p.prompt))
    assert mask[0, :head].sum() == 0
    assert mask[0].sum() == 1 + len(VOCAB.encode(text)) - sum(
        len(VOCAB.encode(u + "\n")) for u in untrained)
  assert retried > 20
  p = task.sample(np.random.default_rng(2), 1, 1)[0]
  assert sft.with_failed_attempts(task, p, "x", rng, 2, 0.0) == [("x", True)]
  # The policy's own miss always makes a retry example, and comes first.
  p = task.make_problem([2, 3, 4], 20, difficulty=1)
  own = ["3*4=12", "12+2=14"]
  assert task.is_miss(p, own) and not task.is_miss(p, ["3+2=5", "5*4=20"])
  assert not task.is_miss(p, ["3*4=12"]) and not task.is_miss(p, ["3*4=13", "13+2=15"])
  for _ in range(5):
    pieces = sft.with_failed_attempts(task, p, "3+2=5\n5*4=20\nANSWER: 20\n", rng, 2, 0.0, own)
    assert pieces[:3] == [("3*4=12\n", False), ("12+2=14\n", True), ("retry\n", True)]
    assert task.verify(p, "".join(t for t, _ in pieces)) == 1.0
    assert "".join(t for t, _ in pieces).count("retry") <= 2


@pytest.mark.parametrize("variant, marker", [("probes", "?"), ("search", "retry"),
                                             ("attempts", "retry"), ("goals", "!")])
def test_sft_trace_variants_train_on_the_written_search(variant, marker):
  from experiments import sft
  from reasoning.tasks import get_task
  from reasoning.text import VOCAB
  config = _config("configs/countdown_sft.py", variant)
  config.train_problems, config.eval_problems = 60, 4
  _, pools = sft.build_data(config, get_task("countdown"), VOCAB)
  token = VOCAB.encode(marker)[0]
  for tokens, loss_mask in pools[1:] if variant == "goals" else pools:  # (goals: d1 is plain)
    # the search's lines are trained targets
    assert ((tokens == token) & (loss_mask > 0)).sum() > 60
  if variant in ("attempts", "goals"):  # d2 problems whose search would be long are dropped
    assert len(pools[1][0]) < len(pools[0][0]) - 5
  config.retries = 1
  with pytest.raises(ValueError, match="and config.retries are two trace formats"):
    sft.run(config, "/nonexistent")
  config.retries, config.solutions = 0, "bogus"
  with pytest.raises(ValueError, match="config.solutions must be"):
    sft.run(config, "/nonexistent")


def test_sft_give_up_examples_try_before_declaring_a_trap():
  from experiments import sft
  from reasoning.tasks import get_task, reference_completion
  task = get_task("countdown", trap_share=0.5)
  rng = np.random.default_rng(0)
  seen = {True: 0, False: 0}
  for p in task.sample(np.random.default_rng(3), 60, 2):
    c = reference_completion(task, p, rng)
    pieces = sft.with_failed_attempts(task, p, c, rng, 2, 1.0, None, give_up=True)
    text = "".join(t for t, _ in pieces)
    assert task.verify(p, text) == 1.0
    seen[p.is_trap] += 1
    if p.is_trap:  # exactly two legal misses, every line trained, then none
      assert text.count("retry\n") == 1 and text.endswith("\nANSWER: none\n")
      assert all(w for _, w in pieces)
    else:  # fewer misses than a trap shows
      assert text.count("retry\n") == 1 and text.endswith("retry\n" + c)
  assert min(seen.values()) > 10


def test_rl_abandoned_mask_covers_the_attempts_before_the_last_retry():
  from experiments import rl
  from reasoning.text import VOCAB
  texts = ["8+3=11\n11+5=16\nretry\n8*3=24\n24+5=29\nANSWER: 29\n",
           "8*3=24\n24+5=29\nANSWER: 29\n",
           "retry\n8*3=24\nretry\n8*3=24\n24+5=29\nANSWER: 29\n"]
  rows = [VOCAB.encode(t) + [VOCAB.eos] for t in texts]
  lengths = np.array([len(r) for r in rows])
  tokens = np.zeros((3, lengths.max()), np.int32)
  for b, r in enumerate(rows):
    tokens[b, :len(r)] = r
  mask = rl.abandoned_mask(VOCAB, tokens, lengths)
  for b, text in enumerate(texts):
    cut = text.rfind("retry\n")
    expected = len(VOCAB.encode(text[:cut])) if cut >= 0 else 0
    assert mask[b].tolist() == [True] * expected + [False] * (tokens.shape[1] - expected), b
  assert mask[0].sum() == len(VOCAB.encode("8+3=11\n11+5=16\n"))


@pytest.mark.slow
def test_reproduce_smoke_scale_draws_every_figure(tmp_path):
  """scripts/reproduce.sh end to end on the :tiny configs (make reproduce's chain, small)."""
  import os
  env = dict(os.environ, SCALE="smoke", PY=sys.executable)
  proc = subprocess.run(["bash", "scripts/reproduce.sh", str(tmp_path)], capture_output=True,
                        text=True, env=env, timeout=900)
  assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
  figures = sorted(p.name for p in (tmp_path / "figures").iterdir())
  assert figures == ["countdown_best_of_n.png", "countdown_rstar.png", "countdown_search_scaling.png",
                     "countdown_self_improvement.png", "countdown_sft_learning_curve.png",
                     "countdown_train_scaling.png"]
  assert all((tmp_path / "figures" / f).stat().st_size > 1000 for f in figures)


@pytest.mark.slow
def test_star_pulse_and_resume_after_a_kill(tmp_path, tiny_sft_run, monkeypatch):
  from experiments import star as star_exp
  from reasoning.tasks import reference_completion
  config = _config("configs/countdown_star.py")
  config.init_from = str(tiny_sft_run)
  real_collect = star_exp.star.collect
  calls, seen = [], []

  def collect(generate, task, problems, **kwargs):
    """The real round, plus two oracle rationales: the tiny policy verifies nothing itself, and
    the fine-tune must still run. Raises on `calls[0]`-th call (a simulated kill)."""
    calls.append(len(calls))
    seen.append({p.prompt for p in problems})
    if kill_at and len(calls) == kill_at:
      raise KeyboardInterrupt("simulated kill")
    got = real_collect(generate, task, problems, **kwargs)
    got.examples += [(p.prompt, reference_completion(task, p)) for p in problems[:2]]
    return got

  monkeypatch.setattr(star_exp.star, "collect", collect)
  kill_at = 0
  full = star_exp.run(config, str(tmp_path / "full"))
  records = [json.loads(l) for l in (tmp_path / "full" / "metrics.jsonl").read_text().splitlines()]
  assert [r["step"] for r in records] == [0, 1, 2]
  flops = [r["train_flops"] for r in records]
  assert flops[0] > 0 and flops == sorted(flops) and len(set(flops)) == 3
  assert all(r["finetune_steps"] >= 2 and r["examples"] >= 2 for r in records[1:])
  # The default config draws fresh problems each iteration and fine-tunes on the union of all
  # iterations' examples: iteration 2 sees new problems and keeps iteration 1's examples.
  assert config.fresh_problems and config.accumulate and not seen[0] & seen[1]
  assert records[2]["examples"] > records[1]["examples"]
  assert (tmp_path / "full" / "plots" / "train_scaling.png").stat().st_size > 1000

  calls.clear()
  kill_at = 2  # killed while collecting iteration 2's data; iteration 1 is checkpointed
  with pytest.raises(KeyboardInterrupt):
    star_exp.run(config, str(tmp_path / "resumed"))
  kill_at = 0
  resumed = star_exp.run(config, str(tmp_path / "resumed"))
  assert len(calls) == 3  # the rerun collected only iteration 2's data
  assert _tree_equal(full["params"], resumed["params"])
  again = [json.loads(l) for l in (tmp_path / "resumed" / "metrics.jsonl").read_text().splitlines()]
  untimed = lambda rs: [{k: v for k, v in r.items() if k != "time"} for r in rs]
  assert untimed(again) == untimed(records)


@pytest.mark.slow
@pytest.mark.parametrize("target", ["policy", "sft"])
def test_expert_iteration_pulse_and_resume_after_a_kill(tmp_path, tiny_sft_run, target,
                                                       monkeypatch):
  from experiments import expert_iteration as exit_exp
  config = _config("configs/countdown_expert_iteration.py")
  config.init_from = str(tiny_sft_run)
  config.target = target
  full = exit_exp.run(config, str(tmp_path / "full"))
  records = [json.loads(l) for l in (tmp_path / "full" / "metrics.jsonl").read_text().splitlines()]
  assert [r["step"] for r in records] == [0, 1, 2]
  assert all(r["search_flops"] > 0 and 0 <= r["search_solved"] <= 1 for r in records[1:])
  flops = [r["train_flops"] for r in records]
  assert flops == sorted(flops) and len(set(flops)) == 3
  if target == "policy":  # the tiny policy's searches still leave (pi, z) rows to learn from
    assert all(r["examples"] > 0 and r["train_steps"] > 0 for r in records[1:])
    assert all(r["train/target_entropy"] >= 0 for r in records[1:])
  assert (tmp_path / "full" / "plots" / "train_scaling.png").stat().st_size > 1000
  if target == "sft":
    return  # resuming does not depend on the target

  # Kill the second run in iteration 2's search (iteration 1 is checkpointed), rerun it.
  real, calls = exit_exp.search_round, []

  def search_round(*args):
    calls.append(1)
    if len(calls) == 2:
      raise KeyboardInterrupt("simulated kill")
    return real(*args)

  monkeypatch.setattr(exit_exp, "search_round", search_round)
  with pytest.raises(KeyboardInterrupt):
    exit_exp.run(config, str(tmp_path / "resumed"))
  resumed = exit_exp.run(config, str(tmp_path / "resumed"))
  assert len(calls) == 3  # the rerun searched only in iteration 2
  assert _tree_equal(full["params"], resumed["params"])


@pytest.mark.slow
def test_rstar_pulse_and_resume(tmp_path, tiny_sft_run, monkeypatch):
  from experiments import rstar as rstar_exp
  config = _config("configs/countdown_rstar.py")
  # Any checkpoint of the model class serves as PRM and discriminator here.
  config.generator = config.prm = config.discriminator = str(tiny_sft_run)
  out = rstar_exp.run(config, str(tmp_path))
  records = [json.loads(l) for l in (tmp_path / "results.jsonl").read_text().splitlines()]
  assert [r["sims"] for r in records] == [2, 3]
  for r in records:
    gen, mutual = r[rstar_exp.GENERATOR], r[rstar_exp.MUTUAL]
    assert set(gen) == {"all", "d1", "d2"} and 0 <= mutual["all"][1] <= 1
    assert mutual["all"][0] >= gen["all"][0] > 0  # the discriminator only adds compute
  assert set(out["summary"]) == {"all", "d1", "d2"}
  assert (tmp_path / "plots" / "rstar_scaling.png").stat().st_size > 1000
  monkeypatch.setattr(rstar_exp.rstar_lib, "rstar", lambda *a, **k: 1 / 0)
  assert rstar_exp.run(config, str(tmp_path))["summary"] == out["summary"]  # resumed: no search


def test_monte_carlo_continuations_fit_the_models_context(tiny_model, monkeypatch):
  """A long step prefix plus the full max_new would overflow model.max_len (128): the
  continuations are cut to the room left instead of failing (the default PRM with
  labels=mc crashed so on the default Countdown config)."""
  import jax
  import ml_collections
  from experiments import verifier as verifier_exp
  from reasoning.text import VOCAB
  cfg, graphdef, params = tiny_model
  seen, real = [], verifier_exp.evaluation.complete

  def spy(*args, **kwargs):
    texts, lengths = real(*args, **kwargs)
    seen.append((kwargs["prompt_len"], kwargs["max_new"], lengths))
    return texts, lengths

  monkeypatch.setattr(verifier_exp.evaluation, "complete", spy)
  config = ml_collections.ConfigDict({"max_new": 64})
  queries = ["countdown 3 8 5 to 29\n" + "8*3=24\n" * 14] * 2  # 109 tokens with BOS
  texts = verifier_exp._complete_from(VOCAB, graphdef, params, cfg.max_len, config,
                                      jax.random.key(0), 16, queries)
  [(prompt_len, max_new, lengths)] = seen
  assert len(texts) == 2 and prompt_len == 112 and max_new == 128 - 112
  assert lengths.max() <= max_new
  with pytest.raises(ValueError, match="leaves no room in model.max_len=128"):
    verifier_exp._complete_from(VOCAB, graphdef, params, cfg.max_len, config, jax.random.key(0),
                                16, ["x" * 130])

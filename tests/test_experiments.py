"""Pulse tests: each entrypoint's run(config, workdir) on its tiny config, and flag errors."""

import contextlib
import fnmatch
import json
import os
import re
import signal
import subprocess
import sys

import runpy
import shutil
import tempfile

import jax
import numpy as np
import pytest

from experiments import (best_of_n, cli, critic, expert_iteration, quiet_star, revision, rl, rstar,
                         search, sft, star, tasks_demo, verifier)
from reasoning import loop, rng, runs as runs_lib, sampling
from reasoning.checkpoint import Checkpointer
from reasoning.search import revision as search_revision
from reasoning.tasks import Countdown, reference_completion
from reasoning.text import VOCAB
from reasoning.train import (critic as critic_lib, pg, rl_loop, sft as sft_lib, sft_data,
                             state as state_lib, verifier_data)


def _config(path, variant="tiny", **changes):
  config = runpy.run_path(path)["get_config"](variant)
  config.update(changes)
  return config


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
    cli.check_overrides(["--config", "configs/tasks_demo.py", "--config.bogus=1"])
  with pytest.raises(ValueError, match="no such config file"):
    cli.check_overrides(["--config=configs/nope.py", "--config.seed=1"])
  cli.check_overrides(["--config=configs/tasks_demo.py:tiny", "--config.seed=1"])  # fine
  with pytest.raises(ValueError, match="unknown variant 'huge'"):
    _config("configs/tasks_demo.py", "huge")
  # Without overrides too: a missing file or an unknown variant is one line, not absl's traceback.
  with pytest.raises(ValueError, match="no such config file"):
    cli.check_overrides(["--config", "configs/nope.py"])
  with pytest.raises(ValueError, match=r"^--config: configs/tasks_demo.py: unknown variant 'huge'"):
    cli.check_overrides(["--config=configs/tasks_demo.py:huge"])


REPRODUCED = ["countdown_sft", "countdown_rl", "countdown_verifier", "countdown_bon",
              "countdown_search", "countdown_star", "countdown_expert_iteration", "countdown_rstar",
              "countdown_critic", "countdown_revision", "arithmetic_quiet_star"]


@pytest.mark.parametrize("name", REPRODUCED)
def test_small_variant_shrinks_the_default_and_keeps_its_fields(name):
  """make reproduce SCALE=small: same fields (so the same flags work), same model, less work."""
  default, small = _config(f"configs/{name}.py", None), _config(f"configs/{name}.py", "small")
  d, s = runs_lib.flatten(default.to_dict()), runs_lib.flatten(small.to_dict())
  assert d.keys() == s.keys()
  assert {k: v for k, v in s.items() if k.startswith("model.")} == \
      {k: v for k, v in d.items() if k.startswith("model.")}
  changed = {k for k in d if d[k] != s[k]}
  assert changed, f"{name}: the small variant equals the default"
  for k in changed:
    if isinstance(d[k], (int, float)) and not isinstance(d[k], bool):
      assert s[k] <= d[k], f"{name}: small raises {k} from {d[k]} to {s[k]}"


def test_evaluation_sets_never_hold_a_problem_the_sft_run_trained_on(tmp_path):
  """Countdown with 3 numbers has a small problem space: the held-out stream's later draws repeat
  the SFT run's training prompts. A stage's evaluation set skips them, and up to the SFT run's
  own held-out count it is that set, unchanged."""
  config = _config("configs/countdown_sft.py", None)
  config.train_problems, config.eval_problems = 3000, 20
  (tmp_path / "config.json").write_text(json.dumps(config.to_dict()))
  task = runs_lib.make_task(config)
  trained = runs_lib.trained_prompts(config.to_dict())
  assert 0 < len(trained) <= 2 * 3000
  own = runs_lib.held_out_problems(task, "1,2", 20, 0)
  assert not {p.prompt for p in own} & trained
  raw = runs_lib.held_out_problems(task, "1", 400, 0)
  assert sum(p.prompt in trained for p in raw) > 10            # what the skip guards against
  got = runs_lib.evaluation_set(task, str(tmp_path), "1,2", 400)
  assert len(got) == 800 and not {p.prompt for p in got} & trained
  assert [p.prompt for p in got[:20]] == [p.prompt for p in own[:20]]
  assert [p.prompt for p in got[400:420]] == [p.prompt for p in own[20:]]
  assert [p.prompt for p in runs_lib.evaluation_set(task, str(tmp_path), "2", 20)] == \
      [p.prompt for p in own[20:]]
  base = tmp_path / "hf"
  base.mkdir()
  (base / "config.json").write_text(json.dumps({"model_type": "qwen2"}))
  assert runs_lib.trained_prompts(runs_lib.load_sft_config(str(base))) == frozenset()


def test_rerun_with_a_different_config_is_a_clear_error(tmp_path):
  config = _config("configs/countdown_sft.py")
  runs_lib.save_config(config, str(tmp_path))
  config.log_every, config.eval_every = 7, 11       # how the run is watched: fine to change
  runs_lib.save_config(config, str(tmp_path))
  config.optim.lr = 1.0
  config.steps = 5
  with pytest.raises(ValueError, match=r"config.json: this workdir holds a run with a different "
                                       r"config \(optim.lr: 0.002 -> 1.0, steps: 6 -> 5\)"):
    runs_lib.save_config(config, str(tmp_path))
  (tmp_path / "config.json").write_text("{trunc")
  with pytest.raises(ValueError, match="config.json: unreadable"):
    runs_lib.save_config(config, str(tmp_path))
  # A config.json that records the tuple fields as comma strings is the same config.
  config = _config("configs/countdown_sft.py")
  recorded = json.loads(json.dumps(config.to_dict()))
  for field in ("train_difficulties", "eval_difficulties"):
    recorded[field] = ",".join(map(str, config[field]))  # (1, 2) as "1,2"
  (tmp_path / "config.json").write_text(json.dumps(recorded))
  runs_lib.save_config(config, str(tmp_path))  # and rewrites it with lists
  config.eval_difficulties = (1,)
  with pytest.raises(ValueError, match=r"eval_difficulties: \[1, 2, 3\] -> \[1\]"):
    runs_lib.save_config(config, str(tmp_path))


def test_entrypoint_rejects_unknown_field_in_a_subprocess():
  proc = subprocess.run(
      [sys.executable, "-m", "experiments.tasks_demo", "--config", "configs/tasks_demo.py:tiny",
       "--config.trap_sahre=0.2"], capture_output=True, text=True, timeout=120)
  assert proc.returncode != 0
  assert "unknown field 'trap_sahre'" in proc.stderr


def _interrupt_then_rerun(monkeypatch, entry, module, name, when, config, workdir):
  """Runs `entry.run` with `module.name` raising KeyboardInterrupt when `when(args)` holds for
  its positional arguments (a simulated kill), then reruns the same command unpatched."""
  real = getattr(module, name)

  def crash(*args, **kwargs):
    if when(args):
      raise KeyboardInterrupt("simulated kill")
    return real(*args, **kwargs)

  monkeypatch.setattr(module, name, crash)
  with pytest.raises(KeyboardInterrupt):
    entry.run(config, workdir)
  monkeypatch.setattr(module, name, real)
  return entry.run(config, workdir)


def common_vocab(workdir):
  return runs_lib.load_sft(str(workdir))[0]


def _tree_equal(a, b):
  return all(np.array_equal(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


@pytest.mark.slow
def test_sft_pulse_resume_and_corrupt_checkpoint(tmp_path, monkeypatch):

  config = _config("configs/countdown_sft.py")
  full = sft.run(config, str(tmp_path / "full"))
  lines = [json.loads(l) for l in (tmp_path / "full" / "metrics.jsonl").read_text().splitlines()]
  assert [r["step"] for r in lines if "loss" in r] == list(range(1, config.steps + 1))
  assert lines[-1]["train_flops"] > 0 and "greedy/d1" in lines[-1] and "pass@2/all" in lines[-1]
  assert (tmp_path / "full" / "plots" / "learning_curve.png").stat().st_size > 1000

  # Interrupt a second run after step 5 (a checkpoint exists at 4), then rerun the same command.
  resumed = _interrupt_then_rerun(monkeypatch, sft, sft_data, "batch_at", lambda a: a[0] == 5,
                                  config, str(tmp_path / "resumed"))
  assert _tree_equal(full["params"], resumed["params"])
  steps = [json.loads(l)["step"] for l in (tmp_path / "resumed" / "metrics.jsonl").read_text().splitlines()
           if "loss" in json.loads(l)]
  assert steps == list(range(1, config.steps + 1))  # no duplicated or lost lines

  # Corrupt every file of the latest checkpoint: reported and set aside, and the run resumes
  # from the previous one (step 4) to the same parameters, each step logged once.
  latest = tmp_path / "resumed" / "checkpoints" / str(config.steps)
  for root, _, files in os.walk(latest):
    for name in files:
      with open(os.path.join(root, name), "wb") as f:
        f.write(b"\x00garbage")
  again = sft.run(config, str(tmp_path / "resumed"))
  assert _tree_equal(full["params"], again["params"])
  assert (tmp_path / "resumed" / "checkpoints-corrupt" / str(config.steps)).exists()
  records = [json.loads(l) for l in (tmp_path / "resumed" / "metrics.jsonl").read_text().splitlines()]
  assert [r["step"] for r in records if "loss" in r] == list(range(1, config.steps + 1))
  assert [r["step"] for r in records if "pass@2/all" in r] == [config.steps]  # final eval once
  assert list((tmp_path / "resumed").glob("events.out.tfevents.*"))  # TensorBoard beside it


@pytest.mark.slow
def test_a_run_reading_a_corrupt_checkpoint_stops_in_one_line_and_moves_nothing(tmp_path):
  """RL from an SFT run whose latest checkpoint is unreadable: one line on standard error naming
  the checkpoint (none of orbax's reader-thread tracebacks), status 1, and the SFT run's files
  where they were."""
  sft.run(_config("configs/countdown_sft.py"), str(tmp_path / "sft"))
  steps = sorted(os.listdir(tmp_path / "sft" / "checkpoints"))
  with open(tmp_path / "sft" / "checkpoints" / "6" / "state" / "manifest.ocdbt", "wb"):
    pass  # emptied
  proc = subprocess.run([sys.executable, "-m", "experiments.rl", "--config",
                         "configs/countdown_rl.py:tiny", f"--config.init_from={tmp_path / 'sft'}",
                         f"--workdir={tmp_path / 'rl'}"], capture_output=True, text=True,
                        timeout=300)
  assert proc.returncode == 1
  assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("error: checkpoint "), (
      proc.stderr[-3000:])
  assert "rerunning the run in" in proc.stderr
  assert sorted(os.listdir(tmp_path / "sft" / "checkpoints")) == steps
  assert not (tmp_path / "sft" / "checkpoints-corrupt").exists()
  shutil.rmtree(tmp_path / "rl", ignore_errors=True)


def test_a_bad_workdir_is_one_clear_error(tmp_path):
  (tmp_path / "file").write_text("")
  with pytest.raises(ValueError, match="a file, not a directory"):
    cli.lock_workdir(str(tmp_path / "file"))
  with pytest.raises(ValueError, match="cannot be written"):
    cli.lock_workdir(str(tmp_path / "file" / "run"))


@pytest.mark.slow
def test_sft_resumed_after_a_kill_in_its_final_evaluation_writes_it_once(tmp_path, monkeypatch):
  """Killed after the last checkpoint, during the final evaluation: the rerun evaluates once."""
  config = _config("configs/countdown_sft.py")
  config.eval_every = 100  # no evaluation before the final one
  real = loop.evaluate
  monkeypatch.setattr(loop, "evaluate", lambda *a, **k: (_ for _ in ()).throw(
      KeyboardInterrupt("simulated kill")))
  with pytest.raises(KeyboardInterrupt):
    sft.run(config, str(tmp_path))
  monkeypatch.setattr(loop, "evaluate", real)
  out = sft.run(config, str(tmp_path))
  records = [json.loads(l) for l in (tmp_path / "metrics.jsonl").read_text().splitlines()]
  assert [r["step"] for r in records if "greedy/all" in r] == [config.steps]
  assert out["metrics"]["step"] == config.steps and "pass@2/all" in out["metrics"]
  again = sft.run(config, str(tmp_path))  # finished: reprinted, not recomputed
  assert again["metrics"] == out["metrics"]


def test_sft_with_a_huge_learning_rate_stops_before_a_non_finite_checkpoint(tmp_path):
  config = _config("configs/countdown_sft.py")
  config.optim.lr = 1e6
  with pytest.raises(loop.NonFinite, match=r"step \d+: \w+ = (nan|inf); stopped before"):
    sft.run(config, str(tmp_path))
  _, _, _, params = runs_lib.make_model(config.model, jax.random.key(0), load_weights=False)
  tx = state_lib.make_optimizer(state_lib.OptimConfig(total_steps=6, **config.optim))
  abstract = jax.eval_shape(lambda p: state_lib.create(p, tx), params)
  ckpt = Checkpointer(str(tmp_path / "checkpoints"), save_every=1)
  for step in ckpt._manager.all_steps():
    state, _ = ckpt.restore(abstract, step)
    assert all(np.isfinite(x).all() for x in jax.tree.leaves(state)), step
  ckpt.close()


@pytest.mark.slow
@pytest.mark.parametrize("path", ["configs/arithmetic_sft.py", "configs/letters_sft.py"])
def test_sft_pulse_other_tasks(tmp_path, path):
  config = _config(path)
  out = sft.run(config, str(tmp_path))
  assert config.task.name in (tmp_path / "config.json").read_text()
  assert 0.0 <= out["metrics"]["greedy/all"] <= 1.0
  assert (tmp_path / "plots" / "learning_curve.png").exists()


@pytest.fixture(scope="module")
def tiny_sft_run(tmp_path_factory):
  workdir = tmp_path_factory.mktemp("sft")
  sft.run(_config("configs/countdown_sft.py"), str(workdir))
  return workdir


@pytest.mark.slow
@pytest.mark.parametrize("algo", ["grpo", "ppo"])
def test_rl_pulse_and_resume(tmp_path, tiny_sft_run, algo, monkeypatch):
  """PPO with the retry-credit path; GRPO as DAPO (dynamic sampling, overlong shaping) sampled
  two steps off-policy with TIS and pipelined (step t+1 generated while step t trains), whose
  checkpoint carries the two samplers' parameters and the curriculum's rates the next prompts
  are drawn with."""
  config = _config("configs/countdown_rl.py")
  config.init_from = str(tiny_sft_run)
  config.rl.algo = algo
  config.abandoned_credit = 0.0 if algo == "ppo" else 1.0  # the retry-credit path runs too
  if algo == "grpo":
    config.update(dynamic_sampling=0.5, overlong_buffer=8, off_policy_steps=2, pipeline=True)
    config.rl.update(clip_eps_high=0.28, tis_cap=2.0)
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
  else:  # 6 groups sampled, the 4 wanted kept
    assert all(r["kept"] == pytest.approx(4 / 6) for r in train)
    assert runs_lib.load_sft(str(tmp_path / "full"))[5] == records[-1]["train_flops"]

  resumed = _interrupt_then_rerun(monkeypatch, rl, rng, "stream",
                                  lambda a: a[1:3] == ("rl_prompts", 2), config,
                                  str(tmp_path / "resumed"))
  assert _tree_equal(full["params"], resumed["params"])


@pytest.mark.slow
def test_coverage_resumes_a_stopped_run_with_the_same_samples(tmp_path, tiny_sft_run, monkeypatch,
                                                             capsys):
  """scripts/coverage.py keeps each finished batch of completions in OUT/samples: stopped after
  its first batch and run again, it decodes only the batches it lacks (reporting them as it
  goes) and writes what an uninterrupted run writes; a rerun with another --k is an error
  naming it."""
  main = runpy.run_path("scripts/coverage.py")["main"]
  def run(out, *extra):
    monkeypatch.setattr(sys, "argv", ["coverage.py", "--policy", str(tiny_sft_run), "--out",
                                      str(out), "--k", "4", "--problems", "50", "--bin_samples",
                                      "0", "--greedy", "--max_new", "24", *extra])
    main()
  run(tmp_path / "whole")
  real, calls = sampling.generate, []
  def stop_after_one(*args, **kwargs):
    if calls:
      raise RuntimeError("stopped")
    calls.append(1)
    return real(*args, **kwargs)
  monkeypatch.setattr(sampling, "generate", stop_after_one)
  with pytest.raises(RuntimeError, match="stopped"):
    run(tmp_path / "resumed")
  monkeypatch.setattr(sampling, "generate", lambda *a, **k: calls.append(2) or real(*a, **k))
  capsys.readouterr()
  run(tmp_path / "resumed")
  assert calls == [1, 2, 2]  # the pool's second batch of 256 rows, then the greedy batch
  assert "batch 2/2 |" in capsys.readouterr().err  # the pool's batches, the first one kept
  whole, resumed = (json.loads((tmp_path / d / "coverage.json").read_text())
                    for d in ("whole", "resumed"))
  assert len(whole["counts"]["pool"]) * 4 > 256 and resumed == whole
  with pytest.raises(SystemExit, match="--k=4, not 8"):
    run(tmp_path / "resumed", "--k", "8")


def test_rl_needs_an_sft_workdir(tmp_path):
  config = _config("configs/countdown_rl.py")
  config.init_from = str(tmp_path / "nothing")
  with pytest.raises(ValueError, match="no config.json there"):
    rl.run(config, str(tmp_path / "rl"))


def test_rl_names_a_bad_setting(tmp_path, tiny_sft_run):
  config = _config("configs/countdown_rl.py")
  config.init_from = str(tiny_sft_run)
  config.temperature = 0.0
  with pytest.raises(ValueError, match="temperature=0.0: the rollout temperature"):
    rl.run(config, str(tmp_path / "greedy"))
  config.temperature = 1.0
  config.rollout_slots = 3
  with pytest.raises(ValueError, match="rollout_slots=3: 0 .* multiple of samples_per_prompt=2"):
    rl.run(config, str(tmp_path / "slots"))
  config.rollout_slots = 4
  config.pipeline = True
  with pytest.raises(ValueError, match="pipeline=True .* needs off_policy_steps >= 1"):
    rl.run(config, str(tmp_path / "pipeline"))
  config.pipeline = False
  config.off_policy_steps = -1
  with pytest.raises(ValueError, match="off_policy_steps=-1: 0 .on-policy. or k >= 1"):
    rl.run(config, str(tmp_path / "stale"))
  config.off_policy_steps = 0
  config.illegal_penalty = 0.5
  config.task.name = "letters"
  with pytest.raises(ValueError, match="illegal_penalty=0.5: task letters has no has_illegal_step"):
    rl.run(config, str(tmp_path / "letters"))


@pytest.fixture(scope="module")
def tiny_verifier_runs(tmp_path_factory, tiny_sft_run):
  """{(kind, labels): (workdir, run output)} of tiny ORM/PRM runs, shared with best-of-N."""
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


@pytest.mark.slow
def test_rl_against_a_learned_reward_logs_the_gold_reward_beside_it(tmp_path, tiny_sft_run,
                                                                    tiny_verifier_runs,
                                                                    monkeypatch):
  """A PRM's min step score as the RL reward: the rewards are its scores (in [0, 1], not the
  verifier's 0/1), pass_rate stays the exact verifier's, the sequence KL from the start is
  logged with its square root, and the PRM's scoring is on the FLOP ledger."""
  prm_dir = str(tiny_verifier_runs["prm", "oracle"][0])
  config = _config("configs/countdown_rl.py")
  config.init_from = str(tiny_sft_run)
  exact = rl.run(config, str(tmp_path / "exact"))
  config.reward.model = prm_dir
  proxy = rl.run(config, str(tmp_path / "proxy"))
  read = lambda d: [json.loads(l) for l in (tmp_path / d / "metrics.jsonl").read_text().splitlines()
                    if '"reward"' in l]
  for r in read("proxy"):
    assert 0.0 <= r["reward"] <= 1.0 and 0.0 <= r["pass_rate"] <= 1.0
    assert r["kl_distance"] == pytest.approx(np.sqrt(max(r["kl_start"], 0.0)))
  # The same samples at step 1 (same seed and start): the gold verdict is the same either way,
  # while the reward differs; scoring by the PRM adds FLOPs.
  first_exact, first_proxy = read("exact")[0], read("proxy")[0]
  assert first_proxy["pass_rate"] == first_exact["pass_rate"]
  assert first_proxy["reward"] != first_exact["reward"]
  assert first_proxy["train_flops"] > first_exact["train_flops"]
  assert exact["metrics"]["step"] == proxy["metrics"]["step"]
  resumed = _interrupt_then_rerun(monkeypatch, rl, rng, "stream",
                                  lambda a: a[1:3] == ("rl_prompts", 2), config,
                                  str(tmp_path / "resumed"))
  assert _tree_equal(proxy["params"], resumed["params"])
  config.reward.model = str(tiny_sft_run)  # a policy, not a reward model
  with pytest.raises(ValueError, match="not a reward model run"):
    rl.run(config, str(tmp_path / "bad"))


@pytest.mark.slow
def test_rl_with_dense_prm_rewards(tmp_path, tiny_sft_run, tiny_verifier_runs, monkeypatch):
  """Each step's PRM score rewarded on the token that ends the step: the reward logged is the
  sum of a completion's step scores (so it can exceed 1), the gold verdict the exact
  verifier's; killed and resumed, the run continues exactly."""
  config = _config("configs/countdown_rl.py")
  config.init_from = str(tiny_sft_run)
  config.rl.algo = "ppo"  # GAE over the step rewards (GRPO's and REINFORCE++'s: tests/test_pg.py)
  config.reward.model = str(tiny_verifier_runs["prm", "oracle"][0])
  config.reward.dense = True
  full = rl.run(config, str(tmp_path / "full"))
  train = [json.loads(l) for l in (tmp_path / "full" / "metrics.jsonl").read_text().splitlines()
           if '"reward"' in l]
  assert [r["step"] for r in train] == [1, 2, 3]
  assert all(r["reward"] >= 0 and 0 <= r["pass_rate"] <= 1 for r in train)
  assert all(np.isfinite(r["pg_loss"]) and r["kl_distance"] >= 0 for r in train)
  resumed = _interrupt_then_rerun(monkeypatch, rl, rng, "stream",
                                  lambda a: a[1:3] == ("rl_prompts", 2), config,
                                  str(tmp_path / "resumed"))
  assert _tree_equal(full["params"], resumed["params"])
  config.rl.algo = "rloo"
  with pytest.raises(ValueError, match="reward.dense=True: rl.algo='rloo'"):
    rl.run(config, str(tmp_path / "rloo"))


def test_rl_with_one_update_per_rollout_skips_the_policys_scoring_pass(tmp_path, tiny_sft_run,
                                                                       monkeypatch):
  """One on-policy update per rollout: the update's own forward pass gives the old log-probs and
  kl_start, one forward pass fewer on the ledger, and the same run as with the pass (same
  samples and rewards, the same losses to rounding); time_phases logs each phase's seconds."""
  config = _config("configs/countdown_rl.py")
  config.init_from = str(tiny_sft_run)
  config.minibatch_size = config.prompts_per_step * config.samples_per_prompt
  config.optim.warmup_steps = 1
  config.time_phases = True
  rl.run(config, str(tmp_path / "own"))
  monkeypatch.setattr(pg, "scores_before_update", lambda *a, **k: True)
  rl.run(config, str(tmp_path / "scored"))
  read = lambda d: [json.loads(l) for l in (tmp_path / d / "metrics.jsonl").read_text().splitlines()
                    if '"reward"' in l]
  own, scored = read("own"), read("scored")
  for a, b in zip(own, scored):
    assert a["reward"] == b["reward"] and a["pass_rate"] == b["pass_rate"]
    for key in ("pg_loss", "kl", "kl_start"):  # KLs near 1e-5 nats: rounding shows
      assert a[key] == pytest.approx(b[key], rel=1e-2, abs=1e-6), key
    assert a["kl_distance"] == pytest.approx(np.sqrt(max(a["kl_start"], 0.0)))
    assert {"time/generate", "time/score", "time/reward", "time/advantages",
            "time/update"} <= set(a)
    assert all(a[k] >= 0 for k in a if k.startswith("time/"))
  assert own[0]["train_flops"] < scored[0]["train_flops"]


def test_verifier_synthetic_attempts_need_a_task_that_makes_them(tmp_path, tiny_sft_run):
  config = _config("configs/countdown_verifier.py")
  config.init_from = str(tiny_sft_run)
  config.synthetic_problems = 3
  config.labels = "mc"
  with pytest.raises(ValueError, match="labels='mc'"):
    verifier.run(config, str(tmp_path / "mc"))
  config.labels = "oracle"
  config.task.name = "letters"
  with pytest.raises(ValueError, match="task .letters. has no flawed_solution"):
    verifier.run(config, str(tmp_path / "letters"))


def test_step_auc_by_difficulty_by_hand():
  # d1: first steps ranked perfectly (0.9 good > 0.2 bad), later steps inverted; d2: one class.
  out = verifier_data.step_auc_by_difficulty(
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


@pytest.fixture(scope="module")
def tiny_critic_run(tmp_path_factory, tiny_sft_run, tiny_verifier_runs):
  """The critic's run, killed during its evaluation and rerun: (workdir, output, fine-tunes)."""
  config = _config("configs/countdown_critic.py")
  config.init_from = str(tiny_sft_run)
  config.prm = str(tiny_verifier_runs["prm", "oracle"][0])
  workdir = tmp_path_factory.mktemp("critic")
  calls = []
  real_finetune = sft_lib.finetune
  with pytest.MonkeyPatch.context() as monkeypatch:
    monkeypatch.setattr(sft_lib, "finetune",
                        lambda *a, **k: calls.append(1) or real_finetune(*a, **k))
    out = _interrupt_then_rerun(monkeypatch, critic, critic_lib, "judge", lambda a: True,
                                config, str(workdir))
  return workdir, out, calls


@pytest.mark.slow
def test_rl_against_a_critics_verdict(tmp_path, tiny_sft_run, tiny_critic_run, monkeypatch):
  """A critic run as the reward: each rollout's reward is 1 where the critic's critique names no
  wrong step, else 0, the gold verdict still the exact verifier's, the critiques' generation on
  the FLOP ledger; killed and resumed, the run continues exactly."""
  config = _config("configs/countdown_rl.py")
  config.init_from = str(tiny_sft_run)
  exact = rl.run(config, str(tmp_path / "exact"))
  config.reward.model = str(tiny_critic_run[0])
  full = rl.run(config, str(tmp_path / "full"))
  read = lambda d: [json.loads(l) for l in (tmp_path / d / "metrics.jsonl").read_text().splitlines()
                    if '"reward"' in l]
  for r in read("full"):
    assert 0.0 <= r["reward"] <= 1.0 and 0.0 <= r["pass_rate"] <= 1.0
  assert read("full")[0]["pass_rate"] == read("exact")[0]["pass_rate"]  # the same samples
  assert exact["metrics"]["step"] == full["metrics"]["step"]
  # The tiny policy writes no readable solution; on a readable one the critic writes a critique
  # and its FLOPs are counted, on a malformed one it writes nothing and the reward is 0.
  judge = rl_loop.reward_model(config.reward.model, common_vocab(tiny_sft_run),
                               aggregation=config.reward.aggregation,
                               seq_len=32 + config.max_new + 2)
  problem = Countdown(trap_share=0.0).sample(np.random.default_rng(0), 1, 1)[0]
  got = judge([problem, problem], [reference_completion(Countdown(), problem), "no answer"])
  assert got[0] in (0.0, 1.0) and got[1] == 0.0 and judge.flops() > 0
  assert judge([problem], ["no answer"])[0] == 0.0 and judge.flops() == 0.0
  resumed = _interrupt_then_rerun(monkeypatch, rl, rng, "stream",
                                  lambda a: a[1:3] == ("rl_prompts", 2), config,
                                  str(tmp_path / "resumed"))
  assert _tree_equal(full["params"], resumed["params"])


def test_critic_pulse_and_rerun_after_the_finetune(tmp_path, tiny_critic_run):
  """The critic fine-tunes, then is scored with the PRM beside it; a kill during the evaluation
  reruns the evaluation only."""
  workdir, out, calls = tiny_critic_run
  assert calls == [1]  # the rerun resumed after the fine-tune
  m = out["metrics"]
  assert m["flawed/solutions"] == 2 * 3 * 2  # flawed solutions are always well formed
  for name in ("critic", "last_step", "prm_min", "prm_threshold"):
    assert 0.0 <= m[f"flawed/{name}/accuracy"] <= 1.0
  assert m["flawed/critic/flops_per_solution"] > 0 and m["flawed/prm/flops_per_solution"] > 0
  records = [json.loads(l) for l in (workdir / "metrics.jsonl").read_text().splitlines()]
  assert [r["step"] for r in records] == [1, 2] and records[0]["examples"] > 0
  lines = [json.loads(l) for l in (workdir / "critiques.jsonl").read_text().splitlines()]
  assert len(lines) == m["flawed/solutions"] + m.get("policy/solutions", 0)
  assert all(l["oracle"].endswith("\n") for l in lines)
  config = _config("configs/countdown_critic.py")
  config.init_from = str(workdir)  # a critic's run loads as a model like an SFT run
  config.right_share = 1.0
  with pytest.raises(ValueError, match="right_share=1.0"):
    critic.run(config, str(tmp_path / "bad"))


@pytest.mark.slow
@pytest.mark.parametrize("with_critic", [False, True])
def test_revision_pulse_and_rerun_after_the_finetune(tmp_path, tiny_sft_run, tiny_verifier_runs,
                                                     tiny_critic_run, monkeypatch, with_critic):
  """The revision model fine-tunes, writes chains (after the critic's critiques of the earlier
  attempts, with a critic), and its ratio sweep is tabulated per bin; a kill during the chains
  reruns the evaluation only."""
  config = _config("configs/countdown_revision.py")
  config.init_from = str(tiny_sft_run)
  config.prm = str(tiny_verifier_runs["prm", "oracle"][0])
  config.critic = str(tiny_critic_run[0]) if with_critic else ""
  workdir = tmp_path / "revision"
  calls = []
  real_finetune = sft_lib.finetune
  monkeypatch.setattr(sft_lib, "finetune", lambda *a, **k: calls.append(1) or real_finetune(*a, **k))
  out = _interrupt_then_rerun(monkeypatch, revision, search_revision, "chains", lambda a: True,
                              config, str(workdir))
  assert calls == [1]
  assert out["pool"]["correct"].shape == (2 * 3, 2, 2)  # problems, chains, attempts
  critic_flops = out["pool"]["critic_flops"]
  assert (critic_flops[:, :, 0].sum() > 0) == with_critic and not critic_flops[:, :, 1].any()
  methods = {r["method"] for r in out["records"]}
  assert methods == {"N=1 L=1", "N=2 L=1", "N=2 L=2", "N=4 L=2"}
  summary = json.loads((workdir / "summary.json").read_text())
  assert len(summary["attempt accuracy (t = 1..L)"]["all"]["accuracy"]) == 2
  for name in ("revision_attempts", "revision_scaling", "revision_scaling_relative"):
    assert (workdir / "plots" / f"{name}.png").stat().st_size > 1000
  rows = [json.loads(l) for l in (workdir / "settings.jsonl").read_text().splitlines()]
  assert {r["method"] for r in rows} == methods
  if with_critic:
    return
  config.compare_with = str(workdir)  # against itself: no setting differs
  revision.run(config, str(tmp_path / "again"))
  summary = json.loads((tmp_path / "again" / "summary.json").read_text())
  [compared] = [v for k, v in summary.items() if k.startswith("this run vs")]
  for per_bin in compared.values():
    for got in per_bin.values():
      assert all(s["margin"] == 0.0 for s in got["settings"].values())
  config.compare_with = ""
  config.prm = ""
  with pytest.raises(ValueError, match="prm: a PRM workdir"):
    revision.run(config, str(tmp_path / "bad"))


@pytest.mark.slow
def test_best_of_n_pulse(tmp_path, tiny_sft_run, tiny_verifier_runs):
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


@pytest.mark.slow
def test_search_pulse_and_resume(tmp_path, tiny_sft_run, monkeypatch):
  config = _config("configs/countdown_search.py")
  # Any checkpoint of the model class serves as a (here untrained) PRM.
  config.policy = config.prm = str(tiny_sft_run)
  out = search.run(config, str(tmp_path))
  methods = [json.loads(l)["method"] for l in (tmp_path / "results.jsonl").read_text().splitlines()]
  assert methods == ["_pool", "best-of-1 majority", "best-of-1 PRM weighted", "best-of-2 majority",
                     "best-of-2 PRM weighted", "beam N=2", "lookahead1 N=2", "MCTS sims=2"]
  assert set(out["curves"]) == {"d1", "d2", "all"}
  summary = out["summary"]
  assert "all" in summary["model-relative bins (pass rate)"]
  assert "predicted bins (PRM mean score)" in summary
  for view in ("PRM weighted at equal FLOPs, by task difficulty",
               "majority at equal FLOPs, by model-relative bin"):
    answers = summary[f"tree search vs best-of-N {view}"]
    assert all(a["answer"] in ("yes", "no: best-of-N wins", "no significant difference")
               for a in answers.values())
  assert (tmp_path / "plots" / "search_scaling_relative.png").stat().st_size > 1000
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


@pytest.mark.slow
def test_reproduce_smoke_scale_draws_every_figure(tmp_path):
  """scripts/reproduce.sh end to end on the :tiny configs (make reproduce's chain, small). Its
  ~50 entrypoint processes are forked from tests/forkserver.py, which has imported the package
  once: each is still a process of its own, run as `python` would run it. They compile into a
  compilation cache of their own, apart from the other tests' processes."""
  env = dict(os.environ, SCALE="smoke")
  if "JAX_COMPILATION_CACHE_DIR" in env:
    env["JAX_COMPILATION_CACHE_DIR"] += "-reproduce"
  with fork_server(env) as python:
    proc = subprocess.run(["bash", "scripts/reproduce.sh", str(tmp_path)], capture_output=True,
                          text=True, env=dict(env, PY=python), timeout=900)
  assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
  figures = sorted(p.name for p in (tmp_path / "figures").glob("*.png"))
  assert figures == ["arithmetic_quiet_star.png", "arithmetic_tool_use.png",
                     "countdown_best_of_n.png",
                     "countdown_boundary.png", "countdown_coverage.png",
                     "countdown_distillation.png", "countdown_exchange.png",
                     "countdown_o1_pair.png", "countdown_overoptimization.png",
                     "countdown_overoptimization_bon.png",
                     "countdown_revision_attempts.png",
                     "countdown_revision_attempts_oracle.png", "countdown_revision_scaling.png",
                     "countdown_rl_async.png", "countdown_rl_fit.png",
                     "countdown_rl_recipes.png", "countdown_rstar.png",
                     "countdown_search_scaling.png", "countdown_self_improvement.png",
                     "countdown_sft_learning_curve.png", "countdown_train_scaling.png"]
  pair = json.loads((tmp_path / "figures" / "o1_pair.json").read_text())
  assert set(pair) == {"train", "test"} and pair["test"]["method"] == "best-of-N, exact checker"
  exchange = json.loads((tmp_path / "exchange" / "exchange.json").read_text())
  assert len({m["params"] for m in exchange["models"]}) == 3  # three model sizes
  assert all((tmp_path / "figures" / f).stat().st_size > 1000 for f in figures)
  # Every metrics key the entrypoints wrote is in docs/extending.md's metrics reference.
  documented = metrics_reference()
  for path in tmp_path.rglob("metrics.jsonl"):
    for line in path.read_text().splitlines():
      for key in json.loads(line):
        pattern = metric_pattern(key)
        assert any(fnmatch.fnmatchcase(pattern, d) for d in documented), (
            f"{path}: key {key!r} is not in docs/extending.md's metrics reference")


def test_the_fork_server_runs_a_command_as_python_would(tmp_path):
  """Its client passes argv, the working directory and the streams, and exits with the
  command's status: a failing stage stops reproduce.sh as it would without the server."""
  script = tmp_path / "stage.py"
  script.write_text("import os, sys\nprint('out', sys.argv[1:], os.getcwd())\n"
                    "print('err', file=sys.stderr)\nsys.exit(3)\n")
  with fork_server(dict(os.environ)) as python:
    ran = subprocess.run([*python.split(), str(script), "a", "b"], capture_output=True,
                         text=True, cwd=tmp_path, timeout=120)
    module = subprocess.run([*python.split(), "-m", "json.tool", "no-such-file"],
                            capture_output=True, text=True, timeout=120)
  assert (ran.returncode, ran.stdout, ran.stderr) == (3, f"out ['a', 'b'] {tmp_path}\n", "err\n")
  assert module.returncode == 2 and "no-such-file" in module.stderr


@contextlib.contextmanager
def fork_server(env: dict):
  """A tests/forkserver.py server (started with `env`, which fixes its JAX configuration) for the
  test's duration; yields the command that stands in for `python` (its client)."""
  directory = tempfile.mkdtemp(prefix="forkserver")  # a socket path must be short
  path = os.path.join(directory, "socket")
  server = subprocess.Popen([sys.executable, "tests/forkserver.py", path], stdout=subprocess.PIPE,
                            text=True, env=env, start_new_session=True)
  try:
    assert server.stdout is not None and server.stdout.readline().strip() == "ready"
    yield f"{sys.executable} -S {os.path.abspath('tests/forkserver.py')} --client {path}"
  finally:
    os.killpg(server.pid, signal.SIGKILL)  # the server and any command still running
    server.wait()
    shutil.rmtree(directory)


def metric_pattern(key: str) -> str:
  """A metrics key as the reference writes it: difficulties as d{n}, sample counts as {k}."""
  return re.sub(r"@\d+", "@{k}", re.sub(r"(?<=/)d\d+\b|(?<=_)d\d+\b", "d{n}", key))


def metrics_reference() -> set[str]:
  """The keys docs/extending.md's metrics table names, as fnmatch patterns: `sampled/...` and
  `gain/<metric>` stand for every key under that prefix."""
  text = open("docs/extending.md").read().split("## Metrics reference")[1].split("\n## ")[0]
  keys = set()
  for row in text.splitlines():
    if row.startswith("| `"):
      keys |= {re.sub(r"\.\.\.|<[^>]*>", "*", k).replace("[", "[[]")
               for k in re.findall(r"`([^`]+)`", row.split(" | ")[0])}
  return keys


@pytest.mark.slow
def test_star_pulse_and_resume_after_a_kill(tmp_path, tiny_sft_run, monkeypatch):
  config = _config("configs/countdown_star.py")
  config.init_from = str(tiny_sft_run)
  real_collect = star.star.collect
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

  monkeypatch.setattr(star.star, "collect", collect)
  kill_at = 0
  full = star.run(config, str(tmp_path / "full"))
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
    star.run(config, str(tmp_path / "resumed"))
  kill_at = 0
  resumed = star.run(config, str(tmp_path / "resumed"))
  assert len(calls) == 3  # the rerun collected only iteration 2's data
  assert _tree_equal(full["params"], resumed["params"])
  again = [json.loads(l) for l in (tmp_path / "resumed" / "metrics.jsonl").read_text().splitlines()]
  untimed = lambda rs: [{k: v for k, v in r.items() if k != "time"} for r in rs]
  assert untimed(again) == untimed(records)


@pytest.mark.slow
@pytest.mark.parametrize("target", ["policy", "sft"])
def test_expert_iteration_pulse_and_resume_after_a_kill(tmp_path, tiny_sft_run, target,
                                                        monkeypatch):
  config = _config("configs/countdown_expert_iteration.py")
  config.init_from = str(tiny_sft_run)
  config.target = target
  full = expert_iteration.run(config, str(tmp_path / "full"))
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
  real, calls = expert_iteration.mcts.traced_mcts_chunks, []

  def search_round(*args, **kwargs):
    calls.append(1)
    if len(calls) == 2:
      raise KeyboardInterrupt("simulated kill")
    return real(*args, **kwargs)

  monkeypatch.setattr(expert_iteration.mcts, "traced_mcts_chunks", search_round)
  with pytest.raises(KeyboardInterrupt):
    expert_iteration.run(config, str(tmp_path / "resumed"))
  resumed = expert_iteration.run(config, str(tmp_path / "resumed"))
  assert len(calls) == 3  # the rerun searched only in iteration 2
  assert _tree_equal(full["params"], resumed["params"])


@pytest.mark.slow
def test_rstar_pulse_and_resume(tmp_path, tiny_sft_run, monkeypatch):
  config = _config("configs/countdown_rstar.py")
  # Any checkpoint of the model class serves as PRM and discriminator here.
  config.generator = config.prm = config.discriminator = str(tiny_sft_run)
  out = rstar.run(config, str(tmp_path))
  records = [json.loads(l) for l in (tmp_path / "results.jsonl").read_text().splitlines()]
  assert [r["sims"] for r in records] == [2, 3]
  for r in records:
    gen, mutual = r[rstar.GENERATOR], r[rstar.MUTUAL]
    assert set(gen) == {"all", "d1", "d2"} and 0 <= mutual["all"][1] <= 1
    assert mutual["all"][0] >= gen["all"][0] > 0  # the discriminator only adds compute
  assert set(out["summary"]) == {"all", "d1", "d2"}
  # The discriminator's pick against the generator's, paired on the same problems.
  solved = {k: np.array(v) for k, v in records[0]["solved"].items()}
  diff = solved[rstar.MUTUAL] - solved[rstar.GENERATOR]
  first = out["summary"]["all"][0]
  assert first["paired_gain"] == pytest.approx(diff.mean())
  assert first["paired_se"] == pytest.approx(diff.std(ddof=1) / np.sqrt(len(diff)))
  assert (tmp_path / "plots" / "rstar_scaling.png").stat().st_size > 1000
  monkeypatch.setattr(rstar.rstar_lib, "rstar", lambda *a, **k: 1 / 0)
  assert rstar.run(config, str(tmp_path))["summary"] == out["summary"]  # resumed: no search


def test_monte_carlo_continuations_fit_the_models_context(tiny_model, monkeypatch):
  """A long step prefix plus the full max_new would overflow model.max_len (128): the
  continuations are cut to the room left instead of failing (the default PRM with
  labels=mc crashed so on the default Countdown config)."""
  cfg, graphdef, params = tiny_model
  seen, real = [], verifier_data.evaluation.complete

  def spy(*args, **kwargs):
    texts, lengths = real(*args, **kwargs)
    seen.append((kwargs["prompt_len"], kwargs["max_new"], lengths))
    return texts, lengths

  monkeypatch.setattr(verifier_data.evaluation, "complete", spy)
  complete = verifier_data.continuations(graphdef, params, VOCAB, jax.random.key(0),
                                         max_len=cfg.max_len, prompt_len=16, max_new=64)
  queries = ["countdown 3 8 5 to 29\n" + "8*3=24\n" * 14] * 2  # 109 tokens with BOS
  texts = complete(queries)
  [(prompt_len, max_new, lengths)] = seen
  assert len(texts) == 2 and prompt_len == 112 and max_new == 128 - 112
  assert lengths.max() <= max_new
  with pytest.raises(ValueError, match="leaves no room in model.max_len=128"):
    complete(["x" * 130])


@pytest.mark.parametrize("field", ["batch_size", "eval_every", "log_every", "checkpoint_every",
                                   "steps"])
def test_non_positive_fields_are_named_before_anything_is_written(tmp_path, field):
  config = _config("configs/countdown_sft.py")
  config[field] = 0 if field != "steps" else -1
  with pytest.raises(ValueError, match=rf"--config.{field} must be positive"):
    sft.run(config, str(tmp_path / "run"))
  assert not (tmp_path / "run").exists()


def test_a_second_process_on_a_workdir_in_use_stops_at_once_naming_it(tmp_path):
  lock = cli.lock_workdir(str(tmp_path))  # this process plays the run that holds it
  try:
    proc = subprocess.run(
        [sys.executable, "-m", "experiments.tasks_demo", "--config", "configs/tasks_demo.py:tiny",
         "--workdir", str(tmp_path)], capture_output=True, text=True, timeout=120)
  finally:
    lock.close()
  assert proc.returncode != 0
  assert f"error: {tmp_path}: in use by pid {os.getpid()}" in proc.stderr
  assert "Traceback" not in proc.stderr
  assert not (tmp_path / "config.json").exists()  # the second run wrote nothing


@pytest.mark.slow
def test_quiet_star_pulse_and_rerun(tmp_path):
  """Base model, one Quiet-STaR arm, the plain arm at its FLOPs; a rerun skips what is done."""
  config = _config("configs/arithmetic_quiet_star.py")
  summary = quiet_star.run(config, str(tmp_path))
  [row] = summary["arms"]
  assert row["arm"] == "m=2" and 0.0 <= row["exact"] <= 1.0 and row["logp"] < 0
  assert summary["plain"][-1]["flops"] >= row["flops"] > summary["base"]["flops"]
  assert (tmp_path / "plots" / "quiet_star.png").stat().st_size > 1000
  assert quiet_star.run(config, str(tmp_path)) == summary  # nothing left to run
  config.thought_lens = (0,)
  with pytest.raises(ValueError, match=r"thought_lens=\(0,\)"):
    quiet_star.run(config, str(tmp_path / "bad"))

"""Scaling fits on synthetic data with known parameters: each fit recovers them."""

import math

import numpy as np
import pytest

from reasoning import scaling


def test_pass_at_k_by_hand():
  assert scaling.pass_at_k(4, 0, 2) == 0.0
  assert scaling.pass_at_k(4, 4, 1) == 1.0
  assert scaling.pass_at_k(4, 1, 1) == pytest.approx(0.25)
  assert scaling.pass_at_k(4, 1, 2) == pytest.approx(1 - math.comb(3, 2) / math.comb(4, 2))
  assert scaling.pass_at_k(10, 3, 9) == 1.0  # fewer wrong samples than k
  with pytest.raises(ValueError, match="1 <= k <= n"):
    scaling.pass_at_k(4, 1, 5)


def test_log_linear_fit_recovers_slope_and_intercept():
  compute = np.logspace(10, 13, 7)
  fit = scaling.log_linear_fit(compute, 0.1 + 0.05 * np.log10(compute / 1e10))
  assert fit["slope_per_decade"] == pytest.approx(0.05)
  assert fit["intercept"] == pytest.approx(0.1 - 0.5)
  assert fit["r2"] == pytest.approx(1.0)


def test_sigmoid_fit_recovers_asymptote_and_efficiency_and_extrapolates():
  compute = np.logspace(12, 14, 12)
  truth = dict(a=0.7, b=1.3, c_mid=3e12)
  accuracy = scaling.sigmoid(compute, 0.3, **truth)
  fit = scaling.sigmoid_fit(compute, accuracy, r0=0.3)
  assert fit["a"] == pytest.approx(0.7, abs=1e-3) and fit["b"] == pytest.approx(1.3, rel=1e-2)
  assert fit["c_mid"] == pytest.approx(3e12, rel=1e-2) and fit["rmse"] < 1e-4
  check = scaling.extrapolation_check(compute, accuracy, r0=0.3)
  assert check["fitted_points"] == 6 and max(abs(e) for e in check["errors"]) < 0.01
  # The predicted half rises (from the 6th point to the 12th of the true curve).
  assert check["rise"] == pytest.approx(accuracy[-1] - accuracy[5])


def test_sigmoid_fit_of_a_curve_flat_at_r0_stops_once_it_is_exact(monkeypatch):
  """RL that never solved a problem (the tiny runs): the fit is R0 = 0 itself, reached in a few
  of the 200 iterations each start may take (LM would otherwise go on shrinking A towards 0, a
  loss of 1e-100 halved to the end)."""
  calls = []
  sigmoid = scaling.sigmoid
  monkeypatch.setattr(scaling, "sigmoid", lambda *a: calls.append(1) or sigmoid(*a))
  fit = scaling.sigmoid_fit(np.logspace(12, 14, 8), np.zeros(8), r0=0.0)
  assert fit["a"] < 1e-9 and fit["rmse"] < 1e-10
  assert len(calls) < 2 * 200 * 5 / 4  # a full run: 5 evaluations per iteration, 2 starts


def test_bootstrap_intervals_cover_the_truth_and_shrink_with_the_eval_set():
  compute = np.logspace(12, 14, 10)
  accuracy = scaling.sigmoid(compute, 0.3, 0.7, 1.3, 3e12)
  fit = lambda c, y: scaling.sigmoid_fit(c, y, r0=0.3)
  small = scaling.bootstrap(fit, compute, accuracy, 200, np.random.default_rng(0), resamples=60)
  large = scaling.bootstrap(fit, compute, accuracy, 5000, np.random.default_rng(0),
                            resamples=60)
  assert small["a"][0] <= 0.7 <= small["a"][1]
  assert large["a"][1] - large["a"][0] < small["a"][1] - small["a"][0]


def test_coverage_fit_recovers_the_exponentiated_power_law():
  ks = 2 ** np.arange(0, 9)
  coverage = np.exp(-0.8 * ks ** -0.4)
  fit = scaling.coverage_fit(ks, coverage, saturated=1.0)
  assert fit["a"] == pytest.approx(-0.8) and fit["b"] == pytest.approx(-0.4)
  assert fit["r2"] == pytest.approx(1.0)


def test_difficulty_bins_are_quantiles_with_the_hardest_first():
  rates = np.array([0.0, 0.0, 0.1, 0.2, 0.4, 0.5, 0.6, 0.8, 0.9, 1.0])
  bins = scaling.difficulty_bins(rates, 5)
  assert bins.tolist() == sorted(bins.tolist()) and bins[0] == 0 and bins[-1] == 4
  assert bins[0] == bins[1]  # ties share a bin
  assert np.bincount(bins, minlength=5).tolist() == [2, 2, 2, 2, 2]


def test_rl_curves_count_compute_from_rls_start_and_fit_pooled_seeds():
  from reasoning import curves
  true = dict(r0=0.5, a=0.8, b=1.2, c_mid=1e13)
  sft = 5e14
  runs = []
  for seed in range(3):
    compute = np.logspace(11.5, 14, 9) * (1 + 0.01 * seed)
    acc = scaling.sigmoid(compute, **true)
    records = [{"step": 0, "train_flops": sft, "greedy/d1": 0.5}] + [
        {"step": i + 1, "train_flops": sft + c, "greedy/d1": float(a), "loss": 1.0}
        for i, (c, a) in enumerate(zip(compute, acc))] + [{"step": 3, "reward": 0.2}]
    run = curves.rl_curve(records, "greedy/d1")
    np.testing.assert_allclose(run["compute"], compute, rtol=1e-9)  # SFT's FLOPs subtracted
    assert run["r0"] == 0.5 and run["steps"][0] == 1
    runs.append(run)
  fit = curves.fit(runs, problems=100_000, rng=np.random.default_rng(0), resamples=20)
  assert fit["sigmoid"]["a"] == pytest.approx(0.8, abs=0.01)
  assert fit["sigmoid"]["b"] == pytest.approx(1.2, rel=0.05)
  lo, hi = fit["sigmoid_interval"]["a"]
  assert lo <= 0.8 + 0.005 and hi >= 0.8 - 0.005 and hi - lo < 0.02
  assert fit["decades"] == pytest.approx(2.5, abs=0.01)
  assert fit["last"]["mean"] == pytest.approx(float(scaling.sigmoid(1e14, **true)), abs=0.01)
  for check in fit["extrapolation"]:  # a noise-free curve is predicted from its first half
    assert abs(check["error_last"]) < 0.01
  with pytest.raises(ValueError, match="step-0 evaluation"):
    curves.rl_curve(records[1:], "greedy/d1")


def test_fit_scaling_script_writes_the_table_figure_and_fits(tmp_path):
  import json
  import subprocess
  import sys
  groups = []
  for label, a in (("low", 0.7), ("high", 0.9)):
    dirs = []
    for seed in range(2):
      workdir = tmp_path / f"{label}{seed}"
      workdir.mkdir()
      (workdir / "config.json").write_text(json.dumps({"eval_problems": 500,
                                                       "eval_difficulties": "1,2"}))
      compute = np.logspace(11, 14, 8)
      acc = scaling.sigmoid(compute, 0.5, a, 1.0, 1e12)
      lines = [{"step": 0, "train_flops": 1e15, "greedy/d1": 0.5}] + [
          {"step": i + 1, "train_flops": 1e15 + c, "greedy/d1": float(y)}
          for i, (c, y) in enumerate(zip(compute, acc))]
      (workdir / "metrics.jsonl").write_text("".join(json.dumps(l) + "\n" for l in lines))
      dirs.append(str(workdir))
    groups.append(f"{label}={','.join(dirs)}")
  out = tmp_path / "fits"
  proc = subprocess.run([sys.executable, "scripts/fit_scaling.py", "--out", str(out), "--key",
                         "greedy/d1", "--resamples", "10", *groups], capture_output=True, text=True)
  assert proc.returncode == 0, proc.stderr[-2000:]
  fits = json.loads((out / "fits.json").read_text())
  assert fits["low"]["sigmoid"]["a"] == pytest.approx(0.7, abs=0.01)
  assert fits["high"]["sigmoid"]["a"] == pytest.approx(0.9, abs=0.01)
  assert fits["low"]["problems"] == 500
  assert "| high | 50.0 |" in (out / "fits.md").read_text()
  assert (out / "rl_compute.png").stat().st_size > 1000


def test_coverage_fit_ignores_saturated_points():
  ks = 2 ** np.arange(0, 9)
  coverage = np.exp(-3.0 * ks ** -1.0)
  noisy = np.where(coverage > 0.98, np.minimum(coverage + 0.005, 0.9999), coverage)
  fit = scaling.coverage_fit(ks, noisy)  # near 1 a 0.5-point wobble would bend the line
  assert fit["a"] == pytest.approx(-3.0, rel=1e-6) and fit["b"] == pytest.approx(-1.0, rel=1e-6)


def _coverage_dir(path, counts, difficulty, samples=4):
  """A scripts/coverage.py output with per-problem correct counts of `samples` draws."""
  path.mkdir()
  ks = [1, 2, 4]
  cov = [float(np.mean([scaling.pass_at_k(samples, c, k) for c in counts])) for k in ks]
  results = {"d1": {"k": ks, "coverage": cov, "problems": len(counts), "flops_per_sample": 1e6}}
  (path / "coverage.json").write_text(__import__("json").dumps(
      {"policy": str(path), "samples": samples, "bin_samples": 0, "difficulty": difficulty,
       "counts": {"pool": counts, "bin": counts}, "sample_flops": [1e6] * len(counts),
       "results": results}))
  return cov


def test_o1_pair_draws_best_of_n_with_the_checker_and_writes_its_data(tmp_path):
  """The test-time side from a coverage run: pass@N at N times the mean sample's FLOPs; the
  JSON holds both series in percent and FLOPs with their fits."""
  import json
  import subprocess
  import sys
  run = tmp_path / "rl"
  run.mkdir()
  (run / "config.json").write_text(json.dumps({"eval_problems": 500, "eval_difficulties": "1"}))
  compute = np.logspace(11, 13, 7)
  acc = scaling.sigmoid(compute, 0.4, 0.8, 1.0, 1e12)
  lines = [{"step": 0, "train_flops": 1e15, "sampled/d1": 0.4}] + [
      {"step": i + 1, "train_flops": 1e15 + c, "sampled/d1": float(y)}
      for i, (c, y) in enumerate(zip(compute, acc))]
  (run / "metrics.jsonl").write_text("".join(json.dumps(l) + "\n" for l in lines))
  cov = _coverage_dir(tmp_path / "cov", [0, 1, 2, 4], [1, 1, 1, 1])
  out = tmp_path / "pair.png"
  proc = subprocess.run([sys.executable, "scripts/o1_pair.py", "--out", str(out), "--rl",
                         str(run), "--coverage", str(tmp_path / "cov"), "--key", "d1",
                         "--json", str(tmp_path / "pair.json")], capture_output=True, text=True)
  assert proc.returncode == 0, proc.stderr[-2000:]
  data = json.loads((tmp_path / "pair.json").read_text())
  np.testing.assert_allclose(data["train"]["compute"], compute, rtol=1e-9)
  np.testing.assert_allclose(data["train"]["accuracy"], 100 * acc, atol=1e-3)
  assert data["train"]["n"] == 500 and data["train"]["r0"] == 40.0
  # pass@1, @2, @4 of counts (0, 1, 2, 4) of 4: (0 + 1/4 + 1/2 + 1) / 4, ...
  assert data["test"]["accuracy"][0] == pytest.approx(100 * 1.75 / 4)
  np.testing.assert_allclose(data["test"]["accuracy"], 100 * np.array(cov), atol=1e-3)
  assert data["test"]["compute"] == [1e6, 2e6, 4e6] and data["test"]["n"] == 4
  assert out.stat().st_size > 1000


def test_boundary_compares_pass_at_k_per_problem_and_finds_the_crossover(tmp_path):
  import subprocess
  import sys
  from reasoning.scaling import compare_coverage, pass_at_k_rows
  # Two problems, k = 1, 2: after RL problem 0 is always solved, problem 1 never; before, each
  # was solved half the time (pass@1 0.5, pass@2 1 from 1 of 2 samples... here given directly).
  before = np.array([[0.5, 1.0], [0.5, 1.0]])
  after = np.array([[1.0, 1.0], [0.0, 0.0]])
  r = compare_coverage(before, after, np.random.default_rng(0), resamples=50)
  assert r["difference"] == [0.0, -0.5] and r["crossover"] == 1
  assert r["before"] == [0.5, 1.0] and r["after"] == [0.5, 0.5]
  np.testing.assert_allclose(pass_at_k_rows(np.array([1, 2]), 2, [1, 2]),
                             [[0.5, 1.0], [1.0, 1.0]])
  _coverage_dir(tmp_path / "a", [1, 2, 0], [1, 1, 1])
  _coverage_dir(tmp_path / "b", [4, 0, 0], [1, 1, 1])
  proc = subprocess.run([sys.executable, "scripts/boundary.py", "--before", str(tmp_path / "a"),
                         "--after", str(tmp_path / "b"), "--out", str(tmp_path / "out")],
                        capture_output=True, text=True)
  assert proc.returncode == 0, proc.stderr[-2000:]
  assert "crossover: k=2" in proc.stdout and (tmp_path / "out" / "boundary.png").exists()


def test_overoptimization_fits_recover_gaos_forms_by_hand():
  d = np.linspace(0.0, 6.0, 31)
  rl = 0.3 + d * (0.5 - 0.2 * np.log(np.where(d > 0, d, 1)))  # peaks at exp(0.5 / 0.2 - 1)
  fit = scaling.overoptimization_fit(d, rl, "rl")
  assert fit["r0"] == pytest.approx(0.3)
  assert fit["alpha"] == pytest.approx(0.5) and fit["beta"] == pytest.approx(0.2)
  assert fit["d_peak"] == pytest.approx(np.exp(1.5)) and fit["r2"] == pytest.approx(1.0)
  assert fit["inside"]
  assert fit["gain_at_peak"] == pytest.approx(np.exp(1.5) * (0.5 - 0.2 * 1.5))
  bon = d * (0.3 - 0.05 * d)          # peaks at 0.3 / 0.1 = 3
  fit = scaling.overoptimization_fit(d, bon, "bon")
  assert fit["d_peak"] == pytest.approx(3.0) and fit["gain_at_peak"] == pytest.approx(0.45)
  rising = scaling.overoptimization_fit(d, 0.1 * d + 0.01 * d * d, "rl")
  assert rising["d_peak"] == 6.0 and not rising["inside"]   # still rising: the range's end
  safe = np.where(d > 0, d, 1)
  falling = scaling.overoptimization_fit(d, 0.5 + d * (-0.1 + 0.05 * np.log(safe)), "rl")
  assert falling["d_peak"] == 0.0 and falling["gain_at_peak"] == 0.0  # falls from the start
  with pytest.raises(ValueError, match="4 or more points"):
    scaling.overoptimization_fit([0.0, 1.0, 2.0], [0, 1, 2])
  # best-of-1 is the policy itself; best-of-n's KL grows like log n.
  assert scaling.bon_distance(1) == 0.0
  assert scaling.bon_distance(4) == pytest.approx(np.sqrt(np.log(4) - 0.75))


def test_overoptimization_script_fits_gold_and_proxy_of_an_rl_run(tmp_path):
  """scripts/overoptimization.py on a run's metrics: the proxy keeps rising while the gold
  reward turns over, and the fit puts the gold peak where the generating law has it."""
  import json
  import subprocess
  import sys
  run = tmp_path / "rl"
  run.mkdir()
  (run / "config.json").write_text(json.dumps({"prompts_per_step": 4, "samples_per_prompt": 8,
                                               "reward": {"model": "runs/prm"}}))
  d = np.linspace(0, 3, 12)
  gold = 0.2 + d * (0.2 - 0.2 * np.log(np.where(d > 0, d, 1)))  # peak at exp(0) = 1
  rows = [{"step": 0, "greedy/d1": 0.5}] + [
      {"step": i + 1, "kl_distance": x, "reward": 0.3 + 0.1 * x, "pass_rate": g}
      for i, (x, g) in enumerate(zip(d, gold))]
  (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
  proc = subprocess.run([sys.executable, "scripts/overoptimization.py", "--out",
                         str(tmp_path / "out"), f"prm={run}"], capture_output=True, text=True)
  assert proc.returncode == 0, proc.stderr[-2000:]
  result = json.loads((tmp_path / "out" / "overoptimization.json").read_text())["prm"]
  assert result["fit_gold"]["d_peak"] == pytest.approx(1.0, rel=1e-6)
  assert result["rows"] == 32 and result["reward_model"] == "runs/prm"
  assert "gold peaks at d = 1.00" in proc.stdout
  assert (tmp_path / "out" / "overoptimization.png").stat().st_size > 1000


def test_overoptimization_script_draws_a_run_that_did_not_move_without_a_fit(tmp_path):
  import json
  import subprocess
  import sys
  run = tmp_path / "rl"
  run.mkdir()
  (run / "config.json").write_text(json.dumps({"prompts_per_step": 2, "samples_per_prompt": 2}))
  rows = [{"step": i, "kl_distance": 0.0, "reward": 0.0, "pass_rate": 0.0} for i in range(1, 5)]
  (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
  proc = subprocess.run([sys.executable, "scripts/overoptimization.py", "--out",
                         str(tmp_path / "out"), f"exact={run}"], capture_output=True, text=True)
  assert proc.returncode == 0, proc.stderr[-2000:]
  assert "gold not fitted" in proc.stdout and "no fit" in proc.stdout
  assert (tmp_path / "out" / "overoptimization.png").exists()


def test_overoptimization_interval_covers_the_true_peak():
  """Gold shares drawn as binomials of 256 samples around R(d) = 0.3 + d (0.2 - 0.2 log d),
  whose peak is at d = exp(0) = 1: the bootstrap interval of d_peak holds it."""
  from reasoning import rng as rng_lib
  d = np.linspace(0.05, 3.0, 40)
  truth = scaling.overoptimization_curve({"form": "rl", "r0": 0.3, "alpha": 0.2, "beta": 0.2}, d)
  draws = np.random.default_rng(0).binomial(256, truth) / 256
  fit = scaling.overoptimization_fit(d, draws)
  interval = scaling.overoptimization_interval(d, draws, 256, rng_lib.stream(0, "fit_bootstrap", 0),
                                               resamples=100)
  lo, hi = interval["d_peak"]
  assert lo <= 1.0 <= hi and lo <= fit["d_peak"] <= hi and hi - lo < 1.0
  assert interval["inside_share"] > 0.9


def test_overoptimization_script_reads_best_of_n_against_its_reward_model(tmp_path):
  """--bon: experiments.best_of_n's 'PRM best' and 'ORM best' as best-of-n points at
  d = sqrt(log n - (n - 1) / n), fitted with the best-of-n form; the gold peak lands where the
  generating law R(d) = 0.3 + d (0.4 - 0.2 d) has it (d = 1)."""
  import json
  import subprocess
  import sys
  run = tmp_path / "bon"
  run.mkdir()
  (run / "config.json").write_text(json.dumps({"eval_problems": 100, "orm": "runs/orm",
                                               "prm": "runs/prm"}))
  ns = [2**i for i in range(9)]
  d = scaling.bon_distance(ns)
  rows = [{"step": n, "difficulty": 1, "method": m, "accuracy": 0.3 + x * (0.4 - 0.2 * x),
           "proxy": 0.5 + 0.1 * x, "low": 0.0, "high": 1.0, "test_flops": 1.0}
          for m in ("PRM best", "ORM best") for n, x in zip(ns, d)]
  rows += [{"step": n, "difficulty": 1, "method": "majority", "accuracy": 0.3} for n in ns]
  (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
  proc = subprocess.run([sys.executable, "scripts/overoptimization.py", "--out",
                         str(tmp_path / "out"), "--bon", str(run)], capture_output=True, text=True)
  assert proc.returncode == 0, proc.stderr[-2000:]
  result = json.loads((tmp_path / "out" / "overoptimization.json").read_text())
  prm = result["best-of-n, PRM best"]
  assert prm["form"] == "bon" and prm["reward_model"] == "runs/prm"
  assert prm["fit_gold"]["d_peak"] == pytest.approx(1.0, rel=1e-6)
  assert result["best-of-n, ORM best"]["reward_model"] == "runs/orm"


def test_exchange_table_interpolates_per_problem_and_pairs_the_difference():
  # Two problems; no training FLOPs and R = 1 (one query): the small model's best-of-n at
  # n = 1, 2 costs 10 and 20 FLOPs, the large model's greedy answer 15, so the small model's value
  # lies log(1.5) / log(2) of the way from its n = 1 to its n = 2 curve, problem by problem.
  prompts = ["a", "b"]
  def model(params, best, greedy, greedy_flops):
    return {"params": params, "train_flops": 0.0, "train_tokens": 10.0, "query_tokens": 10.0,
            "bins": {"d1": {"problems": 2, "prompts": prompts,
                            "greedy": {"accuracy": float(np.mean(greedy)), "correct": greedy,
                                       "flops": greedy_flops},
                            "best_of_n": [{"n": n, "flops": f, "accuracy": float(np.mean(pp)),
                                           "per_problem": pp} for n, f, pp in best]}}}
  small = model(1, [(1, 10.0, [0.0, 0.5]), (2, 20.0, [1.0, 0.75])], [0, 1], 10.0)
  large = model(2, [(1, 15.0, [0.0, 1.0])], [0, 1], 15.0)
  rows, text = scaling.exchange_table([small, large], [1.0])
  [row] = rows
  w = np.log10(1.5) / np.log10(2)
  per_problem = np.array([w * 1.0, 0.5 + w * 0.25])
  assert row["small_at_equal_flops"] == pytest.approx(per_problem.mean())
  diff = per_problem - np.array([0, 1])
  assert row["difference"] == pytest.approx(diff.mean())
  assert row["difference_se"] == pytest.approx(diff.std(ddof=1) / np.sqrt(2))
  assert "n = 2" in text


def test_coverage_extrapolation_predicts_the_law_and_misses_a_plateau():
  ks = 2 ** np.arange(0, 7)  # 1 .. 64: fitted on 1 .. 8, predicts 16, 32, 64
  law = np.exp(-1.5 * ks ** -0.6)
  out = scaling.coverage_extrapolation(ks, law)
  assert out["fit_up_to"] == 8 and out["k"] == [16, 32, 64]
  np.testing.assert_allclose(out["predicted"], law[4:], rtol=1e-9)
  np.testing.assert_allclose(out["errors"], 0, atol=1e-9)
  plateau = np.minimum(law, law[3])  # no gain past k = 8: the law predicts one that is not there
  missed = scaling.coverage_extrapolation(ks, plateau)
  assert min(missed["errors"]) > 0.05
  with pytest.raises(ValueError, match="needs three"):
    scaling.coverage_extrapolation([1, 2, 4], law[:3])

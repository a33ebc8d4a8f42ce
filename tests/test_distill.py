"""Distillation's per-token divergences and their gradients against hand computation, the step,
and the entrypoint's pulse and exact resume."""

import json
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from test_experiments import _config, _interrupt_then_rerun

from reasoning.train import distill

Q = np.array([0.5, 0.5])    # student
P = np.array([0.25, 0.75])  # teacher


def _div(kind, q=Q, p=P, beta=0.5, target=0):
  logq, logp = (jnp.log(jnp.asarray(x, jnp.float32))[None, None] for x in (q, p))
  return float(distill.token_divergence(logq, logp, jnp.array([[target]]), kind, beta)[0, 0])


def test_divergences_by_hand():
  # KL(q || p) = 0.5 ln(0.5 / 0.25) + 0.5 ln(0.5 / 0.75)
  assert _div("reverse_kl") == pytest.approx(0.5 * math.log(2) + 0.5 * math.log(2 / 3), rel=1e-5)
  # KL(p || q) = 0.25 ln(0.25 / 0.5) + 0.75 ln(0.75 / 0.5)
  assert _div("forward_kl") == pytest.approx(0.25 * math.log(0.5) + 0.75 * math.log(1.5),
                                             rel=1e-5)
  m = 0.5 * P + 0.5 * Q  # [0.375, 0.625]
  kl = lambda a, b: float(np.sum(a * np.log(a / b)))
  assert _div("jsd") == pytest.approx(0.5 * kl(P, m) + 0.5 * kl(Q, m), rel=1e-5)
  m = 0.9 * P + 0.1 * Q
  assert _div("jsd", beta=0.9) == pytest.approx(0.9 * kl(P, m) + 0.1 * kl(Q, m), rel=1e-5)
  assert _div("nll", target=1) == pytest.approx(math.log(2), rel=1e-6)
  for kind in ("reverse_kl", "forward_kl", "jsd"):
    assert _div(kind, q=P) == pytest.approx(0.0, abs=1e-7)


def test_gradients_by_hand():
  """d/dz of each divergence at student logits z (q = softmax z): reverse KL gives
  q_i (log q_i - log p_i - KL(q || p)); forward KL gives q_i - p_i; nll q_i - [i = target]."""
  logp = jnp.log(jnp.asarray(P, jnp.float32))[None, None]
  z = jnp.log(jnp.asarray(Q, jnp.float32))

  def grad(kind, target=0):
    f = lambda z: distill.token_divergence(jax.nn.log_softmax(z)[None, None], logp,
                                           jnp.array([[target]]), kind)[0, 0]
    return np.asarray(jax.grad(f)(z))

  log_ratio = np.log(Q) - np.log(P)
  reverse = np.sum(Q * log_ratio)
  np.testing.assert_allclose(grad("reverse_kl"), Q * (log_ratio - reverse), atol=1e-6)
  np.testing.assert_allclose(grad("forward_kl"), Q - P, atol=1e-6)
  np.testing.assert_allclose(grad("nll", target=1), Q - np.array([0.0, 1.0]), atol=1e-6)


def test_never_generated_ids_contribute_nothing():
  """An id both distributions exclude (-1e30) adds no divergence, no NaN and no gradient."""
  excluded = jnp.array([0.0, 0.0, -1e30])
  teacher = jax.nn.log_softmax(jnp.array([0.0, 1.0, -1e30]))[None, None]
  for kind in ("reverse_kl", "forward_kl", "jsd"):
    f = lambda z: distill.token_divergence(jax.nn.log_softmax(z + excluded)[None, None], teacher,
                                           jnp.zeros((1, 1), jnp.int32), kind)[0, 0]
    value, g = jax.value_and_grad(f)(jnp.zeros(3))
    two = _div(kind, q=np.array([0.5, 0.5]), p=np.exp(np.array(teacher[0, 0, :2])))
    assert float(value) == pytest.approx(two, rel=1e-5)
    assert np.isfinite(np.asarray(g)).all() and float(g[2]) == 0.0


def test_bad_settings_name_the_field():
  with pytest.raises(ValueError, match="distill.divergence must be one of"):
    distill.DistillConfig(divergence="kl")
  with pytest.raises(ValueError, match="distill.sampler must be one of"):
    distill.DistillConfig(sampler="both")
  with pytest.raises(ValueError, match="distill.beta must be in"):
    distill.DistillConfig(divergence="jsd", beta=1.0)


def test_the_step_moves_the_student_toward_the_teacher(tiny_model):
  """On a fixed batch the reverse-KL step lowers KL(student || teacher) on the masked tokens;
  prompt positions (mask 0) carry no gradient."""
  from reasoning import model as model_lib
  from reasoning.train import state as state_lib
  cfg, graphdef, student = tiny_model
  _, teacher = model_lib.init(cfg, jax.random.key(7))
  tokens = jax.random.randint(jax.random.key(1), (4, 12), 3, cfg.vocab_size)
  mask = jnp.zeros((4, 11)).at[:, 5:].set(1.0)
  batch = distill.DistillBatch(tokens, mask,
                               distill.next_token_logprobs(graphdef, teacher, tokens))
  tx = state_lib.make_optimizer(state_lib.OptimConfig(lr=1e-2, warmup_steps=0, total_steps=20))
  step = distill.make_train_step(graphdef, tx, distill.DistillConfig())
  copy = lambda: jax.tree.map(jnp.copy, student)  # the step donates its state
  state = state_lib.create(copy(), tx)
  kls = []
  for _ in range(10):
    state, m = step(state, batch)
    kls.append(float(m["reverse_kl"]))
  assert kls[-1] < 0.5 * kls[0]
  # Masked positions carry no gradient: changing the teacher there changes nothing.
  noisy = batch._replace(teacher_logp=batch.teacher_logp.at[:, :5].set(
      jax.nn.log_softmax(jax.random.normal(jax.random.key(2), (4, 5, cfg.vocab_size)))))
  state_a, state_b = state_lib.create(copy(), tx), state_lib.create(copy(), tx)
  a, _ = step(state_a, batch)
  b, _ = step(state_b, noisy)
  for x, y in zip(jax.tree.leaves(a.params), jax.tree.leaves(b.params)):
    np.testing.assert_allclose(x, y, atol=1e-7)


@pytest.mark.slow
def test_distill_pulse_offpolicy_and_exact_resume(tmp_path, monkeypatch):
  """On-policy distillation of a tiny SFT run into another, then its resume after a kill equals
  the uninterrupted run; the off-policy baseline trains on the teacher's samples and counts the
  teacher's sampling in train_flops, not in student_flops."""
  from experiments import distill as distill_exp, sft
  teacher = str(tmp_path / "teacher")
  student = str(tmp_path / "student")
  sft.run(_config("configs/countdown_sft.py"), teacher)
  sft.run(_config("configs/countdown_sft.py", seed=1, steps=2), student)
  config = _config("configs/countdown_distill.py", init_from=student, teacher=teacher)
  full = distill_exp.run(config, str(tmp_path / "full"))
  records = [json.loads(l) for l in (tmp_path / "full" / "metrics.jsonl").read_text().splitlines()]
  train = [r for r in records if "loss" in r]
  assert [r["step"] for r in train] == [1, 2, 3]
  assert all(r["reverse_kl"] > 0 and r["train_flops"] > r["student_flops"] for r in train)
  assert "greedy/d1" in records[0] and records[0]["step"] == 0
  assert (tmp_path / "full" / "plots" / "train_scaling.png").stat().st_size > 1000

  from reasoning import rng
  resumed = _interrupt_then_rerun(monkeypatch, distill_exp, rng, "stream",
                                  lambda a: a[1:3] == ("distill_prompts", 2), config,
                                  str(tmp_path / "resumed"))
  for x, y in zip(jax.tree.leaves(full["params"]), jax.tree.leaves(resumed["params"])):
    np.testing.assert_array_equal(x, y)
  again = [json.loads(l) for l in (tmp_path / "resumed" / "metrics.jsonl").read_text().splitlines()]
  assert [r["step"] for r in again if "loss" in r] == [1, 2, 3]

  config.distill.update(sampler="teacher", divergence="nll")
  distill_exp.run(config, str(tmp_path / "offpolicy"))
  off = [json.loads(l) for l in (tmp_path / "offpolicy" / "metrics.jsonl").read_text().splitlines()]
  off = [r for r in off if "loss" in r]
  assert all("reverse_kl" not in r for r in off)
  # Off-policy the student only trains: its FLOPs are its SFT's plus training, below on-policy's.
  assert off[-1]["student_flops"] < train[-1]["student_flops"]

"""Tools: the calc tool and the environment's replies (never an exception), multi-turn generation
with the environment's tokens marked, their exclusion from every loss, and RL with a tool."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from test_experiments import _config, _interrupt_then_rerun

from reasoning import sampling, tools
from reasoning.tasks import get_task
from reasoning.tasks.tool_use import ToolUse, calls_made
from reasoning.text import CharVocab, pad_examples

HOSTILE = ["call calc 12*", "call calc 1**2", "call calc a*b", "call calc " + "9" * 40 + "*2",
           "call calc", "call ", "call rm -rf", "call calc 1*2*3", "call calc -5--5",
           "call " + "x" * 500, "call calc 1/0", "call calc 999999999999*999999999999"]


def test_calc_and_replies():
  assert tools.respond("call calc 4821*37", 0) == "result 178377\n"
  assert tools.respond("call calc 12+-30\n", 1) == "result -18\n"
  assert tools.respond("ANSWER: 5", 0) is None and tools.respond("4*5=20", 0) is None
  vocab = CharVocab()
  for line in HOSTILE:
    reply = tools.respond(line, 0)
    assert reply.startswith("result ") and reply.endswith("\n") and len(reply) <= 48
    vocab.encode(reply)  # every reply is in the character alphabet
  assert tools.respond("call calc 1/0", 0) == "result error: expected calc a+b a-b or a*b\n"
  assert "unknown tool rm" in tools.respond("call rm -rf", 0)
  # The cap: the fifth call of an answer gets the error, whatever it asks.
  assert tools.respond("call calc 1*2", 4) == "result error: at most 4 calls per answer\n"
  assert tools.respond("call calc 1*2", 0, available=False) == "result error: no tools here\n"
  broken = {"calc": lambda args: 1 / 0}
  assert tools.respond("call calc 1*2", 0, tools=broken) == "result error: the tool failed\n"


def _scripted_generate(monkeypatch, vocab, script):
  """sampling.generate replaced by one that writes script[turn] on every live row."""
  turn = {"n": 0}

  def generate(graphdef, params, prompts, key, *, max_new, stop, temperature, specials):
    line = script[min(turn["n"], len(script) - 1)]
    turn["n"] += 1
    ids = vocab.encode(line)[:max_new]
    b = prompts.shape[0]
    tokens = np.full((b, max_new), vocab.pad, np.int32)
    tokens[:, :len(ids)] = ids
    return sampling.Samples(jnp.asarray(tokens), jnp.zeros((b, max_new)),
                            jnp.full((b,), len(ids), jnp.int32),
                            jnp.full((b,), line.endswith("\n")))

  monkeypatch.setattr(tools.sampling, "generate", generate)


def test_generate_interleaves_the_environment(monkeypatch, tiny_model):
  cfg, graphdef, params = tiny_model
  vocab = CharVocab()
  _scripted_generate(monkeypatch, vocab, ["call calc 2*3\n", "ANSWER: 6\n"])
  out = tools.generate(graphdef, params, vocab, ["compute 2*3\n"] * 2, jax.random.key(0),
                       respond=tools.respond, max_new=40, temperature=1.0, prompt_len=16)
  text = vocab.decode(out.tokens[0])
  assert text == "call calc 2*3\nresult 6\nANSWER: 6\n"
  env = "".join(vocab.decode([t]) for t, e in zip(out.tokens[0], out.env[0]) if e)
  assert env == "result 6\n"
  assert out.calls.tolist() == [1, 1] and out.done.all() and out.flops > 0


def test_a_hostile_policy_meets_the_cap_and_no_exception(monkeypatch, tiny_model):
  cfg, graphdef, params = tiny_model
  vocab = CharVocab()
  _scripted_generate(monkeypatch, vocab, ["call calc 1**2\n"] * 5 + ["ANSWER: 1\n"])
  out = tools.generate(graphdef, params, vocab, ["compute 1*1\n"], jax.random.key(0),
                       respond=tools.respond, max_new=400, temperature=1.0, prompt_len=16)
  lines = vocab.decode(out.tokens[0]).split("\n")
  replies = [l for l in lines if l.startswith("result")]
  assert replies[:4] == ["result error: expected calc a+b a-b or a*b"] * 4
  assert replies[4] == "result error: at most 4 calls per answer"
  assert out.calls[0] == 5 and lines[-2] == "ANSWER: 1"


def test_environment_tokens_carry_no_loss():
  """SFT: the result line's tokens are outside the loss mask. RL: generated_batch masks them, and
  the PG loss's gradient does not change whatever the environment positions hold."""
  from reasoning.train import pg, rollout
  vocab = CharVocab()
  task = ToolUse(get_task("arithmetic", trap_share=0.0, ops="*"))
  [problem] = task.sample(np.random.default_rng(0), 1, 4)
  pieces = task.trace_pieces(problem, True)
  tokens, mask = pad_examples(vocab, [problem.prompt], [pieces], 64)
  text = "".join(vocab.decode([t]) for t, m in zip(tokens[0], mask[0]) if m and t != vocab.eos)
  assert "result" not in text and text.startswith("call calc") and "ANSWER:" in text

  completion = "".join(t for t, _ in pieces)
  ids = vocab.encode(completion)
  env = np.zeros((1, 48), bool)
  start = completion.index("result")
  env[0, start:start + len(pieces[1][0])] = True
  gen = np.full((1, 48), vocab.pad, np.int32)
  gen[0, :len(ids)] = ids
  samples = tools.ToolSamples(gen, env, np.array([len(ids)]), np.array([True]), np.array([1]),
                              0.0)
  prompts = jnp.asarray(np.array([[vocab.bos] + vocab.encode(problem.prompt)], np.int32))
  launched = rollout.Launched([problem], prompts, np.array([prompts.shape[1]]), samples)
  batch_tokens, batch_mask = rollout.generated_batch(launched)
  p = prompts.shape[1]
  assert float(batch_mask[0, p - 1 + start]) == 0.0 and float(batch_mask[0, p - 2 + start]) == 1.0
  assert int(batch_mask.sum()) == len(ids) - len(pieces[1][0])

  logp = jax.random.normal(jax.random.key(0), batch_mask.shape) * 0.1
  adv = jnp.ones_like(logp)
  loss = lambda lp, old: pg.ppo_loss(lp, old, adv, batch_mask, clip_eps=0.2)[0]
  env_positions = batch_mask == 0
  other_old = jnp.where(env_positions, 5.0, logp)  # nonsense where the environment wrote
  g1 = jax.grad(loss)(logp, logp)
  g2 = jax.grad(loss)(logp, other_old)
  np.testing.assert_array_equal(g1, g2)
  assert float(jnp.abs(g1[env_positions]).max()) == 0.0


@pytest.mark.slow
def test_sft_then_rl_with_the_tool_and_exact_resume(tmp_path, monkeypatch):
  from experiments import rl, sft
  sft.run(_config("configs/arithmetic_tools_sft.py"), str(tmp_path / "sft"))
  config = _config("configs/arithmetic_tools_rl.py", init_from=str(tmp_path / "sft"))
  full = rl.run(config, str(tmp_path / "full"))
  records = [json.loads(l) for l in (tmp_path / "full" / "metrics.jsonl").read_text().splitlines()]
  train = [r for r in records if "reward" in r]
  assert [r["step"] for r in train] == [1, 2, 3] and all("tool_calls" in r for r in train)
  assert "eval/tool_calls" in records[0]

  from reasoning import rng
  resumed = _interrupt_then_rerun(monkeypatch, rl, rng, "stream",
                                  lambda a: a[1:3] == ("rl_prompts", 2), config,
                                  str(tmp_path / "resumed"))
  for x, y in zip(jax.tree.leaves(full["params"]), jax.tree.leaves(resumed["params"])):
    np.testing.assert_array_equal(x, y)


def test_calls_made():
  assert calls_made("call calc 1*2\nresult 2\ncall calc 2*2\nresult 4\nANSWER: 4\n") == 2


@pytest.mark.slow
def test_sft_and_rl_with_the_tool_on_a_tiny_hugging_face_model(tmp_path):
  """The same path through a BPE tokenizer: tool traces for SFT (the environment's line out of
  the loss), then RL whose rollouts interleave the model's and the environment's tokens."""
  from experiments import rl, sft
  from reasoning import hf
  task = ToolUse(get_task("arithmetic", trap_share=0.0, ops="*"))
  problems = [p for d in (4, 5) for p in task.sample(np.random.default_rng(0), 50, d)]
  texts = [p.prompt + "".join(t for t, _ in task.trace_pieces(p, True)) for p in problems]
  model_dir = hf.write_tiny_model(str(tmp_path / "model"), texts)
  sft_config = _config("configs/arithmetic_tools_sft.py", train_difficulties=(4,),
                       eval_difficulties=(4,), steps=2, eval_every=2)
  sft_config.model = {"path": model_dir, "dtype": "float32"}
  sft.run(sft_config, str(tmp_path / "sft"))
  config = _config("configs/arithmetic_tools_rl.py", init_from=str(tmp_path / "sft"),
                   train_difficulties=(4,), eval_difficulties=(4,), steps=2)
  out = rl.run(config, str(tmp_path / "rl"))
  assert out["metrics"]["step"] == 2 and "eval/tool_calls" in out["metrics"]
  records = [json.loads(l) for l in (tmp_path / "rl" / "metrics.jsonl").read_text().splitlines()]
  assert all(np.isfinite(r["loss"]) and "tool_calls" in r for r in records if "loss" in r)

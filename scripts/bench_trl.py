"""Our RL step side by side with TRL's GRPOTrainer: the same model, prompts, group size, maximum
new tokens, one update per rollout, f32 on the CPU, the exact answer's reward; whole steps timed
after warm-up.

  python scripts/bench_trl.py --out runs/bench_trl.json                        # a tiny Qwen2 model
  python scripts/bench_trl.py --model .cache/smollm2/hf --out runs/bench_trl_smollm2.json

The prompts are one-digit sums and products, through the model's chat template where it has one
(configs/smollm2_rl.py's wording), else plain `compute a+b` lines; both trainers get the same
prompt strings and score completions with the same verifier. TRL runs with its defaults except
where they would make the two compute different things: no gradient checkpointing (ours keeps
activations), KL coefficient 0.05 against the initial policy (ours), learning rate 1e-5.
Useful tokens are generated completion tokens; seconds per step are the median over the steps
after `--warmup`. Each side's step is also split into phases (median seconds over the timed
steps): `generate`, `score` (log-probs under the policy and the frozen reference: ours with
`time_phases`, which waits at each phase boundary; TRL's `_prepare_inputs` less its generation
and reward, so its scoring includes decoding and padding), `reward` (the verifier), `update`
(forward, backward and optimizer step; ours adds the advantages). With one update per rollout
neither side scores the rollout under the policy before the update (its own forward pass gives
the old log-probs). Before training, both models' log-probs of the same tokens (3 prompts with an
answer) are compared: their largest difference is in the JSON. Needs the `peers` extra and trl
(`pip install trl`). Writes the JSON to --out.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

import numpy as np

from experiments import cli
from reasoning import runs as runs_lib

cli.tune_xla_cpu()


def tiny_model(directory: str) -> str:
  """A tiny random Qwen2-layout checkpoint whose BPE vocabulary covers the prompts."""
  from reasoning import hf
  texts = [f"compute {a}{op}{b}\nANSWER: {a + b if op == '+' else a * b}\n"
           for a in range(10) for b in range(10) for op in "+*"]
  return hf.write_tiny_model(directory, texts * 4)


def our_config(model: str, vocab, args):
  from configs import common as configs, smollm2_rl
  c = smollm2_rl.get_config()
  c.init_from = model
  if not getattr(vocab, "chat_template", None):
    c.task = configs.ConfigDict({"name": "arithmetic", "trap_share": 0.0})
  c.steps = args.warmup + args.steps
  c.prompts_per_step = args.prompts
  c.samples_per_prompt = args.group
  c.minibatch_size = args.prompts * args.group
  c.epochs = 1
  c.max_new = args.max_new
  c.optim.lr = 1e-5
  c.rl.kl_coef = 0.05
  c.eval_problems = 2
  c.eval_every = c.steps
  c.eval_log_points = 0
  c.pass_k = 0
  c.rollout_slots = 0
  c.eval_slots = 0
  c.checkpoint_every = c.steps
  c.time_phases = True
  return c


def run_ours(config, args, workdir: str) -> dict:
  from experiments import rl
  from reasoning.logging import read_metrics
  rl.run(config, workdir)
  train = [r for r in read_metrics(os.path.join(workdir, "metrics.jsonl")) if "reward" in r]
  seconds = np.diff([r["time"] for r in train])[args.warmup - 1:]
  tokens = [r["response_length"] * args.prompts * args.group for r in train][args.warmup:]
  timed = train[args.warmup:]
  phases = {name: float(np.median([r[f"time/{name}"] for r in timed]))
            for name in ("generate", "score", "reward")}
  phases["update"] = float(np.median([r["time/advantages"] + r["time/update"] for r in timed]))
  return {"seconds_per_step": float(np.median(seconds)), "steps_timed": len(seconds),
          "phases": phases,
          "tokens_per_step": float(np.mean(tokens)),
          "useful_tokens_per_second": float(np.mean(tokens) / np.median(seconds)),
          "reward": [r["reward"] for r in train]}


def run_trl(model: str, config, vocab, args, workdir: str) -> dict:
  import datasets
  import torch
  import transformers
  import trl
  task = runs_lib.make_task(config, vocab)
  rng = np.random.default_rng(0)
  problems = [p for _ in range(args.warmup + args.steps) for p in task.sample(rng, args.prompts, 1)]
  by_prompt = {p.prompt: p for p in problems}

  def reward(prompts, completions, **_):
    return [float(task.verify(by_prompt[p], c)) for p, c in zip(prompts, completions)]

  torch.set_num_threads(os.cpu_count() or 1)
  tokenizer = transformers.AutoTokenizer.from_pretrained(model)
  if tokenizer.pad_token is None:
    tokenizer.pad_token = tokenizer.eos_token
  policy = transformers.AutoModelForCausalLM.from_pretrained(model, torch_dtype=torch.float32)
  times = []
  profiled = []  # (step, TRL's profiling name, seconds)

  class Clock(transformers.TrainerCallback):
    def on_step_end(self, *_, **__):
      times.append(time.perf_counter())

  from trl.extras import profiling
  setattr(profiling.ProfilingContext, "_log_metrics",
          lambda self, seconds: profiled.append((len(times), self.name.split(".")[-1], seconds)))
  step_seconds = []
  train_step = trl.GRPOTrainer.training_step

  def timed_training_step(self, *a, **k):
    start = time.perf_counter()
    out = train_step(self, *a, **k)
    step_seconds.append(time.perf_counter() - start)
    return out

  trl_config = trl.GRPOConfig(
      output_dir=workdir, per_device_train_batch_size=args.prompts * args.group,
      num_generations=args.group, max_completion_length=args.max_new, temperature=1.0,
      learning_rate=1e-5, beta=0.05, num_iterations=1, max_steps=args.warmup + args.steps,
      logging_steps=1, report_to="none", save_strategy="no", use_cpu=True, bf16=False,
      gradient_checkpointing=False, shuffle_dataset=False, seed=0)
  trainer = trl.GRPOTrainer(model=policy, reward_funcs=reward, args=trl_config,
                            processing_class=tokenizer, callbacks=[Clock()],
                            train_dataset=datasets.Dataset.from_dict(
                                {"prompt": [p.prompt for p in problems]}))
  setattr(trainer, "training_step", timed_training_step.__get__(trainer))
  start = time.perf_counter()
  trainer.train()
  times = [start] + times
  seconds = np.diff(times)[args.warmup:]
  lengths = [h["completions/mean_length"] for h in trainer.state.log_history
             if "completions/mean_length" in h][args.warmup:]
  tokens = float(np.mean(lengths)) * args.prompts * args.group
  timed = range(args.warmup, args.warmup + args.steps)
  return {"seconds_per_step": float(np.median(seconds)), "steps_timed": len(seconds),
          "phases": trl_phases(profiled, step_seconds, timed),
          "tokens_per_step": tokens, "useful_tokens_per_second": tokens / float(np.median(seconds)),
          "versions": {"trl": trl.__version__, "transformers": transformers.__version__,
                       "torch": torch.__version__}}


def trl_phases(profiled, step_seconds, steps) -> dict[str, float]:
  """Median seconds per phase of TRL's timed steps, from its profiling records (step, name,
  seconds): generation, scoring (the rest of _prepare_inputs), reward, and the update (the rest
  of training_step)."""
  def total(step, name):
    return sum(t for s, n, t in profiled if s == step and n == name)

  per_step = []
  for step in steps:
    generate, reward = total(step, "generate"), total(step, "reward")
    prepare = total(step, "_prepare_inputs")
    per_step.append({"generate": generate, "score": prepare - generate - reward,
                     "reward": reward, "update": step_seconds[step] - prepare})
  return {k: float(np.median([p[k] for p in per_step])) for k in per_step[0]}


def logprob_agreement(model: str, vocab, graphdef, params, prompts: list[str]) -> float:
  """The largest difference between our log-probs (graphdef, params: our import of `model`) and
  transformers' (the model TRL trains) of the same tokens: each prompt with a short answer, as
  our sampler feeds it (BOS where the vocabulary has one), every next token's log-probability
  under the full softmax."""
  import jax.numpy as jnp
  import torch
  import transformers
  from reasoning import model as model_lib
  from reasoning.text import pad_prompts
  torch_model = transformers.AutoModelForCausalLM.from_pretrained(model, dtype=torch.float32)
  worst = 0.0
  for prompt in prompts:
    tokens = pad_prompts(vocab, [prompt + "42\n"])
    ours = np.asarray(model_lib.next_token_stats(graphdef, params, jnp.asarray(tokens)).logp)
    with torch.no_grad():
      logits = torch_model(torch.as_tensor(tokens, dtype=torch.long)).logits
    theirs = torch.log_softmax(logits[:, :-1].double(), -1).gather(
        -1, torch.as_tensor(tokens[:, 1:], dtype=torch.long)[..., None])[..., 0].numpy()
    worst = max(worst, float(np.abs(ours - theirs).max()))
  return worst


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--model", default="", help="a Hugging Face model directory (default: a "
                                                  "tiny random Qwen2-layout model)")
  parser.add_argument("--prompts", type=int, default=8)
  parser.add_argument("--group", type=int, default=4)
  parser.add_argument("--max_new", type=int, default=32)
  parser.add_argument("--steps", type=int, default=4, help="steps timed after the warm-up")
  parser.add_argument("--warmup", type=int, default=2)
  parser.add_argument("--out", required=True)
  args = parser.parse_args()
  with tempfile.TemporaryDirectory() as tmp:
    model = args.model or tiny_model(os.path.join(tmp, "model"))
    vocab, _, _, graphdef, params, _ = runs_lib.load_sft(model)
    config = our_config(model, vocab, args)
    task = runs_lib.make_task(config, vocab)
    prompts = [p.prompt for p in task.sample(np.random.default_rng(1), 3, 1)]
    agreement = logprob_agreement(model, vocab, graphdef, params, prompts)
    ours = run_ours(config, args, os.path.join(tmp, "ours"))
    peer = run_trl(model, config, vocab, args, os.path.join(tmp, "trl"))
  import jax
  result = {"model": args.model or "tiny random Qwen2 (hidden 32, 2 layers)",
            "prompts": args.prompts, "group": args.group, "max_new": args.max_new,
            "device": jax.devices()[0].device_kind, "cpus": os.cpu_count(),
            "ours": ours, "trl": peer, "logprob_max_abs_diff_step0": agreement,
            "ratio_tokens_per_second": ours["useful_tokens_per_second"]
            / peer["useful_tokens_per_second"]}
  os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
  with open(args.out, "w") as f:
    json.dump(result, f, indent=1)
  print(f"ours {ours['seconds_per_step']:.2f} s/step, {ours['useful_tokens_per_second']:.0f} "
        f"useful tok/s; TRL {peer['seconds_per_step']:.2f} s/step, "
        f"{peer['useful_tokens_per_second']:.0f} useful tok/s; ratio "
        f"{result['ratio_tokens_per_second']:.2f}x")
  print(f"log-probs of the same tokens at step 0, ours against transformers': max |diff| "
        f"{agreement:.2e}")
  for side, out in (("ours", ours), ("TRL", peer)):
    print(f"{side} phases (s): " + "  ".join(f"{k} {v:.3f}" for k, v in out["phases"].items()))
  print(f"wrote {args.out}")


if __name__ == "__main__":
  main()

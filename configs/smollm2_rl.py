"""GRPO on a real pretrained model: SmolLM2-135M-Instruct asked one-digit sums and products
through its own chat template, rewarded by the exact verifier.

  make smollm2                                    # fetch and convert the model (.cache/smollm2)
  python -m experiments.rl --config configs/smollm2_rl.py --workdir runs/smollm2_rl
  python -m experiments.rl --config configs/smollm2_rl.py:lora --workdir runs/smollm2_rl_lora

The question is the user turn ("What is 7 * 8? Answer with just the number."), the reply's stated
answer is read as an instruct model states it (`Answer: 56`, or its last number:
tasks/chat.natural_answer), and a reply with none scores 0. No SFT: the policy and the frozen KL
reference start at the pretrained weights (a base-model `init_from` counts no train FLOPs), and
the held-out problems are drawn with seed 0. Held-out accuracy is reported greedy and sampled
(the mean of `pass_k` samples at T=1 per problem), paired per problem between the first and
last evaluation. `:lora` trains rank-16 adapters on the attention and MLP kernels instead of
every parameter. `:tiny` is for tests (a tiny random instruct-format model).
"""

from configs import common, hf_rl


def get_config(arg: str | None = None) -> common.ConfigDict:
  c = hf_rl.get_config()
  c.init_from = ".cache/smollm2/hf"
  c.task = common.ConfigDict({
      "name": "arithmetic", "trap_share": 0.0,
      "chat": common.chat("What is {a} {op} {b}?", "Answer with just the number.")})
  c.train_difficulties = c.eval_difficulties = (1,)
  c.eval_problems = 200
  c.pass_k = 4
  c.none_penalty = 0.0
  c.optim = common.optim(1e-5, 2, min_lr_ratio=0.5)
  c.steps = 32
  c.prompts_per_step = 8
  c.samples_per_prompt = 8
  c.minibatch_size = 32
  c.max_new = 32
  c.rollout_slots = 0
  c.eval_slots = 0
  c.eval_every = 32
  c.eval_log_points = 4        # evaluations at steps 0, 1, 3, 10, 32: the compute curve
  common.outputs(c, checkpoint_every=5, log_every=1)
  return common.variant(
      c, arg, "configs/smollm2_rl.py",
      lora={"lora.rank": 16, "lora.alpha": 32.0, "optim.lr": 1e-4},
      tiny={"init_from": "", "eval_problems": 2, "steps": 2, "prompts_per_step": 2,
            "samples_per_prompt": 2, "minibatch_size": 4, "max_new": 8, "pass_k": 2,
            "eval_every": 2, "eval_log_points": 0, "checkpoint_every": 1})

"""SFT of the default Countdown policy (0.86M parameters) on exact-solver solutions: trains on
difficulties 1-2 (3 and 4 numbers), evaluates 1-3; 10% traps.

  python -m experiments.sft --config configs/countdown_sft.py
  python -m experiments.sft --config configs/countdown_sft.py:tiny --workdir /tmp/sft_tiny
  python -m experiments.sft --config configs/countdown_sft.py:retry   # :probes :search :attempts :goals

The variants write the solver's search into the chain of thought
(reasoning/tasks/countdown_traces.py) or teach a `retry` after a miss. Results, times and
machine: docs/training.md.
"""

from configs import common


def get_config(arg: str | None = None) -> common.ConfigDict:
  c = common.ConfigDict()
  c.seed = 0
  c.task = common.countdown()
  c.train_difficulties = (1, 2)
  c.eval_difficulties = (1, 2, 3)
  c.train_problems = 12_000          # pool per difficulty; eval problems are excluded from it
  c.eval_problems = 200              # per difficulty
  c.solutions = "canonical"          # 'random': a random valid one; 'probes', 'search', 'attempts',
                                     # 'goals': the solver's search written out (countdown_traces)
  c.hint_share = 0.1                 # prompts with a STaR hint line (experiments.star uses it)
  c.retries = 0                      # > 0: a retry_share of solvable examples show 1..retries
  c.retry_share = 0.5                #   failed attempts, then `retry` and the solution (:retry)
  c.own_misses_from = ""             # an SFT workdir: its greedy misses become retry examples
  c.give_up = False                  # traps: `retries` misses, then none (solvable: fewer)
  c.model = common.model()
  c.optim = common.optim(2e-3, 100, min_lr_ratio=0.05, weight_decay=0.01)
  c.steps = 1500
  c.batch_size = 64
  c.seq_len = 96
  c.pack_len = 96                    # > 0: pack each batch's examples into rows of this length
  c.pass_k = 4                       # sampled pass@k at the final evaluation (0: off)
  c.mesh = common.mesh()
  c.memory = common.memory()
  c.lora = common.lora()         # rank > 0 on a pretrained model (model.path) only
  common.outputs(c, checkpoint_every=250, log_every=50, eval_every=500)
  traces = lambda name, n, max_len=None: {"solutions": name, "seq_len": n, "pack_len": n,
                                          **({"model.max_len": max_len} if max_len else {})}
  return common.variant(
      c, arg, "configs/countdown_sft.py",
      tiny={"train_problems": 300, "eval_problems": 8, "steps": 6, "batch_size": 8,
            "optim.warmup_steps": 2, "eval_every": 3, "pass_k": 2, "checkpoint_every": 2,
            "log_every": 1, **{f"model.{k}": v for k, v in common.TINY_MODEL.items()}},
      small={"steps": 600, "eval_every": 200, "eval_problems": 100, "pass_k": 0},
      retry={"retries": 2, "seq_len": 128, "pack_len": 128},     # a policy that retries
      probes=traces("probes", 160, 192),     # moves judged after their result is written
      search={**traces("search", 256, 320),  # difficulty 1 by a written-out search
              "train_difficulties": (1,), "eval_difficulties": (1, 2)},
      attempts=traces("attempts", 256, 320),  # difficulty 2 as a search over first moves
      goals=traces("goals", 320, 384),        # difficulty 2 as a backward search over goals
      # Model size as an axis (scripts/exchange.py): 0.22M and 3.4M parameters beside the
      # default 0.86M, the same data and steps.
      width64={"model.d_model": 64, "model.d_ff": 192},
      width256={"model.d_model": 256, "model.d_ff": 768})

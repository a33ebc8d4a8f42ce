"""SFT of the default Countdown policy on exact-solver solutions (trains on difficulties 1-2,
evaluates 1-3; 10% traps).

  python -m experiments.sft --config configs/countdown_sft.py
  python -m experiments.sft --config configs/countdown_sft.py:tiny --workdir /tmp/sft_tiny
  python -m experiments.sft --config configs/countdown_sft.py:retry [--config.give_up=True]
  python -m experiments.sft --config configs/countdown_sft.py:probes     # or :search

Machine: 2 CPU cores. Time: 294 s (tiny: seconds; :retry 640-980 s: longer examples).
Measured (seed 0, session 8): held-out greedy pass@1 53.0% at difficulty 1 (3 numbers), 14.5%
at 2, 0.0% at 3 (5 numbers): the headroom that RL and search close later. Details in the
README's "Measured" table. `:retry` teaches the `retry` line (reasoning/tasks/countdown.py):
d1 45.0 / d2 14.5 / d3 1.5%, no better at d2 than the default and 9 points worse at d1
(docs/results.md, session 10). `:search` trains on d1 only, on the solver's search written out
as complete attempts in a fixed order: d1 96.0%, 1,421 s (plain d1 solutions, same FLOPs: 92.5%);
`:probes` (moves judged after their result is written): d1 48.0 / d2 11.0% (session 11).
`:attempts` / `:goals` write d2's search out, forward over first moves / backward over the
number used last: d1 74.0 / 58.0, d2 13.0 / 3.0% (2,096 s shared / 1,077 s; session 12).
"""

import ml_collections


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.seed = 0
  c.task = ml_collections.ConfigDict({"name": "countdown", "trap_share": 0.1})
  c.train_difficulties = "1,2"
  c.eval_difficulties = "1,2,3"
  c.train_problems = 12_000          # pool per difficulty; eval problems are excluded from it
  c.eval_problems = 200              # per difficulty
  c.solutions = "canonical"          # 'random': a random valid one; 'probes', 'search', 'attempts',
                                     # 'goals': the solver's search written out (sft.py: TRACES)
  c.hint_share = 0.1                 # prompts with a STaR hint line (experiments/star.py uses it)
  c.retries = 0                      # > 0: a retry_share of solvable examples show 1..retries
  c.retry_share = 0.5                #   failed attempts, then `retry` and the solution (:retry)
  c.own_misses_from = ""             # an SFT workdir: its greedy misses become retry examples
  c.give_up = False                  # traps: `retries` misses, then none (solvable: fewer)
  c.model = ml_collections.ConfigDict({
      "d_model": 128, "n_layers": 4, "n_heads": 4, "n_kv_heads": 4, "d_ff": 384,
      "max_len": 128, "mlp": "swiglu", "tie_embeddings": True, "dtype": "float32"})
  c.optim = ml_collections.ConfigDict({
      "lr": 2e-3, "warmup_steps": 100, "min_lr_ratio": 0.05, "weight_decay": 0.01,
      "b1": 0.9, "b2": 0.98, "grad_clip": 1.0})
  c.steps = 1500
  c.batch_size = 64
  c.seq_len = 96
  c.pack_len = 96                    # > 0: pack each batch's examples into rows of this length (0: pad)
  c.eval_every = 500
  c.pass_k = 4                       # sampled pass@k at the final evaluation (0: off)
  c.mesh = ml_collections.ConfigDict({"data": -1, "fsdp": 1, "tensor": 1})  # reasoning/mesh.py
  c.checkpoint_every = 250
  c.keep_checkpoints = 2
  c.log_every = 50
  if arg == "tiny":
    c.train_problems = 300
    c.eval_problems = 8
    c.model.update({"d_model": 32, "n_layers": 2, "n_heads": 2, "n_kv_heads": 2, "d_ff": 64})
    c.steps = 6
    c.batch_size = 8
    c.optim.warmup_steps = 2
    c.eval_every = 3
    c.pass_k = 2
    c.checkpoint_every = 2
    c.log_every = 1
  elif arg == "small":  # make reproduce SCALE=small: the same model, a shorter run
    c.steps = 600
    c.eval_every = 200
    c.eval_problems = 100
    c.pass_k = 0
  elif arg == "retry":  # a policy that retries after a missed target (docs/results.md, session 10)
    c.retries = 2
    c.seq_len = 128
    c.pack_len = 128
  elif arg == "probes":  # moves judged after their result is written (docs/results.md, session 11)
    c.solutions = "probes"
    c.seq_len = 160
    c.pack_len = 160
    c.model.max_len = 192
  elif arg == "search":  # difficulty 1 solved by a written-out search (docs/results.md, session 11)
    c.solutions = "search"
    c.train_difficulties = "1"
    c.eval_difficulties = "1,2"
    c.seq_len = 256
    c.pack_len = 256
    c.model.max_len = 320
  elif arg == "attempts":  # difficulty 2 as a search over first moves (docs/results.md, session 12)
    c.solutions = "attempts"
    c.seq_len = 256
    c.pack_len = 256
    c.model.max_len = 320
  elif arg == "goals":  # difficulty 2 as a backward search over goals (docs/results.md, session 12)
    c.solutions = "goals"
    c.seq_len = 320
    c.pack_len = 320
    c.model.max_len = 384
  elif arg is not None:
    raise ValueError(f"configs/countdown_sft.py: unknown variant {arg!r}; expected 'tiny', "
                     "'small', 'retry', 'probes', 'search', 'attempts', 'goals' or none")
  return c

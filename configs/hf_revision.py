"""Sequential revisions on math word problems with a Hugging Face policy and PRM: a revision model
fine-tuned from the policy on its own samples, its chains of revisions, and the split of a
budget between revisions and parallel chains.

  python -m experiments.revision --config configs/hf_revision.py \
      --config.init_from=<hf_sft workdir> --config.prm=<hf_verifier workdir> \
      --config.task.path=/data/gsm8k_train.jsonl

A critic (`--config.critic`) needs a task with a step oracle (the synthetic tasks). `:tiny` is
for tests.
"""

from configs import common, countdown_revision


def get_config(arg: str | None = None) -> common.ConfigDict:
  c = common.on_math(countdown_revision.get_config(common.base_variant(arg)), "init_from", "prm")
  c.train_problems = 500
  c.eval_problems = 100
  c.max_new = 256
  c.seq_len = 768
  c.optim = common.optim(1e-5, 20, b2=0.95)
  return common.variant(c, arg, "configs/hf_revision.py",
                        tiny=common.math_tiny(c, train_problems=4, eval_problems=2, max_new=16,
                                              seq_len=192, **common.FAST_OPTIM))

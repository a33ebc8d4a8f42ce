#!/usr/bin/env bash
# Every figure from scratch, on the default CPU-sized configs: SFT -> RL (4 algorithms) ->
# ORM / PRM -> best-of-N -> test-time search with the compute-optimal frontier -> STaR (with and
# without rationalization), expert iteration with MCTS -> rStar -> the train-compute comparison
# -> coverage to k = 256 with its power law before and after RL (does RL only sharpen?), the o1
# pair (pass@1 against RL compute and best-of-N with the exact checker against test-time compute,
# fitted), test-time compute against model size (SFT at 0.22M, 0.86M and 3.4M parameters), and
# on-policy distillation of the 0.22M model against RL -> a critic, sequential revisions (with
# and without its critiques, and with the oracle's), Quiet-STaR, and RL with a calc tool -> RL
# compute curves over seeds, fitted: the default run and the 2025 recipes ->
# at full scale, GRPO on a real pretrained model (SmolLM2-135M-Instruct) with its o1 pair.
#
#   scripts/reproduce.sh [OUT_DIR]         (make reproduce; OUT_DIR defaults to runs/reproduce,
#                                          runs/reproduce_SCALE at another scale)
#   SCALE=small scripts/reproduce.sh DIR   every stage on its `:small` config, the same models on
#                                          fewer problems and steps (make reproduce SCALE=small;
#                                          stages 1-10 about 20 minutes on 2 CPU cores, then 18
#                                          short RL runs)
#   SCALE=smoke scripts/reproduce.sh DIR   every stage on its `:tiny` config (about 4 minutes;
#                                          the test suite runs it end to end)
#
# Resumable: every stage writes its own workdir and resumes (or just reprints) when rerun, so an
# interrupted reproduce picks up where it stopped. The figures land in OUT_DIR/figures/.
set -euo pipefail
PY=${PY:-.venv/bin/python}
SCALE_NAME=${SCALE:-full}
if [ "$SCALE_NAME" = full ]; then OUT=${1:-runs/reproduce}; else OUT=${1:-runs/reproduce_$SCALE_NAME}; fi
case "$SCALE_NAME" in
  full) V="" ; VV=":large" ; ALGOS="grpo ppo rloo reinforce" ; K=256 ; COVERAGE="" ; EXCHANGE=""
        FIT="fit" ; SWEEP="sweep" ; SWEEP_SET="--set rollout_slots=0 --set eval_slots=0" ; SEEDS="0,1,2"
        RECIPES="grpo,dapo,dr_grpo,gspo,cispo" ; TEST_KEY=d2 ; BOUNDARY_KEY=d1 ; TOOLS=""
        ASYNC="default,async1,async2,async4" ;;
  small) V=":small" ; VV=":small" ; ALGOS="grpo ppo" ; K=64 ; COVERAGE="--problems 50"
         EXCHANGE="--problems 50 --n 16" ; FIT="small" ; SWEEP="small" ; SWEEP_SET="" ; SEEDS="0,1,2"
         RECIPES="grpo,dapo,dr_grpo,gspo,cispo" ; TEST_KEY=d2 ; BOUNDARY_KEY=d1 ; TOOLS="--problems 50"
         ASYNC="default,async1,async2,async4" ;;
  smoke) V=":tiny" ; VV=":tiny" ; ALGOS="grpo" ; K=4 ; COVERAGE="--problems 3 --bin_samples 2 --max_new 24"
         EXCHANGE="--problems 3 --n 2 --max_new 24" ; FIT="tiny" ; SWEEP="tiny" ; SWEEP_SET="" ; SEEDS="0,1"
         RECIPES="dapo" ; TEST_KEY=all ; BOUNDARY_KEY=all ; TOOLS="--problems 3"
         ASYNC="async2" ;;
  *) echo "SCALE must be full, small or smoke, got '${SCALE}'" >&2; exit 2 ;;
esac
mkdir -p "$OUT/figures"
stage() { echo; echo "=== [$(date +%H:%M:%S)] $1"; }

stage "1/11 SFT (configs/countdown_sft.py)"
$PY -m experiments.sft --config configs/countdown_sft.py$V --workdir "$OUT/sft"

stage "2/11 RL from the SFT checkpoint, one run per algorithm"
for algo in $ALGOS; do
  $PY -m experiments.rl --config configs/countdown_rl.py$V --config.init_from="$OUT/sft" \
      --config.rl.algo=$algo --workdir "$OUT/rl_$algo"
done
$PY scripts/plot_train_scaling.py --out "$OUT/figures/countdown_train_scaling.png" \
    $(for algo in $ALGOS; do echo "$OUT/rl_$algo"; done)

stage "3/11 reward models: ORM, PRM from oracle labels (full scale: 96,000 solutions each); RL against a PRM, an ORM, dense PRM steps, at three data sizes"
$PY -m experiments.verifier --config configs/countdown_verifier.py$VV --config.init_from="$OUT/sft" \
    --config.kind=orm --workdir "$OUT/orm"
$PY -m experiments.verifier --config configs/countdown_verifier.py$VV --config.init_from="$OUT/sft" \
    --config.kind=prm --workdir "$OUT/prm"
# Overoptimization (Gao et al. 2022): RL without a KL term against the demo-size PRM and ORM, and
# against the exact verifier, the gold reward measured on every sample of each.
WEAK=$([ "$SCALE_NAME" = smoke ] && echo ":tiny" || echo ":small")
OVER=$([ "$SCALE_NAME" = smoke ] && echo "--config.steps=4" || echo "")
if [ "$SCALE_NAME" = smoke ]; then  # both sizes are the :tiny config here: the same two runs
  ln -sfn prm "$OUT/prm_small" && ln -sfn orm "$OUT/orm_small"
else
  $PY -m experiments.verifier --config configs/countdown_verifier.py$WEAK \
      --config.init_from="$OUT/sft" --workdir "$OUT/prm_small"
  $PY -m experiments.verifier --config configs/countdown_verifier.py$WEAK \
      --config.init_from="$OUT/sft" --config.kind=orm --workdir "$OUT/orm_small"
fi
$PY -m experiments.rl --config configs/countdown_rl.py$V --config.init_from="$OUT/sft" \
    --config.rl.kl_coef=0 $OVER --workdir "$OUT/rl_nokl"
$PY -m experiments.rl --config configs/countdown_rl.py$V --config.init_from="$OUT/sft" \
    --config.rl.kl_coef=0 --config.reward.model="$OUT/prm_small" $OVER --workdir "$OUT/rl_prm_small"
$PY -m experiments.rl --config configs/countdown_rl.py$V --config.init_from="$OUT/sft" \
    --config.rl.kl_coef=0 --config.reward.model="$OUT/orm_small" $OVER --workdir "$OUT/rl_orm_small"
$PY -m experiments.rl --config configs/countdown_rl.py$V --config.init_from="$OUT/sft" \
    --config.rl.kl_coef=0 --config.reward.model="$OUT/prm_small" --config.reward.dense=True $OVER \
    --workdir "$OUT/rl_prm_dense"
if [ "$SCALE_NAME" != smoke ]; then  # the reward models' data: 100 and 1,600 training problems
  for n in 100 1600; do
    for kind in prm orm; do
      [ $kind = orm ] && [ $n = 100 ] && continue
      $PY -m experiments.verifier --config configs/countdown_verifier.py$WEAK \
          --config.init_from="$OUT/sft" --config.kind=$kind --config.train_problems=$n \
          --config.steps=$((n * 150 / 400)) --workdir "$OUT/${kind}_n$n"
      $PY -m experiments.rl --config configs/countdown_rl.py$V --config.init_from="$OUT/sft" \
          --config.rl.kl_coef=0 --config.reward.model="$OUT/${kind}_n$n" \
          --config.eval_log_points=0 --workdir "$OUT/rl_${kind}_n$n"
    done
  done
fi

stage "4/11 best-of-N: majority, ORM, PRM"
$PY -m experiments.best_of_n --config configs/countdown_bon.py$V --config.policy="$OUT/sft" \
    --config.orm="$OUT/orm" --config.prm="$OUT/prm" --workdir "$OUT/bon"
# Best-of-n against the demo-size reward models that RL overoptimized in stage 3 (Gao's form).
$PY -m experiments.best_of_n --config configs/countdown_bon.py$V --config.policy="$OUT/sft" \
    --config.orm="$OUT/orm_small" --config.prm="$OUT/prm_small" --config.eval_difficulties=1,2 \
    --workdir "$OUT/bon_small"
$PY scripts/overoptimization.py --out "$OUT/overoptimization_bon" --bon "$OUT/bon_small"

stage "5/11 test-time search: best-of-N, beam, lookahead, MCTS; compute-optimal frontier"
$PY -m experiments.search --config configs/countdown_search.py$V --config.policy="$OUT/sft" \
    --config.prm="$OUT/prm" --workdir "$OUT/search"

stage "6/11 self-improvement: STaR with and without rationalization, expert iteration (MCTS)"
$PY -m experiments.star --config configs/countdown_star.py$V --config.init_from="$OUT/sft" \
    --workdir "$OUT/star"
if [ "$SCALE_NAME" != smoke ]; then  # the smoke scale skips these STaR variants
  $PY -m experiments.star --config configs/countdown_star.py$V --config.init_from="$OUT/sft" \
      --config.rationalize=False --workdir "$OUT/star_norat"
  # The paper's loop: a fixed problem set, 8 samples each, no union of earlier iterations.
  $PY -m experiments.star --config configs/countdown_star.py$V --config.init_from="$OUT/sft" \
      --config.fresh_problems=False --config.accumulate=False --config.samples=8 \
      --workdir "$OUT/star_fixed"
  $PY scripts/plot_train_scaling.py --out "$OUT/figures/countdown_star_fresh.png" \
      "$OUT/star" "$OUT/star_fixed" "$OUT/star_norat"
fi
$PY -m experiments.expert_iteration --config configs/countdown_expert_iteration.py$V \
    --config.init_from="$OUT/sft" --workdir "$OUT/expert_iteration"

stage "7/11 rStar: MCTS generator, the GRPO policy as discriminator"
$PY -m experiments.rstar --config configs/countdown_rstar.py$V --config.generator="$OUT/sft" \
    --config.prm="$OUT/prm" --config.discriminator="$OUT/rl_grpo" --workdir "$OUT/rstar"

stage "8/11 train-compute comparison: SFT, RL, STaR, expert iteration"
$PY scripts/plot_train_scaling.py --out "$OUT/figures/countdown_self_improvement.png" \
    $(ls -d "$OUT/rl_grpo" "$OUT/star" "$OUT/star_norat" "$OUT/expert_iteration" 2>/dev/null)

stage "9/11 scaling: coverage to k = $K before and after RL, the o1 pair, test-time compute against model size, distillation against RL"
$PY scripts/coverage.py --policy "$OUT/sft" --out "$OUT/coverage" --k $K $COVERAGE
$PY scripts/coverage.py --policy "$OUT/rl_grpo" --out "$OUT/coverage_rl" --k $K $COVERAGE
$PY scripts/boundary.py --before "$OUT/coverage" --after "$OUT/coverage_rl" \
    --out "$OUT/boundary" --key $BOUNDARY_KEY
$PY scripts/o1_pair.py --out "$OUT/figures/countdown_o1_pair.png" --rl "$OUT/rl_grpo" \
    --coverage "$OUT/coverage_rl" --key d1 --test_key $TEST_KEY --json "$OUT/figures/o1_pair.json"
variant_of() { if [ -z "$V" ]; then echo ":$1"; else echo "$V,$1"; fi; }  # a variant on this scale
for width in 64 256; do
  $PY -m experiments.sft --config configs/countdown_sft.py$(variant_of width$width) \
      --workdir "$OUT/sft_width$width"
done
$PY scripts/exchange.py --out "$OUT/exchange" "$OUT/sft_width64" "$OUT/sft" \
    "$OUT/sft_width256" $EXCHANGE
# The 0.22M model trained from its SFT run three ways at the same batch: RL, on-policy
# distillation from the 0.86M SFT run, SFT on that teacher's samples; coverage of each.
$PY -m experiments.rl --config configs/countdown_rl.py$V --config.init_from="$OUT/sft_width64" \
    --workdir "$OUT/rl_width64"
for arm in distill distill_offpolicy; do
  variant=$([ $arm = distill ] && echo "$V" || variant_of offpolicy)
  # At full scale each arm runs to the RL run's student FLOPs (2.7e12): 176 and 236 steps.
  steps=$([ "$SCALE_NAME" != full ] || { [ $arm = distill ] && echo "--config.steps=176" ||
                                         echo "--config.steps=236"; })
  $PY -m experiments.distill --config configs/countdown_distill.py$variant $steps \
      --config.init_from="$OUT/sft_width64" --config.teacher="$OUT/sft" --workdir "$OUT/$arm"
done
for run in sft_width64 rl_width64 distill distill_offpolicy; do
  $PY scripts/coverage.py --policy "$OUT/$run" --out "$OUT/coverage_$run" --k $K $COVERAGE
done
$PY scripts/distillation.py --out "$OUT/distillation" --start "$OUT/coverage_sft_width64" \
    --teacher "$OUT/coverage" --key $TEST_KEY --metric sampled/$TEST_KEY \
    "RL (GRPO)=$OUT/rl_width64:$OUT/coverage_rl_width64" \
    "on-policy distillation=$OUT/distill:$OUT/coverage_distill" \
    "SFT on teacher samples=$OUT/distill_offpolicy:$OUT/coverage_distill_offpolicy"

stage "10/11 a critic, sequential revisions (no critique, its critiques, the oracle's), Quiet-STaR, tool use"
$PY -m experiments.critic --config configs/countdown_critic.py$V --config.init_from="$OUT/sft" \
    --config.prm="$OUT/prm" --workdir "$OUT/critic"
# Overoptimization against every reward source of stage 3 and the critic's verdict.
$PY -m experiments.rl --config configs/countdown_rl.py$V --config.init_from="$OUT/sft" \
    --config.rl.kl_coef=0 --config.reward.model="$OUT/critic" --config.eval_log_points=0 $OVER \
    --workdir "$OUT/rl_critic"
$PY scripts/overoptimization.py --out "$OUT/overoptimization" prm_min_400="$OUT/rl_prm_small" \
    $([ "$SCALE_NAME" = smoke ] || echo "prm_min_100=$OUT/rl_prm_n100 prm_min_1600=$OUT/rl_prm_n1600") \
    prm_dense_400="$OUT/rl_prm_dense" orm_400="$OUT/rl_orm_small" \
    $([ "$SCALE_NAME" = smoke ] || echo "orm_1600=$OUT/rl_orm_n1600") critic="$OUT/rl_critic" \
    verifier="$OUT/rl_nokl"
$PY -m experiments.revision --config configs/countdown_revision.py$V --config.init_from="$OUT/sft" \
    --config.prm="$OUT/prm" --workdir "$OUT/revision"
$PY -m experiments.revision --config configs/countdown_revision.py$V --config.init_from="$OUT/sft" \
    --config.prm="$OUT/prm" --config.context=1 --workdir "$OUT/revision_context1"
$PY -m experiments.revision --config configs/countdown_revision.py$V --config.init_from="$OUT/sft" \
    --config.prm="$OUT/prm" --config.context=1 --config.critic="$OUT/critic" \
    --config.compare_with="$OUT/revision_context1" --workdir "$OUT/revision_critic"
$PY -m experiments.revision --config configs/countdown_revision.py$V --config.init_from="$OUT/sft" \
    --config.prm="$OUT/prm" --config.critic=oracle --config.keep_right=1.0 --config.context=1 \
    --config.finetune.epochs=10 --workdir "$OUT/revision_oracle"
$PY -m experiments.quiet_star --config configs/arithmetic_quiet_star.py$V --workdir "$OUT/quiet_star"

# Tool use: SFT on calc-tool traces (half of them), RL with the tool, accuracy with and without.
$PY -m experiments.sft --config configs/arithmetic_tools_sft.py$V --workdir "$OUT/tools_sft"
$PY -m experiments.rl --config configs/arithmetic_tools_rl.py$V --config.init_from="$OUT/tools_sft" \
    --workdir "$OUT/tools_rl"
$PY scripts/tool_use.py --out "$OUT/tool_use" "sft=$OUT/tools_sft" "rl=$OUT/tools_rl" $TOOLS

stage "11/11 RL compute curves over seeds, fitted: the default run, the 2025 recipes, asynchronous sampling"
if [ ":$FIT" = "$V" ]; then  # seed 0 of the default run at this scale is stage 2's GRPO run
  mkdir -p "$OUT/rl_fit/default" && ln -sfn ../../rl_grpo "$OUT/rl_fit/default/seed0"
fi
$PY scripts/recipe_sweep.py --python "$PY" --init_from "$OUT/sft" --out "$OUT/rl_fit" --recipes default \
    --seeds $SEEDS --variant $FIT
$PY scripts/recipe_sweep.py --python "$PY" --init_from "$OUT/sft" --out "$OUT/recipes" --recipes $RECIPES \
    --seeds $SEEDS --variant $SWEEP $SWEEP_SET
# An asynchronous sampler 0, 1, 2 or 4 steps ahead of the learner: wall time per step and the
# compute curve of each (the slot engine on, as in the default config).
$PY scripts/recipe_sweep.py --python "$PY" --init_from "$OUT/sft" --out "$OUT/async" --recipes $ASYNC \
    --seeds $SEEDS --variant $SWEEP

if [ "$SCALE_NAME" = full ]; then
  stage "real model (full scale only): GRPO on SmolLM2-135M-Instruct through its chat template (about 1 hour)"
  $PY scripts/smollm2.py --out .cache/smollm2
  $PY -m experiments.rl --config configs/smollm2_rl.py --workdir "$OUT/smollm2_rl"
  $PY scripts/coverage.py --policy .cache/smollm2/hf --out "$OUT/smollm2_coverage" \
      --task arithmetic --question "What is {a} {op} {b}?" \
      --instruction "Answer with just the number." --difficulties 1 --problems 100 --k 16 \
      --bin_samples 0 --greedy --max_new 32
  $PY scripts/coverage.py --policy "$OUT/smollm2_rl" --out "$OUT/smollm2_coverage_rl" \
      --difficulties 1 --problems 100 --k 16 --bin_samples 0 --greedy --max_new 32
  $PY scripts/boundary.py --before "$OUT/smollm2_coverage" --after "$OUT/smollm2_coverage_rl" \
      --out "$OUT/smollm2_boundary" --key d1
  $PY scripts/o1_pair.py --out "$OUT/figures/smollm2_o1_pair.png" --rl "$OUT/smollm2_rl" \
      --coverage "$OUT/smollm2_coverage" --key d1 --test_key d1 \
      --title "SmolLM2-135M-Instruct, one-digit arithmetic: GRPO (left), best-of-N of the pretrained model (right)"
fi

stage "figures"
cp "$OUT/sft/plots/learning_curve.png" "$OUT/figures/countdown_sft_learning_curve.png"
cp "$OUT/bon/plots/best_of_n.png" "$OUT/figures/countdown_best_of_n.png"
cp "$OUT/search/plots/search_scaling.png" "$OUT/figures/countdown_search_scaling.png"
cp "$OUT/rstar/plots/rstar_scaling.png" "$OUT/figures/countdown_rstar.png"
cp "$OUT/coverage/coverage.png" "$OUT/figures/countdown_coverage.png"
cp "$OUT/boundary/boundary.png" "$OUT/figures/countdown_boundary.png"
cp "$OUT/overoptimization/overoptimization.png" "$OUT/figures/countdown_overoptimization.png"
cp "$OUT/overoptimization_bon/overoptimization.png" "$OUT/figures/countdown_overoptimization_bon.png"
cp "$OUT/exchange/exchange.png" "$OUT/figures/countdown_exchange.png"
cp "$OUT/distillation/distillation.png" "$OUT/figures/countdown_distillation.png"
cp "$OUT/tool_use/tool_use.png" "$OUT/figures/arithmetic_tool_use.png"
cp "$OUT/revision/plots/revision_attempts.png" "$OUT/figures/countdown_revision_attempts.png"
cp "$OUT/revision/plots/revision_scaling.png" "$OUT/figures/countdown_revision_scaling.png"
cp "$OUT/revision_oracle/plots/revision_attempts.png" "$OUT/figures/countdown_revision_attempts_oracle.png"
cp "$OUT/rl_fit/rl_compute.png" "$OUT/figures/countdown_rl_fit.png"
cp "$OUT/recipes/rl_compute.png" "$OUT/figures/countdown_rl_recipes.png"
cp "$OUT/async/rl_compute.png" "$OUT/figures/countdown_rl_async.png"
cp "$OUT/quiet_star/plots/quiet_star.png" "$OUT/figures/arithmetic_quiet_star.png"
echo "figures: $OUT/figures/"
ls "$OUT/figures"

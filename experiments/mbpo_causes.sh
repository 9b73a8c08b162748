#!/usr/bin/env bash
# Why MBPO needs about as many env steps as SAC here: one run per suspected cause, on
# the JAX-native cart-pole swing-up (200-step episodes), MBPO and SAC at their 'cpu'
# sizes, SEEDS seeds each (every seed's curve kept). Runs resume from their
# checkpoints: a stopped driver continues with the same command.
#   E1  the update ratio: SAC at MBPO's 10 updates per step; MBPO on real data only
#       (real_ratio 1.0), i.e. SAC at 10 updates per step inside MBPO's loop.
#   E2  the model: no epoch cap (stop when 5 epochs bring no 1% holdout gain); the
#       paper code's L2 penalties in the loss instead of AdamW's decoupled decay; the
#       task's true reward instead of a learned one.
#   E3  SAC's settings: learning rate 3e-4 for actor, critic and alpha; target
#       entropy -|A| (the SAC paper's) instead of -0.5 |A|.
#   E4  the rollout length: 1 (the cpu default), a fixed 5, the paper's ramp 1 -> 15.
# Each run's curve against the baseline MBPO's and SAC's: steps_to_return.py JSON,
# plot.py PNG + CSV, all under OUT; the critics' q_max / q_bound are in every
# metrics.jsonl.
# Usage: bash experiments/mbpo_causes.sh [outdir]   (default outputs/mbpo_causes;
#        about 20 min per MBPO variant on 2 cores: 3 seeds of MBPO in one vmap run
#        about 10 env steps/s here)
#        STEPS=12000 SEEDS=3 ONLY="e1 e4" bash experiments/mbpo_causes.sh
# A smoke run: STEPS=1000 SEEDS=1 (about 9 minutes for all eleven runs).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-outputs/mbpo_causes}
SEEDS=${SEEDS:-3}
STEPS=${STEPS:-12000}
ONLY=${ONLY:-}
ENV=cartpole_swingup
source experiments/common.sh  # PY, train, keep
MBPO="--config=experiments/configs/mbpo.py:cpu --config.model.angle_dims=(1,)"
SAC="--config=experiments/configs/sac.py:cpu"

# variant NAME FLAG...: one run of SEEDS seeds, its curve kept
variant() {
  local name=$1; shift
  train --num_seeds="$SEEDS" --eval_episodes=5 --env="$ENV" --total_steps="$STEPS" \
      "$@" --workdir="$OUT/$name"
  keep "$name"
}
compare() {  # name: its curve against both baselines
  $PY experiments/steps_to_return.py --candidate="$OUT/$1" --baseline="$OUT/sac" \
      --out="$OUT/$1_vs_sac.json" > /dev/null
  $PY experiments/steps_to_return.py --candidate="$OUT/$1" --baseline="$OUT/mbpo" \
      --out="$OUT/$1_vs_mbpo.json" > /dev/null
}
want() { [[ -z "$ONLY" || " $ONLY " == *" $1 "* ]]; }

variant mbpo $MBPO
variant sac $SAC
if want e1; then
  variant sac_g10 $SAC --config.updates_per_step=10
  variant mbpo_real_only $MBPO --config.real_ratio=1.0
fi
if want e2; then
  variant mbpo_no_cap $MBPO --config.model.max_epochs=0
  variant mbpo_l2 $MBPO "--config.model.l2_decays=(2.5e-5,5e-5,7.5e-5,1e-4)" \
      --config.model.weight_decay=0.0
  variant mbpo_true_reward $MBPO --config.model.learn_reward=False
fi
if want e3; then
  variant mbpo_lr3e-4 $MBPO --config.learning_rate=0.0003
  variant mbpo_entropy_1 $MBPO --config.target_entropy_per_action=-1.0
fi
if want e4; then
  variant mbpo_len5 $MBPO "--config.rollout_schedule=(0,1,5,5)"
  variant mbpo_len1to15 $MBPO "--config.rollout_schedule=(0,10,1,15)"
fi
for run in "$OUT"/*/; do
  name=$(basename "$run")
  [[ "$name" == runs || "$name" == mbpo || "$name" == sac ]] && continue
  compare "$name"
  $PY experiments/plot.py --workdirs="$OUT/mbpo,$OUT/sac,$OUT/$name" --labels="MBPO,SAC,$name" \
      --title="$ENV: eval return, mean of $SEEDS seeds" --out="$OUT/$name.png" \
      --csv="$OUT/$name.csv"
done

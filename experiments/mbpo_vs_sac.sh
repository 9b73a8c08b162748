#!/usr/bin/env bash
# MBPO against SAC with the same SAC settings (configs/*.py:cpu): learning curves
# (mean eval return of SEEDS seeds vs env steps) on pendulum, cart-pole swing-up and
# brax/inverted_pendulum, and for targets set by SAC's curve (its final return,
# 95% and 90% of its improvement) the env steps each method needs to reach them,
# per seed and on the mean curves (steps_to_return.py). CSV, PNG and JSON go to
# OUT, and each run's metrics.jsonl (every seed's curve) to OUT/runs/.
# Then MBPO with MVE targets (H = 3) on pendulum, drawn with the other two.
# Usage: bash experiments/mbpo_vs_sac.sh [outdir]   (default outputs/mbpo; about 90 min
#        on 2 cores)
#        ONLY=pendulum bash experiments/mbpo_vs_sac.sh [outdir]   (one env, and MVE
#        when it is pendulum)
# To refresh the committed record, copy the CSV, PNG and JSON files this writes to OUT,
# and OUT/runs/, to experiments/results/mbpo/ (OUT also holds each run's whole workdir).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-outputs/mbpo}
SEEDS=${SEEDS:-3}
ONLY=${ONLY:-}
source experiments/common.sh  # PY, train, keep
run() { train --num_seeds="$SEEDS" --eval_episodes=5 "$@"; }

# env | MBPO steps | SAC steps | extra flags for both | extra MBPO flags
while IFS='|' read -r env mbpo_steps sac_steps both model_flags; do
  name=${env#brax/}
  [[ -z "$ONLY" || "$ONLY" == "$env" ]] || continue
  run --config=experiments/configs/mbpo.py:cpu --env="$env" --total_steps="$mbpo_steps" \
      $both $model_flags --workdir="$OUT/mbpo_$name"
  run --config=experiments/configs/sac.py:cpu --env="$env" --total_steps="$sac_steps" \
      $both --workdir="$OUT/sac_$name"
  keep "mbpo_$name"; keep "sac_$name"
  $PY experiments/plot.py --workdirs="$OUT/mbpo_$name,$OUT/sac_$name" --labels=MBPO,SAC \
      --title="$env: eval return, mean of $SEEDS seeds" --out="$OUT/$name.png" \
      --csv="$OUT/$name.csv"
  $PY experiments/steps_to_return.py --candidate="$OUT/mbpo_$name" \
      --baseline="$OUT/sac_$name" --out="$OUT/$name.json"
done <<'RUNS'
pendulum|4000|10000| |
cartpole_swingup|16000|25000| |--config.model.angle_dims=(1,)
brax/inverted_pendulum|3000|10000|--config.steps_per_chunk=250 --config.random_steps=250|--config.model.learn_termination=True
RUNS

[[ -z "$ONLY" || "$ONLY" == pendulum ]] || exit 0
run --config=experiments/configs/mbpo.py:cpu --env=pendulum --total_steps=4000 \
    --config.mve_horizon=3 --workdir="$OUT/mbpo_mve_pendulum"
keep mbpo_mve_pendulum
$PY experiments/plot.py --workdirs="$OUT/mbpo_pendulum,$OUT/mbpo_mve_pendulum,$OUT/sac_pendulum" \
    --labels="MBPO,MBPO+MVE(H=3),SAC" --title="pendulum: eval return, mean of $SEEDS seeds" \
    --out="$OUT/pendulum.png" --csv="$OUT/pendulum.csv"
$PY experiments/steps_to_return.py --candidate="$OUT/mbpo_mve_pendulum" \
    --baseline="$OUT/sac_pendulum" --out="$OUT/mbpo_mve_pendulum.json"

#!/usr/bin/env bash
# PETS and iLQR-MPC learning curves on cart-pole swing-up and pendulum, CSV + PNG
# (OUT/mpc_<env>.*); then iLQR-MPC replanning every 5 steps (preset ilqr_feedback)
# with and without its feedback law u = u_plan + K (x - x_plan) between replans
# (OUT/mpc_<env>_feedback.*).
#
# PETS uses the paper's planner settings (CEM population 500, horizon 30,
# 5 iterations, 20 TSinf particles, 5 Gaussian members); on a 2-core CPU one
# planned action takes ~0.6 s with 3 x 64 members (~1.8 s with 3 x 200), so the
# members are 3 x 64 here and PETS runs one seed; iLQR-MPC runs SEEDS seeds.
# Usage: bash experiments/mpc_experiments.sh [outdir]   (default outputs/mpc; about 55
#        min on 2 cores)
#        PART=feedback bash experiments/mpc_experiments.sh [outdir]   (the last part only)
# To refresh the committed record, copy OUT's mpc_*.csv and mpc_*.png to
# experiments/results/mpc/ (OUT also holds each run's whole workdir).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-outputs/mpc}
SEEDS=${SEEDS:-2}
source experiments/common.sh  # PY, train
run() { train --eval_every=1000 --eval_episodes=2 "$@"; }
small_model="--config.model.width=64 --config.model.num_layers=3"
PART=${PART:-all}

if [[ "$PART" != feedback ]]; then
run --config=experiments/configs/mpc.py:pets --env=cartpole_swingup $small_model \
    --config.model.angle_dims='(1,)' --total_steps=1600 --workdir="$OUT/pets_cartpole"
run --config=experiments/configs/mpc.py:pets --env=pendulum $small_model \
    --total_steps=1200 --workdir="$OUT/pets_pendulum"
run --config=experiments/configs/mpc.py:ilqr --env=cartpole_swingup $small_model \
    --config.model.angle_dims='(1,)' --config.random_steps=200 --total_steps=2000 \
    --num_seeds="$SEEDS" --workdir="$OUT/ilqr_cartpole"
run --config=experiments/configs/mpc.py:ilqr --env=pendulum $small_model \
    --config.random_steps=200 --total_steps=1200 --num_seeds="$SEEDS" \
    --workdir="$OUT/ilqr_pendulum"
fi

for feedback in true false; do
  run --config=experiments/configs/mpc.py:ilqr_feedback --env=cartpole_swingup $small_model \
      --config.model.angle_dims='(1,)' --config.random_steps=200 --total_steps=2000 \
      --config.ilqr.feedback=$feedback --num_seeds="$SEEDS" \
      --workdir="$OUT/ilqr5_feedback_${feedback}_cartpole"
  run --config=experiments/configs/mpc.py:ilqr_feedback --env=pendulum $small_model \
      --config.random_steps=200 --total_steps=1200 --config.ilqr.feedback=$feedback \
      --num_seeds="$SEEDS" --workdir="$OUT/ilqr5_feedback_${feedback}_pendulum"
done

for env in cartpole pendulum; do
  [[ "$PART" == feedback ]] ||
  $PY experiments/plot.py --workdirs="$OUT/pets_$env,$OUT/ilqr_$env" --labels=PETS,iLQR-MPC \
      --key=episode_return --title="$env: return of each training episode" \
      --out="$OUT/mpc_$env.png" --csv="$OUT/mpc_$env.csv"
  $PY experiments/plot.py \
      --workdirs="$OUT/ilqr5_feedback_true_$env,$OUT/ilqr5_feedback_false_$env" \
      --labels="replan every 5 + feedback,replan every 5 open loop" --key=episode_return \
      --title="$env: iLQR-MPC, return of each training episode" \
      --out="$OUT/mpc_${env}_feedback.png" --csv="$OUT/mpc_${env}_feedback.csv"
done

#!/usr/bin/env bash
# The package's agents on MuJoCo Playground's DM Control tasks: SAC, MBPO, PETS (CEM
# MPC through a learned ensemble) and the pathwise agent (backprop through a learned
# model), SEEDS seeds each, at CPU size. Tasks use PlaNet's action repeats (cart-pole
# 8, reacher 4, cheetah 4) and Playground's 1000-step episodes, so an episode is 125
# or 250 decisions. The launcher counts decisions (agent steps); plot.py turns them
# into env steps with --action_repeat. Curves (mean eval return vs env steps)
# go to OUT/<task>.csv and .png, each run's metrics.jsonl (per-seed curves and the
# wall-clock of every chunk) to OUT/runs/.
# Every agent evaluates after each 250 decisions (PETS: each episode, by one
# episode, since its evaluation plans as much as its training). PETS runs at the CI
# test's sizes (3 x 64 ensemble of 5, population 100, 5 particles, 3 CEM
# iterations): with the preset's (4 x 200, 500 x 20 particles, 5 iterations) the
# first cart-pole chunk (a random episode, a model fit and 3 evaluation episodes,
# 375 planned decisions for 3 seeds) had not finished after 12 minutes. A run is
# resumable: launching it again with a larger ENV_STEPS extends it from its last
# checkpoint.
# Usage: bash experiments/dmc_agents.sh [outdir]   (default outputs/dmc/agents)
#        ONLY=CartpoleSwingup AGENTS="sac mbpo" ENV_STEPS=20000 bash experiments/dmc_agents.sh
# To refresh the committed record, copy OUT's *.csv, *.png and runs/ to
# experiments/results/dmc/agents/ (OUT also holds each run's whole workdir).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-outputs/dmc/agents}
SEEDS=${SEEDS:-3}
ONLY=${ONLY:-}
AGENTS=${AGENTS:-"sac mbpo pets pathwise"}
ENV_STEPS=${ENV_STEPS:-}  # env steps per run (all tasks); default: the table below
PETS_ENV_STEPS=${PETS_ENV_STEPS:-10000}  # PETS plans every decision: a shorter run
source experiments/common.sh  # PY, train, keep
run() { train --num_seeds="$SEEDS" --checkpoint_every=5 "$@"; }

# task | action repeat | env steps per run | flags for every agent
while IFS='|' read -r task repeat env_steps both; do
  [[ -z "$ONLY" || "$ONLY" == "$task" ]] || continue
  steps=$(( ${ENV_STEPS:-$env_steps} / repeat ))  # decisions
  env_kwargs="{\"action_repeat\": $repeat}"
  episode=$((1000 / repeat))
  labels=()
  workdirs=()
  for agent in $AGENTS; do
    case $agent in
      sac) config="experiments/configs/sac.py:cpu --config.steps_per_chunk=250" ;;
      mbpo) config="experiments/configs/mbpo.py:cpu --config.steps_per_chunk=250" ;;
      pets) config="experiments/configs/mpc.py:pets --config.steps_per_chunk=$episode
                    --config.random_steps=$episode --config.population=100
                    --config.num_particles=5 --config.horizon=20 --config.cem.iterations=3
                    --config.model.width=64 --config.model.num_layers=3
                    --config.model.max_epochs=50" ;;
      pathwise) config="experiments/configs/pathwise.py:model --config.steps_per_chunk=250
                        --config.updates_per_chunk=125" ;;
    esac
    extra=(--eval_episodes=3)
    total=$steps
    if [[ $agent == pets ]]; then
      extra=(--eval_episodes=1)
      total=$(( PETS_ENV_STEPS / repeat ))
    fi
    # The model learns the reward where the observation does not carry it.
    if [[ $task == CheetahRun && $agent != sac ]]; then
      extra+=(--config.model.learn_reward=True)
    fi
    # shellcheck disable=SC2086
    run --config=$config --env="dmc/$task" --env_kwargs="$env_kwargs" \
        --total_steps="$total" $both "${extra[@]}" --workdir="$OUT/${agent}_$task"
    keep "${agent}_$task"
    labels+=("$agent")
    workdirs+=("$OUT/${agent}_$task")
  done
  $PY experiments/plot.py --workdirs="$(IFS=,; echo "${workdirs[*]}")" \
      --labels="$(IFS=,; echo "${labels[*]}")" --action_repeat="$repeat" \
      --title="dmc/$task (action repeat $repeat): eval return, mean of $SEEDS seeds" \
      --out="$OUT/$task.png" --csv="$OUT/$task.csv"
done <<'RUNS'
CartpoleSwingup|8|80000|
ReacherEasy|4|80000|
CheetahRun|4|80000|
RUNS

#!/usr/bin/env bash
# MBPO's sample efficiency against SAC on locomotion and DM Control: per task, MBPO
# at its defaults (mbpo_<task>), this package's SAC at its best settings
# (sac_<task>), SAC at MBPO's updates per env step (sac_g<G>_<task>) and, on Brax
# tasks, brax.training's own SAC (brax_sac_<task>, experiments/brax_sac.py), SEEDS
# seeds each, every seed's curve kept under OUT/runs/<run>/. Then, per task, the env
# steps MBPO needs to reach SAC's final return (and 95% / 90% of its improvement) per
# seed pair (steps_to_return.py: OUT/<task>_*.json) and the curves (OUT/<task>.png,
# .csv).
# Sizes are the `cpu` presets (a 2-core machine); the Brax tasks use the task's pure
# termination (envs/brax_functions.py) and a learned reward, as the MBPO paper's code.
# DM Control tasks use PlaNet's action repeats; their budgets are env (simulator)
# steps, the launcher counts decisions. A run resumes from its checkpoints in OUT.
# Usage: bash experiments/mbpo_reproduction.sh [outdir]  (default outputs/mbpo_reproduction)
#        ONLY=inverted_pendulum AGENTS="mbpo sac" bash experiments/mbpo_reproduction.sh
# To refresh the committed record, copy OUT's *.json, *.csv, *.png and runs/ to
# experiments/results/mbpo_reproduction/.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-outputs/mbpo_reproduction}
SEEDS=${SEEDS:-3}
ONLY=${ONLY:-}
AGENTS=${AGENTS:-"mbpo sac sac_g brax_sac"}
source experiments/common.sh  # PY, train, keep
MBPO="experiments/configs/mbpo.py:cpu"
SAC="experiments/configs/sac.py:cpu"
G=$($PY -c "from mbrl_jax import agents; print(agents.preset_from_spec('mbpo', 'cpu').updates_per_step)")

# task name | env | action repeat | env steps | flags for every agent | MBPO's model flags
while IFS='|' read -r task env repeat env_steps both model_flags; do
  [[ -z "$ONLY" || " $ONLY " == *" $task "* ]] || continue
  steps=$(( env_steps / repeat ))  # decisions
  kwargs=(); [[ $repeat != 1 ]] && kwargs=(--env_kwargs="{\"action_repeat\": $repeat}")
  runs=(); labels=()
  for agent in $AGENTS; do
    name=${agent}_$task
    case $agent in
      mbpo) flags="--config=$MBPO $model_flags" ;;
      sac) flags="--config=$SAC" ;;
      sac_g) flags="--config=$SAC --config.updates_per_step=$G"; name=sac_g${G}_$task ;;
      brax_sac)
        [[ $env == brax/* ]] || continue
        $PY experiments/brax_sac.py --env="${env#brax/}" --total_steps="$env_steps" \
            --num_seeds="$SEEDS" --workdir="$OUT/$name"
        keep "$name"; runs+=("$OUT/$name"); labels+=("brax SAC"); continue ;;
    esac
    # shellcheck disable=SC2086
    train --num_seeds="$SEEDS" --eval_episodes=5 --env="$env" "${kwargs[@]}" \
        --total_steps="$steps" $both $flags --workdir="$OUT/$name"
    keep "$name"; runs+=("$OUT/$name"); labels+=("$name")
  done
  for run in "${runs[@]}"; do
    [[ $(basename "$run") == sac_$task ]] && continue
    $PY experiments/steps_to_return.py --candidate="$run" --baseline="$OUT/sac_$task" \
        --out="$OUT/${task}_$(basename "$run")_vs_sac.json" > /dev/null
  done
  $PY experiments/plot.py --workdirs="$(IFS=,; echo "${runs[*]}")" \
      --labels="$(IFS=,; echo "${labels[*]}")" --action_repeat="$repeat" \
      --title="$env: eval return, mean of $SEEDS seeds" --out="$OUT/$task.png" \
      --csv="$OUT/$task.csv"
done <<'RUNS'
inverted_pendulum|brax/inverted_pendulum|1|10000|--config.steps_per_chunk=250 --config.random_steps=250|
hopper|brax/hopper|1|30000|--config.steps_per_chunk=1000|
halfcheetah|brax/halfcheetah|1|30000|--config.steps_per_chunk=1000|
dmc_cartpole_swingup|dmc/CartpoleSwingup|8|100000|--config.steps_per_chunk=250|
dmc_cheetah_run|dmc/CheetahRun|4|100000|--config.steps_per_chunk=250|
RUNS

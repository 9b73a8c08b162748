# What the experiment drivers (dmc_agents.sh, mbpo_vs_sac.sh, mpc_experiments.sh)
# share; each sources it from the repository root, after setting OUT.
# PY: the interpreter (default the venv's).
PY=${PY:-.venv/bin/python}
export PYTHONPATH=.

# train FLAG...: one experiments/train.py run, on the CPU unless JAX_PLATFORMS says
# otherwise, without its own plot (the drivers draw the curves with plot.py).
train() { JAX_PLATFORMS=${JAX_PLATFORMS:-cpu} $PY experiments/train.py --plot=false "$@"; }

# keep RUN: a copy of $OUT/RUN/metrics.jsonl (every seed's curve, every chunk's
# seconds) in $OUT/runs/RUN/, the part of a run's workdir that is committed.
keep() { mkdir -p "$OUT/runs/$1" && cp "$OUT/$1/metrics.jsonl" "$OUT/runs/$1/"; }

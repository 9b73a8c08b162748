"""Which DM Control tasks (MuJoCo Playground on MJX) give finite, non-zero return
gradients? The measurement of brax_gradients.py on the 'dmc/' envs (both
use common.make_grad_fn).

For each task: the gradient of the undiscounted H-step return of a linear policy
a = tanh(W obs + b) (W ~ N(0, 0.1^2) / sqrt(obs size), b = 0) from reset(key(seed)),
by jax.grad through a lax.scan over env.step, for each reset seed (vmapped, one jit);
with MJX's constraint solver as Playground configures it (it loops to convergence in
a lax.while_loop) and with it capped at `--solver_iterations`. Reports whether the
gradient is finite, its norm (median over seeds, and each seed's), the return, and
the seconds to compile + run once and to run again.

  PYTHONPATH=. .venv/bin/python experiments/dmc_gradients.py --tasks CartpoleSwingup

Prints each row as JSON and writes the list to outputs/dmc/gradients.json (--out; after
every row); a failing (task, solver) gives a row with 'error'. To refresh the committed
record, pass --out=experiments/results/dmc/gradients.json.
"""

import json

import jax
import jax.numpy as jnp
import numpy as np
from absl import app, flags

import common
from mbrl_jax.harness import compilation_cache, metrics
from mbrl_jax import envs
from mbrl_jax.envs import playground

flags.DEFINE_list('tasks', list(playground.TASKS), 'DM Control tasks.')
flags.DEFINE_list('seeds', ['0', '1', '2'], 'Reset seeds.')
flags.DEFINE_integer('horizon', 32, 'Steps differentiated through.')
flags.DEFINE_list('solver_iterations', ['0', '1'], '0: Playground\'s solver; k: capped at k.')
flags.DEFINE_string('out', 'outputs/dmc/gradients.json',
                    "Also write the JSON here, after every row ('': print only).")
FLAGS = flags.FLAGS


def measure(task, solver_iterations, seeds, horizon):
  env = envs.make('dmc/' + task, episode_length=horizon, auto_reset=False,
                  solver_iterations=solver_iterations)
  params = common.init_linear_policy(jax.random.key(0), env.observation_size,
                                     env.action_size)
  fn = common.make_grad_fn(env, horizon, probe=False)
  seeds = jnp.asarray(seeds, dtype=jnp.uint32)
  (values, grads), compile_s, run_s = common.first_and_second_call_seconds(fn, params, seeds)
  flat = common.flat_gradients(grads)[:, 0]  # [seed, P]: the return's only
  norms = np.linalg.norm(flat, axis=-1)
  return {'finite': bool(np.isfinite(flat).all()), 'grad_norm': float(np.median(norms)),
          'grad_norms': norms.tolist(), 'return': float(np.median(values[:, 0])),
          'compile_s': round(compile_s, 1), 'run_s': round(run_s, 4)}


def main(argv):
  del argv
  compilation_cache.enable()
  seeds = [int(s) for s in FLAGS.seeds]
  rows = []
  for task in FLAGS.tasks:
    for iterations in map(int, FLAGS.solver_iterations):
      row = {'task': task, 'solver_iterations': iterations, 'horizon': FLAGS.horizon,
             'seeds': seeds}
      try:
        row.update(measure(task, iterations, seeds, FLAGS.horizon))
      except Exception as error:  # report it and go on with the next row
        lines = str(error).strip().splitlines()
        row['error'] = f'{type(error).__name__}: {lines[0] if lines else ""}'[:300]
      rows.append(row)
      print(json.dumps(row), flush=True)
      if FLAGS.out:
        metrics.write_json(rows, FLAGS.out)


if __name__ == '__main__':
  app.run(main)

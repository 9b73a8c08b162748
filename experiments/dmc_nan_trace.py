"""Where a DM Control task's return gradient turns NaN (experiments/dmc_gradients.py).

Steps the env from reset(key(seed)) with the linear tanh policy of dmc_gradients.py
(common.init_linear_policy, common.linear_action) and checks, step by step, the
Jacobian of (obs, reward) with respect to (qpos, qvel, action). At the first
non-finite one it recomputes that Jacobian eagerly with `jax_debug_nans`, which
raises at the first primitive producing a NaN, and prints the MuJoCo / Playground
frames of that traceback.

  PYTHONPATH=. .venv/bin/python experiments/dmc_nan_trace.py --task=PointMass

Prints only; writes no files.
"""

import traceback

import jax
import numpy as np
from absl import app, flags

import common
from mbrl_jax import envs

flags.DEFINE_string('task', 'PointMass', 'DM Control task.')
flags.DEFINE_integer('seed', 0, 'Reset seed.')
flags.DEFINE_integer('steps', 32, 'Steps to check.', lower_bound=1)
flags.DEFINE_integer('solver_iterations', 1, "0: Playground's solver; k: capped at k.")
FLAGS = flags.FLAGS


def main(_):
  env = envs.make('dmc/' + FLAGS.task, episode_length=FLAGS.steps + 1, auto_reset=False,
                  solver_iterations=FLAGS.solver_iterations)
  params = common.init_linear_policy(jax.random.key(0), env.observation_size,
                                     env.action_size)
  state = jax.jit(env.reset)(jax.random.key(FLAGS.seed))
  step = jax.jit(env.step)

  def outputs(state, qpos, qvel, action):
    ps = state.pipeline_state.replace(qpos=qpos, qvel=qvel)
    out = env.step(state.replace(pipeline_state=ps), action)
    return out.obs, out.reward

  jacobian = jax.jit(jax.jacrev(outputs, argnums=(1, 2, 3)))
  for t in range(FLAGS.steps):
    action = common.linear_action(params, state.obs)
    args = (state, state.pipeline_state.qpos, state.pipeline_state.qvel, action)
    finite = all(np.isfinite(np.asarray(x)).all() for x in jax.tree.leaves(jacobian(*args)))
    print(f'step {t + 1}: Jacobian finite {finite}, obs finite '
          f'{bool(np.isfinite(np.asarray(state.obs)).all())}', flush=True)
    if not finite:
      jax.config.update('jax_debug_nans', True)
      try:
        with jax.disable_jit():
          jax.jacrev(outputs, argnums=(1, 2, 3))(*args)
        print('debug_nans raised nothing eagerly')
      except FloatingPointError:
        lines = traceback.format_exc().splitlines()
        print('\n'.join(line for line in lines if 'mjx' in line or 'playground' in line
                        or 'Error' in line))
      return
    state = step(state, action)
  print('all Jacobians finite')


if __name__ == '__main__':
  app.run(main)

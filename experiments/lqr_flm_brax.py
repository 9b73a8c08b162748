"""LQR-FLM on a Brax env: does fitting time-varying linear models to observations work
when the dynamics come from a physics engine (and, for halfcheetah, contacts)?

Each condition is one reset state of the env (reset keys 0..C-1); every sample of
an iteration starts from it (the start is deterministic, so sigma0 is a tiny 1e-6
I for the marginals), runs the condition's controller for T steps, and the local
models are fitted to the observations (GMM prior). The cost is written on the
observation to match minus the env's reward:
  reacher      |tip - target| + |u|^2: the observation's last three entries are
               tip - target (the norm smoothed as sqrt(|d|^2 + 1e-4), a 0.01 gap
               at most per step);
  halfcheetah  -v_x + 0.1 |u|^2, v_x the observation's forward velocity at the
               step's start (the reward's is the step's mean: a one-step lag).
What the samples cost is the env's own return (negated), not this model of it.
Baselines, same T and conditions: zero actions and uniformly random actions.

  PYTHONPATH=. .venv/bin/python experiments/lqr_flm_brax.py --env=reacher

Writes outputs/gps/lqr_flm_brax_<env>.json (--out: the folder) and prints it. To
refresh the committed record, pass --out=experiments/results/gps.
"""

import os
import time

from absl import app, flags

flags.DEFINE_enum('env', 'reacher', ['reacher', 'halfcheetah'], 'Brax env.')
flags.DEFINE_string('backend', 'generalized', 'Brax backend.')
flags.DEFINE_integer('horizon', 50, 'T: steps per sample.')
flags.DEFINE_integer('conditions', 4, 'Reset states (keys 0..C-1).')
flags.DEFINE_integer('iterations', 15, 'LQR-FLM iterations.')
flags.DEFINE_integer('num_samples', 5, 'Samples per condition and iteration.')
flags.DEFINE_integer('num_clusters', 4, 'GMM prior clusters (0: plain OLS).')
flags.DEFINE_float('init_std', 0.3, 'Std of the initial zero-mean open-loop controller.')
flags.DEFINE_integer('seed', 0, 'Sampling seed.')
flags.DEFINE_string('out', 'outputs/gps', 'Output folder.')
FLAGS = flags.FLAGS


def obs_cost(name):
  import jax.numpy as jnp
  if name == 'reacher':
    return lambda x, u, t: jnp.sqrt(jnp.sum(x[-3:]**2) + 1e-4) + jnp.sum(u**2)
  return lambda x, u, t: -x[8] + 0.1 * jnp.sum(u**2)


def main(argv):
  del argv
  import jax
  import jax.numpy as jnp
  import numpy as np
  from mbrl_jax.data import acting
  from mbrl_jax.harness import compilation_cache, metrics
  from mbrl_jax import envs
  from mbrl_jax.planners import lqr_flm
  from mbrl_jax.policies import linear_gaussian as lg
  compilation_cache.enable()
  T, C = FLAGS.horizon, FLAGS.conditions
  env = envs.make(f'brax/{FLAGS.env}', episode_length=T, backend=FLAGS.backend)
  n, m = env.observation_size, env.action_size
  starts = jax.vmap(env.reset)(jax.vmap(jax.random.PRNGKey)(jnp.arange(C)))
  cost = obs_cost(FLAGS.env)
  horizon_cost = lambda x, u, t: jnp.where(t < T, cost(x, u, t), 0.0)
  sigma0 = 1e-6 * jnp.eye(n)
  iteration = jax.jit(jax.vmap(lqr_flm.make_iteration(
      env, FLAGS.num_samples, sigma0, FLAGS.num_clusters, cost=horizon_cost)))
  init = lg.open_loop(jnp.zeros((T, m)), FLAGS.init_std**2 * jnp.eye(m), n)
  conditions = jax.vmap(lambda _: lqr_flm.initial_condition(init, 1.0))(jnp.arange(C))

  def baseline(policy, key):
    """The env's cost (minus return) of T steps of policy(obs, key) from each start."""
    _, experience = acting.unroll(env, starts, policy, key, T)
    tr = experience.transition
    return -tr.reward.sum(0), tr.next_obs[-1]

  low, high = -1.0, 1.0
  zero_cost, _ = jax.jit(lambda key: baseline(lambda obs, k: jnp.zeros((C, m)), key))(
      jax.random.PRNGKey(1))
  random_run = jax.jit(lambda key: baseline(
      lambda obs, k: jax.random.uniform(k, (C, m), minval=low, maxval=high), key)[0])
  random_costs = [random_run(jax.random.PRNGKey(100 + i)) for i in range(5)]

  key, rows, started = jax.random.PRNGKey(FLAGS.seed), [], time.perf_counter()
  for i in range(FLAGS.iterations):
    key, step_key = jax.random.split(key)
    conditions, out = iteration(conditions, starts, jax.random.split(step_key, C))
    rows.append({'iteration': i + 1, 'samples': (i + 1) * C * FLAGS.num_samples * T,
                 'sample_cost': np.round(np.asarray(out['cost'], float), 3).tolist(),
                 'kl': np.round(np.asarray(out['kl'], float), 3).tolist(),
                 'epsilon': np.round(np.asarray(out['epsilon'], float), 3).tolist(),
                 'failed_c_steps': int(np.asarray(out['failed']).sum())})
    print(rows[-1], flush=True)
  # The controllers' samples after the last update, with the final tip distance (reacher).
  final = jax.jit(jax.vmap(lambda p, s, k: lqr_flm.sample(env, p, s, sigma0, k, FLAGS.num_samples)))(
      conditions.controller, starts, jax.random.split(jax.random.PRNGKey(7), C))
  result = {'env': f'brax/{FLAGS.env}', 'backend': FLAGS.backend, 'horizon': T,
            'conditions': C, 'num_samples': FLAGS.num_samples,
            'num_clusters': FLAGS.num_clusters, 'init_std': FLAGS.init_std,
            'seconds': round(time.perf_counter() - started, 1),
            'zero_action_cost': np.round(np.asarray(zero_cost, float), 3).tolist(),
            'random_action_cost_mean': np.round(np.mean(random_costs, 0).astype(float), 3).tolist(),
            'final_sample_cost': np.round(np.asarray(final.cost.mean(1), float), 3).tolist(),
            'curve': rows}
  if FLAGS.env == 'reacher':
    last = np.asarray(final.X[:, :, -1, -3:])
    first = np.asarray(final.X[:, :, 0, -3:])
    result['start_tip_distance'] = np.round(np.linalg.norm(first, axis=-1).mean(1), 4).tolist()
    result['final_tip_distance'] = np.round(np.linalg.norm(last, axis=-1).mean(1), 4).tolist()
  metrics.report(result, os.path.join(FLAGS.out, f'lqr_flm_brax_{FLAGS.env}.json'))


if __name__ == '__main__':
  app.run(main)

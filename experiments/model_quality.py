"""Model quality on random-policy data: holdout MSE/NLL and the compounding error
of open-loop predictions vs horizon; prints JSON and draws a PNG.

For each task: collect `--episodes` random-policy episodes, fit an ensemble (MBPO's
by default), then replay the actions of fresh random episodes open loop through
the model from their first state and measure the squared error per step.

  python experiments/model_quality.py

Writes outputs/model_quality/model_quality.json and model_compounding_error.png
(--workdir). To refresh the committed record, pass
--workdir=experiments/results/model_quality (its JSON, a CPU run's, is named
model_quality_cpu.json there).
"""

import json
import os
import time

from absl import app, flags

import common

flags.DEFINE_list('envs', ['pendulum', 'cartpole_swingup'], 'Tasks.')
flags.DEFINE_integer('episodes', 40, 'Random-policy training episodes per task.')
flags.DEFINE_integer('horizon', 30, 'Open-loop prediction horizon.')
flags.DEFINE_integer('test_trajectories', 60, 'Fresh trajectories for the error curve.')
flags.DEFINE_integer('members', 7, 'Ensemble members.')
flags.DEFINE_integer('width', 200, 'Hidden width.')
flags.DEFINE_integer('seed', 0, 'Random seed.')
common.define_out('outputs/model_quality', 'the JSON and PNG', name='workdir')
FLAGS = flags.FLAGS
ANGLE_DIMS = {'cartpole_swingup': (1,)}  # the pole angle enters the model as sin/cos


def main(argv):
  del argv
  from mbrl_jax.harness import compilation_cache
  compilation_cache.enable()
  import jax
  import jax.numpy as jnp
  import numpy as np
  from mbrl_jax.data import acting
  from mbrl_jax import data, envs, models

  results = {}
  unroll = jax.jit(acting.unroll, static_argnums=(0, 2, 4))
  for name in FLAGS.envs:
    env = envs.make(name)
    task = env.unwrapped
    length = env.episode_length
    key = jax.random.PRNGKey(FLAGS.seed)
    k_train, k_test, k_fit, k_roll, key = jax.random.split(key, 5)
    random = acting.per_env(data.random_policy(env))
    _, train = unroll(env, data.reset(env, k_train, FLAGS.episodes), random, k_train, length)
    flat = acting.flatten_time(train.transition)
    config = models.default_config()
    config.update(dict(num_members=FLAGS.members, width=FLAGS.width,
                       angle_dims=ANGLE_DIMS.get(name, ())))
    ensemble = models.Ensemble(config, env.observation_size, env.action_size)
    trainer = models.Trainer(ensemble)
    start = time.perf_counter()
    fitted, fit_metrics = jax.jit(trainer.fit)(trainer.init(k_fit), flat,
                                               jnp.ones(flat.obs.shape[0], bool), k_fit)
    fit_s = time.perf_counter() - start
    # Fresh trajectories: the first `horizon` steps of new random episodes.
    test_state = data.reset(env, k_test, FLAGS.test_trajectories)
    _, test = unroll(env, test_state, random, k_test, FLAGS.horizon)
    test = test.transition
    true_obs = jnp.concatenate([test.obs[:1], test.next_obs], axis=0).swapaxes(0, 1)
    actions = test.action.swapaxes(0, 1)
    curves = {}
    for propagation in ('expectation', 'ts1'):
      if propagation == 'ts1' and FLAGS.test_trajectories % config.num_elites:
        continue
      curves[propagation] = np.asarray(models.compounding_error(
          ensemble, fitted.model, true_obs, actions, task.reward_fn, k_roll,
          propagation)).tolist()
    elites = np.asarray(fitted.model.elites)
    results[name] = {
        'transitions': int(flat.obs.shape[0]), 'fit_seconds': round(fit_s, 1),
        'epochs': int(fit_metrics['epochs']),
        'elite_holdout_mse_normalized': float(
            np.asarray(fit_metrics['holdout_mse'])[elites].mean()),
        'elite_holdout_nll_normalized': float(
            np.asarray(fit_metrics['holdout_nll'])[elites].mean()),
        'obs_variance': float(np.var(np.asarray(true_obs)).mean()),
        'compounding_mse': curves,
    }
    print(json.dumps({name: results[name]}), flush=True)

  from mbrl_jax.harness import metrics, plotting
  metrics.write_json(results, os.path.join(FLAGS.workdir, 'model_quality.json'), indent=2)
  path = plotting.plot_lines([plotting.Panel(
      {propagation: (range(1, len(curve) + 1), curve)
       for propagation, curve in res['compounding_mse'].items()},
      title=f'{name} ({res["transitions"]} random transitions)', xlabel='open-loop steps',
      ylabel='mean squared error of obs', yscale='log') for name, res in results.items()],
      os.path.join(FLAGS.workdir, 'model_compounding_error.png'))
  print(f'Wrote {path} and model_quality.json')


if __name__ == '__main__':
  app.run(main)

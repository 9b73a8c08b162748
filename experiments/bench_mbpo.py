"""Wall-clock of MBPO per 1000 env steps (refits, model rollouts and SAC updates
included), after the random phase, one seed. Prints JSON and writes it to
outputs/mbpo/bench_mbpo.json (--out).

  PYTHONPATH=. python experiments/bench_mbpo.py --env=pendulum --version=paper

To refresh the committed record, pass --out=experiments/results/mbpo/bench_paper_pendulum.json.
"""

import time

import jax
from absl import app, flags

import common

from mbrl_jax import agents, envs
from mbrl_jax.harness import metrics
from mbrl_jax.agents import mbpo

flags.DEFINE_string('env', 'pendulum', 'Env name.')
flags.DEFINE_string('version', 'paper', "configs/mbpo.py version: 'paper' or 'cpu'.")
flags.DEFINE_integer('chunks', 3, 'Timed chunks of 1000 env steps after the random phase.')
flags.DEFINE_integer('mve_horizon', 0, 'MVE horizon (0: off).')
common.define_out('outputs/mbpo/bench_mbpo.json')
FLAGS = flags.FLAGS


def main(_):
  config = agents.preset_from_spec('mbpo', FLAGS.version)  # what configs/mbpo.py:<spec> gives
  config.update(dict(steps_per_chunk=1000, random_steps=1000, mve_horizon=FLAGS.mve_horizon))
  env = envs.make(FLAGS.env)
  agent = mbpo.make(config, env)
  state = jax.jit(agent.init)(jax.random.PRNGKey(0))
  chunk = jax.jit(agent.train_chunk)
  start = time.perf_counter()
  state, _ = chunk(state)  # compile + the random phase (refit and rollouts gated off)
  jax.block_until_ready(state)
  first = time.perf_counter() - start
  seconds, chunk_metrics = [], None
  for _ in range(FLAGS.chunks):
    start = time.perf_counter()
    state, chunk_metrics = chunk(state)
    jax.block_until_ready(state)
    seconds.append(time.perf_counter() - start)
  result = {
      'env': FLAGS.env, 'version': FLAGS.version, 'mve_horizon': FLAGS.mve_horizon,
      'device': jax.devices()[0].device_kind, 'backend': jax.default_backend(),
      'settings': {k: config[k] for k in ('updates_per_step', 'rollouts_per_step',
                                          'refit_every', 'batch_size', 'real_ratio')}
      | {'hidden_sizes': list(config.hidden_sizes),
         'model': f'{config.model.num_members} x {config.model.num_layers} x '
                  f'{config.model.width}'},
      'compile_and_random_chunk_s': round(first, 1),
      'seconds_per_1000_env_steps': [round(s, 1) for s in seconds],
      'model_epochs_last_refit': int(chunk_metrics['model_epochs']),
      'model_holdout_mse': float(chunk_metrics['model_holdout_mse']),
  }
  metrics.report(result, FLAGS.out)


if __name__ == '__main__':
  app.run(main)

"""Wall-clock of MBPO per 1000 env steps (refits, model rollouts and SAC updates
included), after the random phase, one seed. Prints JSON and writes it to
outputs/mbpo/bench_mbpo.json (--out).

  PYTHONPATH=. python experiments/bench_mbpo.py --env=pendulum --version=paper

`--profile` adds, measured in the same run on the state the timed chunks left, the
parts of those seconds: one refit on the buffer (and its epochs), one batch of
branched rollouts at the schedule's current length and at its longest, the SAC
updates on mixed batches, and SAC itself (its own agent at the same settings, one
update per env step). `target_s` is (G + 2) SAC env steps per 1000 env steps plus
MBPO's refits, the cost MBPO should not exceed.

To refresh the committed record, pass --out=experiments/results/mbpo/bench_paper_pendulum.json.
"""

import time

import jax
from absl import app, flags

import common

from mbrl_jax import agents, envs, models
from mbrl_jax.harness import metrics
from mbrl_jax.agents import mbpo, model_based, sac
from mbrl_jax.data import replay

flags.DEFINE_string('env', 'pendulum', 'Env name.')
flags.DEFINE_string('version', 'paper', "configs/mbpo.py version: 'paper' or 'cpu'.")
flags.DEFINE_integer('chunks', 3, 'Timed chunks of 1000 env steps after the random phase.')
flags.DEFINE_integer('mve_horizon', 0, 'MVE horizon (0: off).')
flags.DEFINE_bool('profile', False, 'Also time the parts (refit, rollouts, updates) and SAC.')
flags.DEFINE_integer('random_steps', 1000, 'Random steps before the timed chunks.')
common.define_out('outputs/mbpo/bench_mbpo.json')
FLAGS = flags.FLAGS


def main(_):
  config = agents.preset_from_spec('mbpo', FLAGS.version)  # what configs/mbpo.py:<spec> gives
  config.update(dict(steps_per_chunk=1000, random_steps=FLAGS.random_steps, mve_horizon=FLAGS.mve_horizon))
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
  if FLAGS.profile:
    result['profile'] = profile(config, env, state, sum(seconds) / len(seconds))
  metrics.report(result, FLAGS.out)


def profile(config, env, state, chunk_s):
  """Seconds per 1000 env steps of MBPO's parts, and SAC's, on `state`."""
  learner = sac.make_learner(config, env)
  parts = model_based.model_parts(config, env, sample_batch_size=1)
  key = jax.random.PRNGKey(1)
  per_1000 = 1000 / config.refit_every
  # One refit of the whole buffer, as the segment does.
  trainer_state = models.TrainerState(state.params.model, state.model_opt)
  fit = jax.jit(lambda s, k: parts.trainer.fit(s, replay.items(state.buffer),
                                               replay.valid_mask(state.buffer), k))
  fit_s = common.best_time(fit, trainer_state, key)
  epochs = int(fit(trainer_state, key)[1]['epochs'])
  # One batch of branched rollouts (MBPO's starts, policy and propagation).
  num_rollouts = config.rollouts_per_step * config.refit_every
  idx = jax.random.randint(key, (num_rollouts,), 0, replay.size(state.buffer))
  start_obs = replay.items(state.buffer).obs[idx]
  max_len = config.rollout_schedule[3]
  policy = lambda obs, k: learner.to_env(learner.sample_action(state.params.sac.policy,
                                                               obs, k)[0])
  roll = jax.jit(lambda length: models.rollout(
      parts.ensemble, state.params.model, key, start_obs, max_len, 'ts1',
      policy=policy, reward_fn=parts.reward_fn, termination_fn=parts.termination_fn,
      length=length))
  length = int(mbpo.rollout_length(tuple(config.rollout_schedule), state.env_steps,
                                   config.epoch_length, config.random_steps))
  rollout_s = common.best_time(roll, length)
  rollout_max_s = common.best_time(roll, max_len)
  # 1000 SAC updates on batches from the buffer (mixed batches cost the same).
  batch = jax.tree.map(lambda x: x[:config.batch_size], replay.items(state.buffer))
  def updates(learner_state, k):
    return jax.lax.scan(lambda s, kk: learner.update(s, batch, kk), learner_state,
                        jax.random.split(k, 1000))
  update_s = common.best_time(jax.jit(updates),
                              sac.LearnerState(state.params.sac, state.sac_opt), key)
  # SAC itself: its agent at the same SAC settings, one update per env step.
  sac_config = sac.default_config()
  sac_config.update({k: config[k] for k in sac_config.keys()} | {'updates_per_step': 1})
  sac_agent = sac.make(sac_config, env)
  sac_state = jax.jit(sac_agent.init)(jax.random.PRNGKey(0))
  sac_chunk = jax.jit(sac_agent.train_chunk)
  sac_state, _ = sac_chunk(sac_state)  # compile + the random phase
  sac_s = common.best_time(sac_chunk, sac_state, repeats=2)
  sac_s *= 1000 / config.steps_per_chunk
  g = config.updates_per_step
  fits = per_1000 * fit_s
  return {
      'refit_s': round(fit_s, 2), 'refit_epochs': epochs,
      'rollout_length_now': length, 'rollout_batch_s': round(rollout_s, 3),
      'rollout_batch_at_max_length_s': round(rollout_max_s, 3),
      'sac_update_ms': round(update_s, 3),  # 1000 updates take update_s s: ms per update
      'per_1000_env_steps_s': {
          'refits': round(fits, 1), 'rollouts': round(per_1000 * rollout_s, 1),
          'updates': round(g * update_s, 1),
          'rest': round(chunk_s - fits - per_1000 * rollout_s - g * update_s, 1),
          'total': round(chunk_s, 1)},
      'sac_per_1000_env_steps_s': round(sac_s, 1),
      'target_s': round((g + 2) * sac_s + fits, 1),
      'total_over_target': round(chunk_s / ((g + 2) * sac_s + fits), 2)}


if __name__ == '__main__':
  app.run(main)

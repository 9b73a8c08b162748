"""Planning speed: seconds per planned action, and planning many start states in
one batched call against one call per state; prints JSON and writes it to
outputs/bench_planners/bench_planners.json (--out).

Two configurations of the MPC agent's planner (mbrl_jax.agents.mpc), each on
cart-pole swing-up through a (freshly initialised) learned ensemble:
  'pets'   the PETS settings: population 500, horizon 30, 5 CEM iterations,
           20 TSinf particles, 5 Gaussian members of 4 x 200;
  'small'  population 100, horizon 15, 3 iterations, 5 particles, 3 x 64.
For each: seconds per action for one state (best of --repeats), and for --batch
start states: one jit(vmap(policy)) call vs --batch separate jitted calls.

  python experiments/bench_planners.py

To refresh the committed record, pass
--out=experiments/results/bench_planners/bench_planners_cpu.json.
"""

import json

from absl import app, flags

import common

flags.DEFINE_integer('batch', 64, 'Start states planned together.')
common.define_repeats()
flags.DEFINE_list('settings', ['small', 'pets'], 'Which configurations to time.')
flags.DEFINE_bool('pets_batched', False, 'Also time the batched comparison at PETS '
                  'settings (64 x ~2 s per action on a 2-core CPU).')
common.define_out('outputs/bench_planners/bench_planners.json')
FLAGS = flags.FLAGS


def settings(name):
  from mbrl_jax.agents import mpc
  config = mpc.preset('pets', angle_dims=(1,))
  if name == 'small':
    config.update(dict(population=100, horizon=15, num_particles=5))
    config.cem.iterations = 3
    config.model.update(dict(width=64, num_layers=3))
  else:
    config.model.update(dict(width=200, num_layers=4))
  return config


def main(argv):
  del argv
  import jax
  from mbrl_jax import data, envs
  from mbrl_jax.agents import mpc

  env = envs.make('cartpole_swingup')
  states = data.reset(env, jax.random.PRNGKey(0), FLAGS.batch).obs
  keys = jax.random.split(jax.random.PRNGKey(1), FLAGS.batch)
  result = {'device': str(jax.devices()[0]), 'jax': jax.__version__, 'batch': FLAGS.batch}
  for name in FLAGS.settings:
    config = settings(name)
    agent = mpc.make(config, env)
    params = agent.init(jax.random.PRNGKey(2)).params
    policy = agent.make_policy(params)
    one = jax.jit(lambda obs, key: policy(obs, key))
    row = {'population': config.population, 'horizon': config.horizon,
           'cem_iterations': config.cem.iterations, 'particles': config.num_particles,
           'members': config.model.num_members,
           'model': f'{config.model.num_layers} x {config.model.width}',
           'seconds_per_action': round(common.best_time(one, states[0], keys[0],
                                                        repeats=FLAGS.repeats), 4)}
    if name != 'pets' or FLAGS.pets_batched:
      batched = jax.jit(jax.vmap(lambda obs, key: policy(obs, key)))

      def separate(states, keys):
        return [one(states[i], keys[i]) for i in range(FLAGS.batch)]

      batched_s = common.best_time(batched, states, keys, repeats=FLAGS.repeats)
      separate_s = common.best_time(separate, states, keys, repeats=FLAGS.repeats)
      row.update(batched_seconds=round(batched_s, 4), separate_seconds=round(separate_s, 4),
                 batched_speedup=round(separate_s / batched_s, 2),
                 batched_seconds_per_action=round(batched_s / FLAGS.batch, 5))
    result[name] = row
    print(json.dumps({name: row}), flush=True)
  from mbrl_jax.harness import metrics
  metrics.report(result, FLAGS.out)


if __name__ == '__main__':
  app.run(main)

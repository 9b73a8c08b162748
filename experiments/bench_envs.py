"""Env throughput under jit + vmap + lax.scan; prints JSON and writes it to
outputs/bench_envs/bench_envs.json (--out).

For each env and batch size: compile seconds of the jitted rollout, and env steps
per second (batch x steps / best wall time of `--repeats` runs), random actions,
episode limit and auto-reset included (the envs as `mbrl_jax.envs.make` gives them).

  python experiments/bench_envs.py

To refresh the committed record, pass --out=experiments/results/bench_envs/bench_envs_cpu.json
(bench_envs_dmc_cpu.json there holds annotated runs of --envs=dmc/...).
"""

import json
import time

from absl import app, flags

import common

flags.DEFINE_list('envs', ['pendulum', 'cartpole_swingup', 'acrobot_swingup', 'point_mass',
                           'two_link_arm', 'linear_quadratic', 'brax/halfcheetah'],
                  'Envs to time.')
flags.DEFINE_list('batch_sizes', ['1', '64', '1024'], 'Numbers of parallel envs.')
flags.DEFINE_integer('steps', 1000, 'Scan length for JAX-native tasks.', lower_bound=1)
flags.DEFINE_integer('brax_steps', 100, 'Scan length for Brax and DM Control (dmc/) envs.',
                     lower_bound=1)
flags.DEFINE_string('brax_backend', 'generalized', 'Backend of the Brax envs.')
common.define_repeats()
common.define_out('outputs/bench_envs/bench_envs.json')
FLAGS = flags.FLAGS


def time_rollout(env, batch, steps, repeats):
  import jax
  from mbrl_jax.data import acting
  from mbrl_jax import data
  policy = acting.per_env(data.random_policy(env))

  def rollout(key):
    reset_key, key = jax.random.split(key)
    state = data.reset(env, reset_key, batch)
    state, experience = acting.unroll(env, state, policy, key, steps)
    return state.obs, experience.transition.reward.sum()

  key = jax.random.key(0)
  start = time.perf_counter()
  compiled = jax.jit(rollout).lower(key).compile()
  compile_s = time.perf_counter() - start
  jax.block_until_ready(compiled(key))  # warm up
  best = float('inf')
  for i in range(repeats):
    start = time.perf_counter()
    jax.block_until_ready(compiled(jax.random.key(i + 1)))
    best = min(best, time.perf_counter() - start)
  return {'compile_s': round(compile_s, 3), 'run_s': round(best, 4),
          'steps_per_s': round(batch * steps / best, 1)}


def main(argv):
  del argv
  import jax  # no persistent compilation cache here: compile_s is a real compile
  from mbrl_jax import envs

  rows = []
  for name in FLAGS.envs:
    is_brax = name.startswith('brax/')
    env = envs.make(name, backend=FLAGS.brax_backend) if is_brax else envs.make(name)
    simulated = is_brax or name.startswith('dmc/')  # physics engines: shorter scans
    steps = FLAGS.brax_steps if simulated else FLAGS.steps
    for batch in map(int, FLAGS.batch_sizes):
      row = {'env': name, 'batch': batch, 'steps': steps}
      if simulated:
        row['backend'] = env.unwrapped.backend
      row.update(time_rollout(env, batch, steps, FLAGS.repeats))
      rows.append(row)
      print(json.dumps(row), flush=True)
  result = {'device': str(jax.devices()[0]), 'jax': jax.__version__, 'rows': rows}
  from mbrl_jax.harness import metrics
  metrics.report(result, FLAGS.out)


if __name__ == '__main__':
  app.run(main)

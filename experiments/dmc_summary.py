"""Summary of experiments/dmc_agents.sh runs as JSON: per task and agent, the eval
return (mean, min, max over seeds) at a quarter, half, three quarters and all of
the run, and the wall-clock seconds per 1000 env steps (all seeds together; the
median over chunks after the first two, which include compilation); per task, the
return of uniform random actions for reference.

  python experiments/dmc_summary.py --runs=outputs/dmc/agents/runs

Prints the JSON and writes it to outputs/dmc/agents/summary.json (--out). To refresh
the committed record, pass --runs=experiments/results/dmc/agents/runs
--out=experiments/results/dmc/agents/summary.json.
"""

import os
import sys

import numpy as np
from absl import app, flags

import common
from mbrl_jax.harness import metrics

flags.DEFINE_string('runs', 'outputs/dmc/agents/runs', 'The runs/ folder of dmc_agents.sh.')
flags.DEFINE_string('repeats', 'CartpoleSwingup=8,ReacherEasy=4,CheetahRun=4',
                    'Action repeat per task (env steps per decision).')
flags.DEFINE_integer('random_episodes', 30, 'Random-action episodes per task (0: skip).',
                     lower_bound=0)
common.define_out('outputs/dmc/agents/summary.json')
FLAGS = flags.FLAGS


def summarize(rows, repeat):
  decisions = sorted({r['env_steps'] for r in rows if r.get('eval_return') is not None})
  if not decisions:
    raise ValueError('no eval_return rows')
  picks = sorted({decisions[max(0, len(decisions) * q // 4 - 1)] for q in (1, 2, 3, 4)})
  points = common.curve_at(rows, 'eval_return', picks)
  for point in points:
    point['env_steps'] *= repeat
  first_seed = sorted((r for r in rows if r['seed_index'] == 0), key=lambda r: r['chunk'])
  per_chunk = decisions[0] * repeat  # env steps per chunk (the first eval's step count)
  seconds = [r['chunk_seconds'] for r in first_seed[2:]]
  return {'env_steps': decisions[-1] * repeat, 'eval_return_at': points,
          'seconds_per_1000_env_steps': round(1000 * float(np.median(seconds)) / per_chunk, 2)
          if seconds else None,
          'first_chunk_seconds': round(first_seed[0]['chunk_seconds'], 1)}


def random_return(task, repeat, episodes):
  """Mean, min and max return of uniform random actions over whole episodes."""
  import jax
  from mbrl_jax.data import acting
  from mbrl_jax import data, envs
  env = envs.make('dmc/' + task, action_repeat=repeat)
  state = data.reset(env, jax.random.key(0), episodes)
  policy = acting.per_env(data.random_policy(env))
  unroll = jax.jit(lambda s, k: acting.unroll(env, s, policy, k, data.episode_decisions(env)))
  returns = np.asarray(unroll(state, jax.random.key(1))[1].episode_return[-1])
  return {'episodes': episodes, 'mean': round(float(returns.mean()), 1),
          'min': round(float(returns.min()), 1), 'max': round(float(returns.max()), 1)}


def main(_):
  repeats = dict(item.split('=') for item in FLAGS.repeats.split(','))
  result = {}
  try:
    for name in sorted(os.listdir(FLAGS.runs)):
      agent, task = name.split('_', 1)
      if task in repeats:
        result.setdefault(task, {})[agent] = summarize(
            metrics.read(os.path.join(FLAGS.runs, name)), int(repeats[task]))
  except (OSError, ValueError) as err:
    sys.exit(f'error: {err}')
  if FLAGS.random_episodes:
    for task in result:
      result[task]['random_actions'] = random_return(task, int(repeats[task]),
                                                     FLAGS.random_episodes)
  metrics.report(result, FLAGS.out)


if __name__ == '__main__':
  app.run(main)

"""Dyna-Q on the Dyna maze (Sutton & Barto, Figure 8.2): steps per episode for
n = 0, 5, 50 planning steps, mean over 30 runs (one vmap), to PNG and JSON.

  python experiments/dyna_q.py

Writes outputs/dyna_q/dyna_q.{json,png} (--workdir). To refresh the committed record,
pass --workdir=experiments/results/dyna_q.
"""

import json
import os

from absl import app, flags

import common

flags.DEFINE_list('planning_steps', ['0', '5', '50'], 'Values of n.')
flags.DEFINE_integer('runs', 30, 'Runs (seeds) per n.')
flags.DEFINE_integer('episodes', 50, 'Episodes per run.')
common.define_out('outputs/dyna_q', 'the JSON and PNG', name='workdir')
FLAGS = flags.FLAGS


def main(argv):
  del argv
  import jax
  import numpy as np
  from mbrl_jax.tabular import dyna_q

  curves = {}
  for n in map(int, FLAGS.planning_steps):
    config = dyna_q.default_config()
    config.update(dict(planning_steps=n, num_episodes=FLAGS.episodes))
    run = jax.jit(jax.vmap(dyna_q.make_run(config)))
    lengths = np.asarray(run(jax.random.split(jax.random.PRNGKey(0), FLAGS.runs)))
    curves[n] = lengths.mean(0).tolist()
    print(json.dumps({'n': n, 'first_5': curves[n][:5], 'last_10_mean':
                      float(np.mean(curves[n][-10:]))}), flush=True)
  from mbrl_jax.harness import metrics, plotting
  metrics.write_json({'runs': FLAGS.runs, 'steps_per_episode': curves},
                     os.path.join(FLAGS.workdir, 'dyna_q.json'), indent=2)
  path = plotting.plot_lines([plotting.Panel(
      {f'n = {n}': (range(2, len(curve) + 1), curve[1:]) for n, curve in curves.items()},
      title='Dyna-Q on the Dyna maze (first episode left out)', xlabel='episode',
      ylabel=f'steps per episode (mean of {FLAGS.runs} runs)', ylim=(0, 800))],
      os.path.join(FLAGS.workdir, 'dyna_q.png'), panel_size=(6, 4))
  print(f'Wrote {path}')


if __name__ == '__main__':
  app.run(main)

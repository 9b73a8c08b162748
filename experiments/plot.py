"""Learning curves of one or more workdirs to a PNG (default
outputs/plot/learning_curves.png; --out), and with --csv to a CSV.

  python experiments/plot.py --workdirs=outputs/a,outputs/b --out=curves.png
"""

import sys

from absl import app, flags

import common

flags.DEFINE_list('workdirs', None, 'Workdirs to draw, one line each.', required=True)
common.define_out('outputs/plot/learning_curves.png', 'the PNG')
flags.DEFINE_string('key', 'eval_return', 'Metric to draw.')
flags.DEFINE_list('labels', None, 'Line labels (default: workdir names).')
flags.DEFINE_string('csv', None, 'Also write the curves as CSV here.')
flags.DEFINE_string('title', None, 'Plot title.')
flags.DEFINE_integer('action_repeat', 1, 'x axis in env steps: the runs\' agent steps times '
                     'this (their envs\' action_repeat).', lower_bound=1)
FLAGS = flags.FLAGS


def main(argv):
  del argv
  from mbrl_jax.harness import plotting
  try:
    out = plotting.plot_workdirs(FLAGS.workdirs, FLAGS.out, FLAGS.key, FLAGS.labels,
                                 FLAGS.title, FLAGS.action_repeat)
    if FLAGS.csv:
      written = plotting.write_csv(FLAGS.workdirs, FLAGS.csv, FLAGS.key, FLAGS.labels,
                                   FLAGS.action_repeat)
      print(f'Wrote {written}')
  except ValueError as err:
    sys.exit(f'error: {err}')
  print(f'Wrote {out}')


if __name__ == '__main__':
  app.run(main)

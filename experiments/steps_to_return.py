"""Env steps each of two runs needs to reach the same return. Prints JSON.

Targets come from the baseline's mean curve (its final return, and 95% / 90% of
its improvement); the step ratio is the candidate's own steps to a target over
the baseline's own steps to it, with each seed's steps for the spread, and both
curves quoted at several step counts (common.compare).

  python experiments/steps_to_return.py --candidate=outputs/mbpo --baseline=outputs/sac

Prints the JSON and writes it to outputs/steps_to_return/steps_to_return.json (--out;
mbpo_vs_sac.sh names its own, under outputs/mbpo/).
"""

import sys

from absl import app, flags

import common
from mbrl_jax.harness import metrics

flags.DEFINE_string('candidate', None, 'Workdir of the run that should need fewer steps.',
                    required=True)
flags.DEFINE_string('baseline', None, 'Workdir whose curve sets the targets.', required=True)
flags.DEFINE_string('key', 'eval_return', 'Metric.')
flags.DEFINE_list('at_steps', None, 'Env steps to quote both curves at (default: a '
                  'quarter, half, three quarters and all of the candidate\'s budget).')
common.define_out('outputs/steps_to_return/steps_to_return.json')
FLAGS = flags.FLAGS


def main(_):
  try:
    at_steps = None if FLAGS.at_steps is None else [int(s) for s in FLAGS.at_steps]
    result = common.compare(metrics.read(FLAGS.candidate), metrics.read(FLAGS.baseline),
                                FLAGS.key, at_steps=at_steps)
  except ValueError as err:
    sys.exit(f'error: {err}')
  result = {'candidate': FLAGS.candidate, 'baseline': FLAGS.baseline, **result}
  metrics.report(result, FLAGS.out)


if __name__ == '__main__':
  app.run(main)

"""How many env steps one run needs to reach another's final return. Prints JSON.

Curves are the mean over seeds of `eval_return` at each evaluation; the target is
the baseline's final mean return; the ratio is (steps the candidate first reaches
it) / (steps the baseline trained). Because a final mean is noisy, the same is
also given for 95% and 90% of the baseline's improvement (first to final
evaluation), and for the baseline itself (when it first reached those targets).

  python experiments/steps_to_return.py --candidate=outputs/mbpo --baseline=outputs/sac
"""

import json
import sys

import numpy as np
from absl import app, flags

from mbrl_jax import metrics, plotting

flags.DEFINE_string('candidate', None, 'Workdir of the run that should need fewer steps.',
                    required=True)
flags.DEFINE_string('baseline', None, 'Workdir whose final return is the target.',
                    required=True)
flags.DEFINE_string('key', 'eval_return', 'Metric.')
flags.DEFINE_string('out', None, 'Also write the JSON here.')
FLAGS = flags.FLAGS
FRACTIONS = (1.0, 0.95, 0.9)


def mean_curve(workdir, key):
  """(env_steps, mean over seeds) of the evaluations in a workdir."""
  steps, mean, _, _, _ = plotting.curve(metrics.read(workdir), key)
  if not len(steps):
    raise ValueError(f'{workdir} has no {key!r} rows.')
  return np.asarray(steps), np.asarray(mean)


def first_reaching(steps, mean, target):
  reached = np.nonzero(mean >= target)[0]
  return int(steps[reached[0]]) if len(reached) else None


def compare(candidate, baseline, key='eval_return'):
  base_steps, base_mean = mean_curve(baseline, key)
  cand_steps, cand_mean = mean_curve(candidate, key)
  final, first = float(base_mean[-1]), float(base_mean[0])
  result = {'candidate': candidate, 'baseline': baseline, 'key': key,
            'baseline_final': round(final, 1), 'baseline_steps': int(base_steps[-1]),
            'candidate_final': round(float(cand_mean[-1]), 1)}
  for fraction in FRACTIONS:
    target = first + fraction * (final - first)
    cand = first_reaching(cand_steps, cand_mean, target)
    result[f'{fraction:.0%} of baseline improvement'] = {
        'target': round(target, 1), 'candidate_steps': cand,
        'baseline_steps': first_reaching(base_steps, base_mean, target),
        'step_ratio': None if cand is None else round(cand / int(base_steps[-1]), 3)}
  result['candidate_curve'] = [[int(s), round(float(m), 1)] for s, m in zip(cand_steps, cand_mean)]
  result['baseline_curve'] = [[int(s), round(float(m), 1)] for s, m in zip(base_steps, base_mean)]
  return result


def main(_):
  try:
    result = compare(FLAGS.candidate, FLAGS.baseline, FLAGS.key)
  except (ValueError, FileNotFoundError) as err:
    sys.exit(f'error: {err}')
  print(json.dumps(result))
  if FLAGS.out:
    with open(FLAGS.out, 'w') as f:
      json.dump(result, f, indent=1)


if __name__ == '__main__':
  app.run(main)

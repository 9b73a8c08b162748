"""Several runs' curves side by side, as a markdown table and JSON: the mean (min to
max over seeds) at given env steps, and each seed's first env step at or above given
returns (absolute targets, the same for every run, so that runs compare with each
other and not only with one baseline).

  python experiments/curve_table.py --workdirs=outputs/mbpo_causes/mbpo,outputs/mbpo_causes/sac \
      --at_steps=4000,8000,12000 --targets=25,50

Prints the table, and writes the JSON to outputs/curve_table/curve_table.json (--out).
"""

import json
import os

from absl import app, flags

import common
from mbrl_jax.harness import metrics

flags.DEFINE_list('workdirs', None, 'Run directories (each with a metrics.jsonl).',
                  required=True)
flags.DEFINE_list('at_steps', None, 'Env steps to quote each curve at.', required=True)
flags.DEFINE_list('targets', [], 'Returns whose first per-seed step to report.')
flags.DEFINE_string('key', 'eval_return', 'Metric.')
common.define_out('outputs/curve_table/curve_table.json')
FLAGS = flags.FLAGS


def main(_):
  at_steps = [int(s) for s in FLAGS.at_steps]
  targets = [float(t) for t in FLAGS.targets]
  result, lines = [], []
  header = (['run'] + [f'{s // 1000}k' if s % 1000 == 0 else str(s) for s in at_steps]
            + [f'steps to {t:g} (seeds)' for t in targets])
  lines.append('| ' + ' | '.join(header) + ' |')
  lines.append('|' + ' --- |' * len(header))
  for workdir in FLAGS.workdirs:
    rows = metrics.read(workdir)
    name = os.path.basename(os.path.normpath(workdir))
    points = {p['env_steps']: p for p in common.curve_at(rows, FLAGS.key, at_steps)}
    reached = {t: common.steps_to_target(rows, FLAGS.key, t)['seeds'] for t in targets}
    result.append({'run': name, 'at_steps': list(points.values()),
                   'steps_to': [{'target': t, 'seeds': s} for t, s in reached.items()]})
    cells = [f"{points[s]['mean']:g} ({points[s]['min']:g} to {points[s]['max']:g})"
             if s in points else '' for s in at_steps]
    cells += [', '.join('-' if s is None else str(s) for s in reached[t]) for t in targets]
    lines.append('| ' + ' | '.join([name] + cells) + ' |')
  print('\n'.join(lines))
  os.makedirs(os.path.dirname(FLAGS.out) or '.', exist_ok=True)
  with open(FLAGS.out, 'w') as f:
    json.dump(result, f, indent=1)


if __name__ == '__main__':
  app.run(main)

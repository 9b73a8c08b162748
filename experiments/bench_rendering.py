"""Throughput of the two-link arm renderer (jit + vmap); prints JSON and writes it to
outputs/bench_rendering/bench_rendering.json (--out).

For each batch size: compile seconds of the jitted, vmapped `rendering.render`, and images
per second (batch / best wall time of `--repeats` runs after a warm-up), on random arm
observations, with the default scene (64x64, no distractors) or `--distractors` (one of each
shape).

  python experiments/bench_rendering.py

To refresh the committed record, pass
--out=experiments/results/bench_rendering/bench_rendering_cpu.json (with --size=32:
bench_rendering_32_cpu.json there).
"""

import json
import time

from absl import app, flags

import common

flags.DEFINE_list('batch_sizes', ['1', '64', '1024'], 'Images rendered per call.')
flags.DEFINE_integer('size', 64, 'Image height and width.', lower_bound=1)
flags.DEFINE_bool('distractors', False, 'Add a square, a triangle and a disc to the scene.')
common.define_repeats()
common.define_out('outputs/bench_rendering/bench_rendering.json')
FLAGS = flags.FLAGS


def time_render(config, batch, repeats):
  import jax
  from mbrl_jax.envs import rendering
  from mbrl_jax.envs.two_link_arm import TwoLinkArm
  task = TwoLinkArm(joint_noise=3.14)  # arms all round, not only near straight
  obs = jax.vmap(task.initial_obs)(jax.random.split(jax.random.key(0), batch))
  fn = jax.jit(lambda o: rendering.render_batch(o, config))
  start = time.perf_counter()
  compiled = fn.lower(obs).compile()
  compile_s = time.perf_counter() - start
  best = common.best_time(compiled, obs, repeats=repeats)
  return {'compile_s': round(compile_s, 3), 'run_s': round(best, 5),
          'images_per_s': round(batch / best, 1)}


def main(argv):
  del argv
  import jax  # no persistent compilation cache here: compile_s is a real compile
  from mbrl_jax.envs import rendering

  distractors = ()
  if FLAGS.distractors:
    distractors = (rendering.Distractor('square', (-1.6, 1.6), 0.25, (0.2, 0.8, 0.2)),
                   rendering.Distractor('triangle', (1.6, -1.6), 0.3, (0.2, 0.3, 0.9)),
                   rendering.Distractor('disc', (-1.6, -1.6), 0.2, (0.9, 0.8, 0.1)))
  config = rendering.RenderConfig(height=FLAGS.size, width=FLAGS.size, distractors=distractors)
  rows = []
  for batch in map(int, FLAGS.batch_sizes):
    row = {'batch': batch, 'height': config.height, 'width': config.width,
           'distractors': len(distractors)}
    row.update(time_render(config, batch, FLAGS.repeats))
    rows.append(row)
    print(json.dumps(row), flush=True)
  from mbrl_jax.harness import metrics
  metrics.report({'device': str(jax.devices()[0]), 'jax': jax.__version__,
                  'scene': 'two-link arm and target, random poses', 'rows': rows}, FLAGS.out)


if __name__ == '__main__':
  app.run(main)

"""The talk's first table: pose-estimation error of the four heads on the same trunk.

A PoseNet (policies.pose_pretraining) predicts the target's (x, y) from an image of
the arm scene (both joints anywhere, the target anywhere in the task's annulus);
trained on `--train_scenes` fixed scenes with Adam, tested on `--test_scenes` new
ones. Heads (policies.visuomotor.HEADS): spatial softmax + feature points (the
paper's), softmax + fully connected, fully connected, max-pool + fully connected;
the trunk, optimizer, data and steps are the same for all. Error: Euclidean
distance in the arm's units (each link is 1 long; the paper reports cm on a PR2),
mean and std over the test scenes, per seed. CPU scale: 32 x 32 images (link and
target drawn 0.2 wide), trunk 16 / 8 / 8 channels, kernels 5 / 3 / 3, strides 2 / 1 / 1.

  PYTHONPATH=. .venv/bin/python experiments/pose_table.py --seeds=0,1

Writes outputs/visuomotor/pose_table.json and feature_points.png (the spatial-softmax
net's feature points on test images; --out: the folder) and prints the JSON. To refresh
the committed record, pass --out=experiments/results/visuomotor.
"""

import os
import time

from absl import app, flags

import common

flags.DEFINE_list('seeds', ['0', '1'], 'Seeds (data, init and minibatches).')
flags.DEFINE_list('heads', ['spatial_softmax', 'softmax_fc', 'fc', 'maxpool_fc'], 'Heads.')
flags.DEFINE_integer('steps', 3000, 'Adam steps.')
flags.DEFINE_integer('batch_size', 64, 'Scenes per step.')
flags.DEFINE_float('learning_rate', 1e-3, 'Adam step size.')
flags.DEFINE_integer('train_scenes', 20000, 'Training scenes.')
flags.DEFINE_integer('test_scenes', 2000, 'Held-out scenes.')
flags.DEFINE_integer('size', 32, 'Image height and width.')
common.define_out('outputs/visuomotor', 'the JSON and figures')
FLAGS = flags.FLAGS
TRUNK = dict(channels=(16, 8, 8), kernel_sizes=(5, 3, 3), strides=(2, 1, 1))
PAPER_CM = {'spatial_softmax': (1.30, 0.73), 'softmax_fc': (2.59, 1.19), 'fc': (4.75, 2.29),
            'maxpool_fc': (3.71, 1.73)}


def render_config():
  from mbrl_jax.envs import rendering
  return rendering.RenderConfig(height=FLAGS.size, width=FLAGS.size, link_width=0.2,
                                target_radius=0.2)


def plot_feature_points(net, params, scenes, path, count=4):
  import matplotlib
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt
  import numpy as np
  from mbrl_jax.harness import plotting
  from mbrl_jax.envs import rendering
  from mbrl_jax.policies import visuomotor as vm
  config = render_config()
  images = rendering.render_batch(scenes[:count], config)
  maps = net.apply(params, images, method=vm.PoseNet.feature_maps)
  points = net.apply(params, images, method=vm.PoseNet.features)
  xy = np.asarray(vm.points_in_image(points, maps.shape[1:3], TRUNK['kernel_sizes'],
                                     TRUNK['strides']))
  fig, axes = plt.subplots(1, count, figsize=(3 * count, 3.2))
  for ax, image, pts in zip(axes, np.asarray(images), xy):
    ax.imshow(image, interpolation='nearest')
    ax.scatter(pts[:, 0], pts[:, 1], s=30, c=np.arange(len(pts)), cmap='tab10', marker='x')
    ax.set_xticks([])
    ax.set_yticks([])
  fig.suptitle('feature points of the pose net (spatial softmax; one colour per channel)')
  plotting.save_figure(fig, path)


def main(argv):
  del argv
  import jax
  import numpy as np
  from mbrl_jax.harness import compilation_cache, metrics
  from mbrl_jax.policies import pose_pretraining
  from mbrl_jax.policies import visuomotor as vm
  compilation_cache.enable()
  config = render_config()
  rows, plotted = {}, False
  for head in FLAGS.heads:
    rows[head] = {'paper_cm': PAPER_CM.get(head), 'seeds': []}
    for seed in map(int, FLAGS.seeds):
      data_key, test_key, train_key = jax.random.split(jax.random.PRNGKey(seed), 3)
      train = pose_pretraining.sample_scenes(data_key, FLAGS.train_scenes)
      test = pose_pretraining.sample_scenes(test_key, FLAGS.test_scenes)
      net = vm.PoseNet(target_size=2, head=head, **TRUNK)
      started = time.perf_counter()
      out = jax.jit(lambda k: pose_pretraining.pretrain(net, train, k, FLAGS.steps, FLAGS.batch_size,
                                            FLAGS.learning_rate, config))(train_key)
      jax.block_until_ready(out)
      seconds = time.perf_counter() - started
      errors = np.asarray(pose_pretraining.position_errors(net, out.params, test, config))
      mean_guess = np.linalg.norm(np.asarray(test[:, 6:8] - train[:, 6:8].mean(0)), axis=-1)
      row = {'seed': seed, 'error_mean': round(float(errors.mean()), 4),
             'error_std': round(float(errors.std()), 4),
             'predict_the_mean_error': round(float(mean_guess.mean()), 4),
             'final_loss': round(float(out.losses[-100:].mean()), 5),
             'skipped_steps': int(out.skipped), 'seconds_with_compile': round(seconds, 1),
             'parameters': int(sum(x.size for x in jax.tree.leaves(out.params)))}
      rows[head]['seeds'].append(row)
      print(head, row, flush=True)
      if head == 'spatial_softmax' and not plotted:
        plot_feature_points(net, out.params, test,
                            os.path.join(FLAGS.out, 'feature_points.png'))
        plotted = True
  order = sorted(rows, key=lambda h: np.mean([r['error_mean'] for r in rows[h]['seeds']]))
  result = {'images': f'{FLAGS.size} x {FLAGS.size}', 'trunk': TRUNK, 'steps': FLAGS.steps,
            'batch_size': FLAGS.batch_size, 'learning_rate': FLAGS.learning_rate,
            'train_scenes': FLAGS.train_scenes, 'test_scenes': FLAGS.test_scenes,
            'units': 'arm units (link length 1)', 'heads': rows,
            'order_here_best_first': order,
            'order_in_paper_best_first': sorted(PAPER_CM, key=lambda h: PAPER_CM[h][0])}
  metrics.report(result, os.path.join(FLAGS.out, 'pose_table.json'))


if __name__ == '__main__':
  app.run(main)

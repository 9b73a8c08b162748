"""brax.training's own SAC on a Brax env, as a baseline beside this package's agents:
its eval returns, one row per evaluation and seed, in the launcher's metrics.jsonl
format (env_steps, seed_index, eval_return), so steps_to_return.py and plot.py read
it as they read a launcher run. Seeds run one after another (brax's loop is not
vmapped over seeds); a seed already in the file is skipped, so a stopped run goes on.

  PYTHONPATH=. python experiments/brax_sac.py --env=inverted_pendulum \
      --total_steps=20000 --workdir=outputs/brax_sac_inverted_pendulum

Settings default to this package's SAC at its `cpu` size (128 x 128, lr 1e-3, batch
256, one update per env step, one env, discount 0.99, 500 random steps); brax's own
defaults differ (lr 1e-4, discount 0.9).
"""

import functools
import json
import os
import time

import jax
from absl import app, flags

import common

from mbrl_jax import envs
from mbrl_jax.harness.metrics import METRICS_FILE

flags.DEFINE_string('env', 'inverted_pendulum', 'A Brax env name (without brax/).')
flags.DEFINE_string('backend', 'generalized', 'Brax backend.')
flags.DEFINE_integer('total_steps', 20000, 'Env steps per seed.')
flags.DEFINE_integer('eval_every', 500, 'Env steps between evaluations.')
flags.DEFINE_integer('eval_episodes', 5, 'Evaluation episodes (brax: eval envs).')
flags.DEFINE_integer('num_seeds', 3, 'Seeds, run one after another.')
flags.DEFINE_integer('episode_length', envs.BRAX_EPISODE_LENGTH, 'Env steps per episode.')
flags.DEFINE_integer('random_steps', 500, 'Replay prefill before learning.')
flags.DEFINE_integer('updates_per_step', 1, 'Gradient steps per env step.')
flags.DEFINE_float('learning_rate', 1e-3, 'Adam learning rate.')
flags.DEFINE_float('discount', 0.99, 'Discount.')
flags.DEFINE_list('hidden_sizes', ['128', '128'], 'Both networks\' hidden layers.')
common.define_out('outputs/brax_sac', 'the metrics', name='workdir')
FLAGS = flags.FLAGS


def done_seeds(path):
  if not os.path.exists(path):
    return set()
  with open(path) as f:
    rows = [json.loads(line) for line in f if line.strip()]
  last = max((r['env_steps'] for r in rows), default=0)
  return {r['seed_index'] for r in rows if r['env_steps'] == last and last >= FLAGS.total_steps}


def main(_):
  common.restore_device_put_replicated()
  from brax.training.agents.sac import networks as sac_networks
  from brax.training.agents.sac import train as sac_train
  os.makedirs(FLAGS.workdir, exist_ok=True)
  path = os.path.join(FLAGS.workdir, METRICS_FILE)
  finished = done_seeds(path)
  # A seed that stopped part way is run again from its start: keep only finished ones.
  if os.path.exists(path):
    with open(path) as f:
      kept = [line for line in f if json.loads(line)['seed_index'] in finished]
    with open(path, 'w') as f:
      f.writelines(kept)
  env = envs.BRAX_ENVS[FLAGS.env](backend=FLAGS.backend)
  network_factory = functools.partial(
      sac_networks.make_sac_networks, hidden_layer_sizes=tuple(map(int, FLAGS.hidden_sizes)))
  for seed in range(FLAGS.num_seeds):
    if seed in finished:
      continue
    start = time.perf_counter()
    rows = []

    def progress(step, metrics, seed=seed):
      rows.append({'chunk': len(rows), 'env_steps': int(step), 'seed_index': seed,
                   'eval_return': float(metrics['eval/episode_reward']),
                   'seconds': round(time.perf_counter() - start, 1)})
      print(f'seed {seed}: {step} env steps, eval return {rows[-1]["eval_return"]:.1f}',
            flush=True)

    sac_train.train(
        environment=env, num_timesteps=FLAGS.total_steps,
        episode_length=FLAGS.episode_length, num_envs=1,
        num_eval_envs=FLAGS.eval_episodes, learning_rate=FLAGS.learning_rate,
        discounting=FLAGS.discount, seed=seed, batch_size=256,
        num_evals=FLAGS.total_steps // FLAGS.eval_every + 1,
        min_replay_size=FLAGS.random_steps, max_replay_size=max(FLAGS.total_steps, 1000),
        grad_updates_per_step=FLAGS.updates_per_step, deterministic_eval=True,
        network_factory=network_factory, progress_fn=progress,
        wrap_env_fn=common.wrap_env)
    with open(path, 'a') as f:
      f.writelines(json.dumps(r) + '\n' for r in rows)


if __name__ == '__main__':
  app.run(main)

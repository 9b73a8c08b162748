"""The data-collection demo: a random policy on cartpole swing-up.

Collects `num_envs` x `num_steps` transitions in one jitted lax.scan over the
vmapped env, then reports episode returns and transitions/s and draws a few
trajectories. Outputs go to --workdir (default outputs/collect_demo): summary.json,
transitions.npz, trajectories.png. Nothing of it is committed.

  python experiments/collect_demo.py
"""

import json
import os
import time

from absl import app, flags

flags.DEFINE_string('workdir', 'outputs/collect_demo', 'Where outputs are written.')
flags.DEFINE_string('env', 'cartpole_swingup', 'Env name (see mbrl_jax.envs.names()).')
flags.DEFINE_integer('num_envs', 64, 'Envs stepped in parallel.', lower_bound=1)
flags.DEFINE_integer('num_steps', 400, 'Steps per env.', lower_bound=1)
flags.DEFINE_integer('num_plot', 4, 'Trajectories drawn.', lower_bound=1)
flags.DEFINE_integer('seed', 0, 'Random seed.')
FLAGS = flags.FLAGS


def plot_trajectories(path, obs, done, env_name, dt):
  import matplotlib
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt
  from mbrl_jax.harness import plotting
  num_steps, num_plot, obs_size = obs.shape
  labels = {'cartpole_swingup': ['cart x [m]', 'pole angle [rad]', 'cart velocity',
                                 'pole angular velocity']}.get(
                                     env_name, [f'obs[{i}]' for i in range(obs_size)])
  time_axis = [t * dt for t in range(num_steps)] if dt else list(range(num_steps))
  fig, axes = plt.subplots(obs_size, 1, figsize=(8, 1.8 * obs_size), sharex=True)
  for i, ax in enumerate(axes):
    for j in range(num_plot):
      ax.plot(time_axis, obs[:, j, i], lw=1, label=f'env {j}')
    ax.set_ylabel(labels[i])
  for t in range(num_steps):
    if done[t, 0]:
      for ax in axes:
        ax.axvline(time_axis[t], color='gray', ls=':', lw=0.8)
  axes[-1].set_xlabel('time [s]' if dt else 'step')
  axes[0].legend(loc='upper right', fontsize=7, ncol=num_plot)
  fig.suptitle(f'{env_name}: random policy (dotted: episode ends, fresh reset)')
  plotting.save_figure(fig, path)


def main(argv):
  del argv
  from mbrl_jax.harness import compilation_cache
  compilation_cache.enable()
  import jax
  import numpy as np
  from mbrl_jax.data import acting
  from mbrl_jax import data, envs
  from mbrl_jax.harness import metrics

  env = envs.make(FLAGS.env)
  policy = acting.per_env(data.random_policy(env))
  reset_key, collect_key = jax.random.split(jax.random.key(FLAGS.seed))
  state = data.reset(env, reset_key, FLAGS.num_envs)

  def collect(state, key):
    return acting.unroll(env, state, policy, key, FLAGS.num_steps)

  start = time.perf_counter()
  compiled = jax.jit(collect).lower(state, collect_key).compile()
  compile_s = time.perf_counter() - start
  start = time.perf_counter()
  _, experience = jax.block_until_ready(compiled(state, collect_key))
  run_s = time.perf_counter() - start

  experience = jax.tree.map(np.asarray, experience)
  tr = experience.transition
  returns = experience.episode_return[tr.done.astype(bool)]
  num_transitions = FLAGS.num_envs * FLAGS.num_steps
  summary = {
      'env': FLAGS.env, 'policy': 'uniform random', 'num_envs': FLAGS.num_envs,
      'num_steps': FLAGS.num_steps, 'transitions': num_transitions,
      'episodes_completed': int(returns.size),
      'return_mean': float(returns.mean()) if returns.size else None,
      'return_std': float(returns.std()) if returns.size else None,
      'return_max': float(returns.max()) if returns.size else None,
      'transitions_per_s': num_transitions / run_s,
      'compile_s': compile_s, 'run_s': run_s, 'device': str(jax.devices()[0]),
  }
  metrics.write_json(summary, os.path.join(FLAGS.workdir, 'summary.json'), indent=2)
  np.savez_compressed(os.path.join(FLAGS.workdir, 'transitions.npz'),
                      **{k: getattr(tr, k) for k in tr.__dataclass_fields__},
                      episode_return=experience.episode_return)
  plot_trajectories(os.path.join(FLAGS.workdir, 'trajectories.png'),
                    tr.obs[:, :FLAGS.num_plot], tr.done, FLAGS.env,
                    getattr(env.unwrapped, 'dt', None))
  print(json.dumps(summary, indent=2))
  print(f'Outputs in {os.path.abspath(FLAGS.workdir)}: summary.json, transitions.npz, '
        'trajectories.png')


if __name__ == '__main__':
  app.run(main)

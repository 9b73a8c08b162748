"""Pathwise policy learning through the env (mbrl_jax.agents.pathwise, dynamics='env')
against brax.training.agents.apg on the same task and env-step budget.

Both backpropagate the rewards of `--horizon`-step windows of `--num_envs` batched
envs through the pendulum's differentiable dynamics into a tanh-Gaussian MLP policy,
continue from the states reached, and count num_envs * horizon env steps per update.
They differ in their defaults, which we keep: APG minimizes the mean undiscounted
reward with a 4 x 32 layer-normed policy, Adam(0.7, 0.95) with a decaying step size
and elementwise clipping at 1; ours maximizes the discounted window return with a
2 x 32 policy, Adam and global-norm clipping at 1, and skips non-finite gradients.
The task is our JAX-native pendulum (a brax `Env`); APG gets it through
`wrap_env_fn` with our episode limit and auto-reset, so both see fresh random
start states after every episode (brax's own auto-reset replays each env's first
start state). Evaluation: mean return of `--eval_episodes` 200-step episodes
from random starts, deterministic policy, after each of `--evals` equal parts of
the budget.

brax 0.14.2's `apg.train` calls `jax.device_put_replicated`, which jax 0.10
removed; this script (only) defines it again as stacking one copy per device
(`common.restore_device_put_replicated`; then `jax.pmap` runs over that axis, as
before).

  PYTHONPATH=. .venv/bin/python experiments/pathwise_vs_apg.py --seeds=0,1,2

Writes outputs/pathwise/pathwise_vs_apg.{json,png} (--out) and prints the JSON; to
refresh the committed record, pass --out=experiments/results/pathwise.
Wall-clock: ours is compiled ahead (compile seconds reported apart) and timed per
chunk without evaluation; APG's `training/walltime` is what its trainer reports
(its first two epochs include compilation), so we also give its steady-state
seconds per epoch.
"""

import json
import os
import time

from absl import app, flags

flags.DEFINE_list('seeds', ['0', '1', '2'], 'Seeds (ours: one vmap; APG: one run each).')
flags.DEFINE_integer('total_steps', 256_000, 'Env steps per seed.')
flags.DEFINE_integer('num_envs', 32, 'Envs differentiated through per update.')
flags.DEFINE_integer('horizon', 20, 'Steps per window.')
flags.DEFINE_integer('evals', 8, 'Evaluations after equal parts of the budget.')
flags.DEFINE_integer('eval_episodes', 128, 'Episodes per evaluation.')
flags.DEFINE_float('learning_rate', 3e-3, 'Ours.')
flags.DEFINE_list('apg_learning_rates', ['1e-4', '1e-3'], 'APG runs (1e-4: its default).')
flags.DEFINE_string('out', 'outputs/pathwise', 'Output folder.')
FLAGS = flags.FLAGS
EPISODE_LENGTH = 200


def run_ours(seeds, steps_per_eval):
  import itertools

  import numpy as np

  from mbrl_jax import envs
  from mbrl_jax.harness import runner
  from mbrl_jax.agents import pathwise

  env = envs.make('pendulum', episode_length=EPISODE_LENGTH)
  config = pathwise.default_config()
  config.update(dict(horizon=FLAGS.horizon, num_envs=FLAGS.num_envs,
                     steps_per_chunk=steps_per_eval, learning_rate=FLAGS.learning_rate,
                     hidden_sizes=(32, 32)))
  agent = pathwise.make(config, env)
  curve = runner.run_in_memory(agent, env, seeds, FLAGS.evals, FLAGS.eval_episodes)
  return {'env_steps': [i * steps_per_eval for i in range(FLAGS.evals + 1)],
          'eval_return': curve.eval_returns.tolist(),
          'train_seconds': list(itertools.accumulate(curve.chunk_seconds, initial=0.0)),
          'compile_seconds': curve.compile_seconds,
          'skipped_updates': np.asarray(curve.state.skipped_updates).tolist(),
          'config': config.to_dict()}


def run_apg(seed, learning_rate, steps_per_eval):
  from brax.training.agents.apg import train as apg

  from mbrl_jax import envs
  import common
  common.restore_device_put_replicated()

  updates = FLAGS.evals * steps_per_eval // (FLAGS.num_envs * FLAGS.horizon)
  curve = []

  def progress(it, metrics):
    curve.append((it, float(metrics['eval/episode_reward']),
                  float(metrics.get('training/walltime', 0.0))))

  started = time.perf_counter()
  apg.train(envs.TASKS['pendulum'](), episode_length=EPISODE_LENGTH, policy_updates=updates,
            wrap_env_fn=common.wrap_env, horizon_length=FLAGS.horizon, num_envs=FLAGS.num_envs,
            num_evals=FLAGS.evals + 1, num_eval_envs=FLAGS.eval_episodes,
            learning_rate=learning_rate, deterministic_eval=True, seed=seed,
            progress_fn=progress)
  total = time.perf_counter() - started
  walls = [w for _, _, w in curve]
  steady = (walls[-1] - walls[2]) / max(len(walls) - 3, 1) if len(walls) > 3 else float('nan')
  return {'env_steps': [it * steps_per_eval for it, _, _ in curve],
          'eval_return': [r for _, r, _ in curve], 'train_seconds': walls,
          'steady_seconds_per_epoch': steady, 'script_seconds': total}


def plot(results, path):
  import matplotlib
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt
  from mbrl_jax.harness import plotting
  import numpy as np

  fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
  for name, res in results['methods'].items():
    returns = np.array(res['eval_return'])
    steps, wall = np.array(res['env_steps']), np.array(res['train_seconds']).mean(0)
    mean = returns.mean(0)
    for ax, x in ((axes[0], steps), (axes[1], wall)):
      line, = ax.plot(x, mean, marker='o', ms=3, label=f'{name} ({len(returns)} seeds)')
      ax.fill_between(x, returns.min(0), returns.max(0), color=line.get_color(), alpha=0.2)
  axes[0].set_xlabel('env steps')
  axes[1].set_xlabel('training seconds (CPU; APG: incl. its compilation)')
  for ax in axes:
    ax.set_ylabel('eval return (200-step episodes)')
    ax.legend()
  fig.suptitle(f'pendulum: pathwise through the env vs brax APG '
               f'({FLAGS.num_envs} envs x {FLAGS.horizon}-step windows; mean, min to max)')
  plotting.save_figure(fig, path)


def main(argv):
  del argv
  from mbrl_jax.harness import compilation_cache, metrics
  compilation_cache.enable()
  import numpy as np

  seeds = [int(s) for s in FLAGS.seeds]
  window = FLAGS.num_envs * FLAGS.horizon
  steps_per_eval = FLAGS.total_steps // FLAGS.evals // window * window
  if steps_per_eval < window:
    raise SystemExit(f'error: --total_steps must allow one update per evaluation '
                     f'({FLAGS.evals} x {window} env steps).')
  methods = {}
  ours = run_ours(seeds, steps_per_eval)
  methods['pathwise (ours)'] = {'env_steps': ours['env_steps'],
                                'eval_return': ours['eval_return'],
                                'train_seconds': [ours['train_seconds']] * len(seeds)}
  extra = {'pathwise (ours)': {'compile_seconds': ours['compile_seconds'],
                               'skipped_updates': ours['skipped_updates'],
                               'config': ours['config']}}
  for lr in FLAGS.apg_learning_rates:
    runs = [run_apg(seed, float(lr), steps_per_eval) for seed in seeds]
    name = f'brax APG lr={lr}'
    methods[name] = {'env_steps': runs[0]['env_steps'],
                     'eval_return': [r['eval_return'] for r in runs],
                     'train_seconds': [r['train_seconds'] for r in runs]}
    extra[name] = {'steady_seconds_per_epoch': [r['steady_seconds_per_epoch'] for r in runs],
                   'script_seconds': [r['script_seconds'] for r in runs]}
  summary = {}
  for name, res in methods.items():
    final = np.array(res['eval_return'])[:, -1]
    summary[name] = {'final_return_mean': float(final.mean()), 'final_return_min': float(
        final.min()), 'final_return_max': float(final.max()),
        'train_seconds_mean': float(np.mean([w[-1] for w in res['train_seconds']]))}
  results = {'task': 'pendulum', 'episode_length': EPISODE_LENGTH, 'seeds': seeds,
             'env_steps_per_seed': steps_per_eval * FLAGS.evals, 'num_envs': FLAGS.num_envs,
             'horizon': FLAGS.horizon, 'summary': summary, 'methods': methods, 'details': extra}
  metrics.write_json(results, os.path.join(FLAGS.out, 'pathwise_vs_apg.json'))
  plot(results, os.path.join(FLAGS.out, 'pathwise_vs_apg.png'))
  print(json.dumps({'summary': summary, 'details': {k: {kk: vv for kk, vv in v.items()
                                                          if kk != 'config'}
                                                      for k, v in extra.items()}}, indent=1))


if __name__ == '__main__':
  app.run(main)

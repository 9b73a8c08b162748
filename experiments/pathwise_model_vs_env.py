"""Pathwise policy learning through a learned model vs through the true env, on the
pendulum: eval return against real env steps.

Through the env, every update differentiates windows of real (JAX-native) dynamics
and consumes num_envs * horizon real steps; through the model, the real steps are
only those collected (one 200-step episode per chunk, the first one random), and
the updates backpropagate through a refitted Gaussian ensemble (ts1, reparameterized)
from start states of the real buffer. Variants (--variants): 'env', 'env_value',
'model', 'model_value' (the '_value' ones close each window with a learned V, SHAC).
Seeds are one vmap; evaluation after every chunk: mean return of `--eval_episodes`
fresh 200-step episodes, deterministic policy.

  PYTHONPATH=. .venv/bin/python experiments/pathwise_model_vs_env.py

Writes outputs/pathwise/pathwise_model_vs_env.{json,png} (--out); prints a summary
(final returns, real env steps to first reach --target, seconds). To refresh the
committed record, pass --out=experiments/results/pathwise.
"""

import json
import os

from absl import app, flags

flags.DEFINE_list('seeds', ['0', '1', '2'], 'Seeds (one vmap).')
flags.DEFINE_list('variants', ['env', 'model', 'model_value'], 'Which agents.')
flags.DEFINE_integer('env_chunks', 20, "'env': chunks of 12800 real steps (20 updates).")
flags.DEFINE_integer('model_chunks', 15, "'model': chunks of one 200-step episode.")
flags.DEFINE_integer('eval_episodes', 64, 'Episodes per evaluation.')
flags.DEFINE_float('target', -400.0, 'Return whose first crossing is reported.')
flags.DEFINE_string('out', 'outputs/pathwise', 'Output folder.')
FLAGS = flags.FLAGS


def variant_config(name):
  from mbrl_jax.agents import pathwise
  config = pathwise.preset(name)
  config.update(dict(hidden_sizes=(32, 32), learning_rate=3e-3, horizon=20))
  if name.startswith('env'):
    config.update(dict(num_envs=32, steps_per_chunk=32 * 20 * 20))
  else:
    config.update(dict(steps_per_chunk=200, random_steps=200, updates_per_chunk=100,
                       num_starts=256))
    config.model.update(dict(num_members=4, num_elites=4, width=64, num_layers=3,
                             max_epochs=50))
  if name.endswith('_value'):
    config.reward_scaling = 0.1  # keeps the critic's targets near unit scale
  return config


def run(name, seeds, chunks):
  import numpy as np

  from mbrl_jax import envs
  from mbrl_jax.harness import runner
  from mbrl_jax.agents import pathwise

  env = envs.make('pendulum')
  config = variant_config(name)
  agent = pathwise.make(config, env)
  curve = runner.run_in_memory(agent, env, seeds, chunks, FLAGS.eval_episodes)
  return {'env_steps': [i * agent.steps_per_chunk for i in range(chunks + 1)],
          'eval_return': curve.eval_returns.tolist(), 'train_seconds': sum(curve.chunk_seconds),
          'compile_seconds': curve.compile_seconds,
          'skipped_updates': np.asarray(curve.state.skipped_updates).tolist(),
          'config': config.to_dict()}


def first_crossing(steps, returns, target):
  """Per seed: the first env-step count whose eval return reaches target (None: never)."""
  import common
  return [common.first_reaching(steps, seed_returns, target) for seed_returns in returns]


def plot(results, path):
  import matplotlib
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt
  from mbrl_jax.harness import plotting
  import numpy as np

  fig, ax = plt.subplots(figsize=(7.5, 4.2))
  for name, res in results['runs'].items():
    returns = np.array(res['eval_return'])
    steps = np.maximum(np.array(res['env_steps']), 100)  # the untrained point, on a log axis
    line, = ax.plot(steps, returns.mean(0), marker='o', ms=3,
                    label=f'through {name} ({len(returns)} seeds)')
    ax.fill_between(steps, returns.min(0), returns.max(0), color=line.get_color(), alpha=0.2)
  ax.axhline(FLAGS.target, color='gray', lw=0.8, ls='--')
  ax.set_xscale('log')
  ax.set_xlabel('real env steps (log; untrained policy drawn at 100)')
  ax.set_ylabel('eval return (200-step episodes)')
  ax.set_title('pendulum: pathwise policy learning, learned model vs true env\n'
               '(mean over seeds, shaded: min to max)')
  ax.legend()
  plotting.save_figure(fig, path)


def main(argv):
  del argv
  from mbrl_jax.harness import compilation_cache, metrics
  compilation_cache.enable()
  import numpy as np

  seeds = [int(s) for s in FLAGS.seeds]
  runs, summary = {}, {}
  for name in FLAGS.variants:
    chunks = FLAGS.env_chunks if name.startswith('env') else FLAGS.model_chunks
    res = run(name, seeds, chunks)
    runs[name] = res
    final = np.array(res['eval_return'])[:, -1]
    summary[name] = {
        'final_return_mean': float(final.mean()), 'final_return_min': float(final.min()),
        'final_return_max': float(final.max()), 'real_env_steps': res['env_steps'][-1],
        f'steps_to_{int(FLAGS.target)}': first_crossing(res['env_steps'], res['eval_return'],
                                                        FLAGS.target),
        'untrained_return_mean': float(np.array(res['eval_return'])[:, 0].mean()),
        'train_seconds': round(res['train_seconds'], 1),
        'compile_seconds': round(res['compile_seconds'], 1),
        'skipped_updates': res['skipped_updates']}
    print(name, json.dumps(summary[name]), flush=True)
  results = {'task': 'pendulum', 'episode_length': 200, 'seeds': seeds, 'target': FLAGS.target,
             'summary': summary, 'runs': runs}
  metrics.write_json(results, os.path.join(FLAGS.out, 'pathwise_model_vs_env.json'))
  plot(results, os.path.join(FLAGS.out, 'pathwise_model_vs_env.png'))
  print(json.dumps(summary, indent=1))


if __name__ == '__main__':
  app.run(main)

"""Policy-gradient estimators against the horizon: pathwise, likelihood ratio and total
propagation (whole-gradient and per-step), on the true env and on a learned model.

For each task a fixed Gaussian policy (fixed std) is evaluated; for each horizon H the
estimators are computed on --batches independent batches of --batch_size trajectories
(both parts of total propagation on the same trajectories) and scored by
- log10_variance: log10 of the trace of the covariance, over the batches, of a batch's
  estimate;
- grad_norm: the mean over batches of the estimate's L2 norm;
- cosine: the mean over batches of the cosine to the reference gradient, and
  cosine_pooled: the cosine of the mean of all batches.
The reference is the analytic gradient (the second-moment recursion) on the
linear-quadratic task's true env, and elsewhere a large-sample estimate on fresh
trajectories: the whole-gradient combination of the pathwise and likelihood-ratio means
of --reference_samples trajectories (both unbiased; the weight is set from the spread
of chunk means), with its relative standard error reported (cosines mean little where
it approaches 1). On the LQ env that sampled reference is also compared to the analytic
one (reference.check_cosine_sampled_vs_analytic).

Tasks and policies: linear_quadratic (the default double integrators, u = K x + 0.5 eps,
K a fixed PD gain), pendulum and cartpole_swingup (a fixed random tanh MLP 32 wide,
squashed into the action bounds, std 0.4 of the half range; actions clipped by the
env). Start states from each task's reset distribution. The learned model is a small
ensemble (5 Gaussian members of 3 x 64, 3 elites, a random elite per step, outputs
sampled by reparameterization) fitted to --model_transitions transitions, half from a
uniform random policy and half from the evaluated policy. One compiled function per
(task, env|model) serves every horizon: rollouts run to the largest horizon and later
rewards are masked (`num_steps`), which is exact.

Writes estimators.json and variance.png, cosine.png and crossover.png (var(pathwise) /
var(LR) against H) under --out_dir, and prints a JSON summary with, per task and env
or model, the crossover horizon: the first H of the grid where var(pathwise) > var(LR).

The policies, the model fit, the compiled estimates and their statistics are in
mbrl_jax/estimator_bench.py; this script holds the flags, the loop and the outputs.

  PYTHONPATH=. .venv/bin/python experiments/bench_estimators.py [--quick]
"""

import json
import os
import time

import numpy as np
from absl import app, flags

flags.DEFINE_bool('quick', False, 'A fast smoke run (3 horizons, few samples, short fit), '
                  'written under <out_dir>/quick.')
flags.DEFINE_list('tasks', ['linear_quadratic', 'pendulum', 'cartpole_swingup'], 'Tasks.')
flags.DEFINE_list('horizons', ['1', '2', '5', '10', '20', '30', '40', '50', '100'],
                  'Horizons.')
flags.DEFINE_integer('batches', 32, 'Independent batches per horizon (for the variance).')
flags.DEFINE_integer('batch_size', 64, 'Trajectories per batch.')
flags.DEFINE_integer('reference_samples', 8192, 'Trajectories for the sampled reference.')
flags.DEFINE_integer('reference_chunks', 16, 'Chunks the reference is computed in.')
flags.DEFINE_integer('model_transitions', 4000, 'Transitions the model is fitted to.')
flags.DEFINE_integer('model_epochs', 100, 'Most epochs of the model fit (early stopping).')
flags.DEFINE_bool('model', True, 'Also evaluate on a learned model.')
flags.DEFINE_integer('seed', 0, 'Seed.')
flags.DEFINE_string('out_dir', 'experiments/results/estimators', 'Where to write.')
FLAGS = flags.FLAGS

LABELS = {'pathwise': 'pathwise', 'likelihood_ratio': 'likelihood ratio',
          'total_propagation': 'total prop. (whole gradient)',
          'total_propagation_per_step': 'total prop. (per step, PIPPS)'}


def run_setting(name, problem, params, horizons, key, analytic=None):
  """Rows per horizon (str(H) -> bench.horizon_row) and the seconds they took."""
  import jax

  from mbrl_jax import estimator_bench as bench
  evaluate = bench.make_evaluator(problem, params, max(horizons), FLAGS.batch_size,
                                  FLAGS.batches, FLAGS.reference_samples,
                                  FLAGS.reference_chunks)
  rows = {}
  start = time.perf_counter()
  for h in horizons:
    key, sub = jax.random.split(key)
    estimates, weights, ref = (np.asarray(x, np.float64) for x in evaluate(sub, h))
    row = bench.horizon_row(estimates, weights, ref, None if analytic is None else analytic(h))
    rows[str(h)] = row
    print(f'  {name} H={h}: log10 var pw {row["pathwise"].get("log10_variance")}, '
          f'lr {row["likelihood_ratio"].get("log10_variance")}, '
          f'tp {row["total_propagation"].get("log10_variance")}, '
          f'tp_step {row["total_propagation_per_step"].get("log10_variance")}', flush=True)
  return rows, round(time.perf_counter() - start, 1)


def setting_entry(rows, seconds, horizons, **extra):
  """The JSON entry of a task on its env or model: rows, seconds, extra, crossover."""
  from mbrl_jax import estimator_bench as bench
  return {'horizons': rows, 'seconds': seconds, **extra,
          'crossover_horizon': bench.crossover(rows, horizons),
          'pathwise_above_lr_at': [h for h in horizons if bench.pathwise_above(rows[str(h)])]}


def plot(results, horizons, out_dir):
  import matplotlib
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt
  from mbrl_jax import estimator_bench as bench
  from mbrl_jax import plotting
  tasks = list(results['tasks'])
  settings = [s for s in ('env', 'model') if any(s in results['tasks'][t] for t in tasks)]
  paths = []
  for metric, ylabel, fname in (('log10_variance', 'log10 variance of a batch estimate',
                                 'variance.png'),
                                ('cosine', 'cosine to reference (mean over batches)',
                                 'cosine.png')):
    fig, axes = plt.subplots(len(tasks), len(settings), figsize=(5 * len(settings),
                                                                  3.2 * len(tasks)),
                             squeeze=False)
    for i, task in enumerate(tasks):
      for j, setting in enumerate(settings):
        ax = axes[i, j]
        rows = results['tasks'][task].get(setting, {}).get('horizons', {})
        for est_name in bench.ESTIMATORS:
          ys = [rows.get(str(h), {}).get(est_name, {}).get(metric) for h in horizons]
          ys = [np.nan if y is None else y for y in ys]
          ax.plot(horizons, ys, marker='o', label=LABELS[est_name])
        ax.set_xscale('log')
        ax.set_title(f'{task}, {"true env" if setting == "env" else "learned model"}')
        ax.set_xlabel('horizon')
        ax.set_ylabel(ylabel)
        if metric == 'cosine':
          ax.set_ylim(-0.2, 1.05)
        ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=8)
    path = os.path.join(out_dir, fname)
    plotting.save_figure(fig, path)
    paths.append(path)
  # The closing figure: var(pathwise) / var(LR) against H, crossing 1 at the crossover.
  fig, ax = plt.subplots(figsize=(7, 4))
  for k, task in enumerate(tasks):
    for setting, style in (('env', '-'), ('model', '--')):
      rows = results['tasks'][task].get(setting, {}).get('horizons')
      if not rows:
        continue
      ys = []
      for h in horizons:
        pw = rows[str(h)]['pathwise'].get('log10_variance')
        lr = rows[str(h)]['likelihood_ratio'].get('log10_variance')
        ys.append(np.nan if pw is None or lr is None else pw - lr)
      ax.plot(horizons, ys, style, marker='o', color=f'C{k}',
              label=f'{task} ({"env" if setting == "env" else "model"})')
  ax.axhline(0.0, color='k', lw=0.8)
  ax.set_xscale('log')
  ax.set_xlabel('horizon')
  ax.set_ylabel('log10 var(pathwise) / var(LR)')
  ax.set_title('above 0: the likelihood-ratio estimator has the lower variance')
  ax.legend(fontsize=8)
  ax.grid(alpha=0.3)
  path = os.path.join(out_dir, 'crossover.png')
  plotting.save_figure(fig, path)
  return paths + [path]


def main(argv):
  del argv
  import jax

  from mbrl_jax import envs, metrics
  from mbrl_jax import estimator_bench as bench
  from mbrl_jax import estimators as est

  if FLAGS.quick:
    FLAGS.horizons = ['1', '5', '20']
    FLAGS.batches, FLAGS.batch_size = 8, 32
    FLAGS.reference_samples, FLAGS.reference_chunks = 1024, 4
    FLAGS.model_transitions, FLAGS.model_epochs = 1000, 5
  horizons = sorted(int(h) for h in FLAGS.horizons)
  if not horizons or horizons[0] < 1:
    raise ValueError(f'horizons must be >= 1, got {FLAGS.horizons}.')
  if FLAGS.reference_samples % FLAGS.reference_chunks:
    raise ValueError('reference_samples must be a multiple of reference_chunks.')
  begin = time.perf_counter()
  results = {
      'device': str(jax.devices()[0]), 'jax': jax.__version__, 'quick': FLAGS.quick,
      'settings': {'horizons': horizons, 'batches': FLAGS.batches,
                   'batch_size': FLAGS.batch_size,
                   'reference_samples': FLAGS.reference_samples,
                   'policy_std': f'{bench.STD_FRACTION} x half the action range; '
                                 f'LQ: {bench.LQ_STD}',
                   'lr_baseline': 'reward-to-go minus the leave-one-out batch mean per step',
                   'total_propagation': 'w pathwise + (1 - w) LR on the same trajectories, '
                                        'w minimising the summed variance (covariance '
                                        'included); per_step: PIPPS-style mixing at each '
                                        'action node',
                   'seed': FLAGS.seed},
      'tasks': {}}
  key = jax.random.PRNGKey(FLAGS.seed)
  for name in FLAGS.tasks:
    task = envs.TASKS[name]()
    key, policy_key, model_key, env_key, learned_key = jax.random.split(key, 5)
    policy = bench.fixed_policy(task, policy_key)
    problem = bench.problem_of(task, policy)
    entry = {'policy': policy.description, 'policy_std': np.asarray(policy.std).tolist()}
    analytic = (bench.lq_gradient(task, policy.params['K'], policy.std)
                if name == 'linear_quadratic' else None)
    print(f'{name}: true env', flush=True)
    rows, seconds = run_setting(name, problem, policy.params, horizons, env_key, analytic)
    entry['env'] = setting_entry(rows, seconds, horizons)
    if FLAGS.model:
      print(f'{name}: fitting the model', flush=True)
      ensemble, model, info = bench.fit_model(
          envs.make(name), policy, model_key, FLAGS.model_transitions,
          bench.model_config(name, FLAGS.model_epochs))
      model_problem = problem._replace(step_fn=est.model_step_fn(
          ensemble, model, task.reward_fn, clip=task.clip_action))
      print(f'{name}: learned model {info}', flush=True)
      rows, seconds = run_setting(name, model_problem, policy.params, horizons, learned_key)
      entry['model'] = setting_entry(rows, seconds, horizons, fit=info)
    results['tasks'][name] = entry

  out_dir = os.path.join(FLAGS.out_dir, 'quick') if FLAGS.quick else FLAGS.out_dir
  results['figures'] = plot(results, horizons, out_dir)
  results['total_seconds'] = round(time.perf_counter() - begin, 1)
  path = metrics.write_json(results, os.path.join(out_dir, 'estimators.json'), indent=2)
  summary = {'json': path, 'figures': results['figures'],
             'total_seconds': results['total_seconds'], 'crossover_horizon': {}}
  for name, entry in results['tasks'].items():
    summary['crossover_horizon'][name] = {s: entry[s]['crossover_horizon']
                                          for s in ('env', 'model') if s in entry}
  print(json.dumps(summary, indent=2))


if __name__ == '__main__':
  app.run(main)

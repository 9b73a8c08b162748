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
one (reference_check_cosine).

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

ESTIMATORS = ('pathwise', 'likelihood_ratio', 'total_propagation', 'total_propagation_per_step')
LABELS = {'pathwise': 'pathwise', 'likelihood_ratio': 'likelihood ratio',
          'total_propagation': 'total prop. (whole gradient)',
          'total_propagation_per_step': 'total prop. (per step, PIPPS)'}
STD_FRACTION = 0.4   # policy std / half the action range
LQ_STD = 0.5
HIDDEN = 32


def make_policy(task, key):
  """(mean_fn, params, std) of the task's fixed policy."""
  import jax
  import jax.numpy as jnp
  if type(task).__name__ == 'LinearQuadratic':
    gains = np.zeros((task.act_size, task.obs_size), np.float32)
    for i in range(task.act_size):  # a PD gain on each (position, velocity) pair
      gains[i, 2 * i:2 * i + 2] = (-2.0, -2.0)
    return (lambda p, obs: p['K'] @ obs), {'K': jnp.asarray(gains)}, jnp.full(
        task.act_size, LQ_STD)
  low, high = (jnp.asarray(b) for b in task.action_bounds)
  centre, half = (high + low) / 2, (high - low) / 2
  k1, k2 = jax.random.split(key)
  params = {'w1': jax.random.normal(k1, (HIDDEN, task.obs_size)) / np.sqrt(task.obs_size),
            'b1': jnp.zeros(HIDDEN),
            'w2': jax.random.normal(k2, (task.act_size, HIDDEN)) / np.sqrt(HIDDEN),
            'b2': jnp.zeros(task.act_size)}

  def mean_fn(p, obs):
    hidden = jnp.tanh(p['w1'] @ obs + p['b1'])
    return centre + half * jnp.tanh(p['w2'] @ hidden + p['b2'])
  return mean_fn, params, STD_FRACTION * half


def fit_model(name, task, mean_fn, params, std, key):
  """A small ensemble fitted to random-policy and evaluated-policy transitions."""
  import jax

  from mbrl_jax import data, envs, models
  env = envs.make(name)
  config = models.default_config()
  config.update({'num_members': 5, 'num_elites': 3, 'num_layers': 3, 'width': 64,
                 'batch_size': 128, 'max_epochs': FLAGS.model_epochs})
  if name == 'cartpole_swingup':
    config.angle_dims = (1,)  # PETS' input features
  ensemble = models.Ensemble(config, task.obs_size, task.act_size)
  trainer = models.Trainer(ensemble)

  def gaussian_policy(p, obs, k):
    return mean_fn(p, obs) + std * jax.random.normal(k, std.shape)

  num_envs = 10
  steps = max(1, FLAGS.model_transitions // (2 * num_envs))
  collect = jax.jit(data.collect, static_argnums=(0, 1, 5))
  keys = jax.random.split(key, 6)
  parts = []
  for i, (policy, p) in enumerate(((data.random_policy(env), None), (gaussian_policy, params))):
    state = data.reset(env, keys[2 * i], num_envs)
    _, tr = collect(env, policy, p, state, keys[2 * i + 1], steps)
    parts.append(jax.tree.map(lambda x: x.reshape((-1,) + x.shape[2:]), tr))
  dataset = jax.tree.map(lambda *x: jax.numpy.concatenate(x), *parts)
  mask = jax.numpy.ones(dataset.obs.shape[0], bool)
  start = time.perf_counter()
  state, metrics = jax.jit(trainer.fit)(trainer.init(keys[4]), dataset, mask, keys[5])
  elites = state.model.elites
  info = {'members': 5, 'elites': 3, 'layers': 3, 'width': 64,
          'transitions': int(mask.sum()), 'epochs': int(metrics['epochs']),
          'elite_holdout_mse_normalized': float(metrics['holdout_mse'][elites].mean()),
          'fit_s': round(time.perf_counter() - start, 1)}
  return ensemble, state.model, info


def lq_analytic(task, params, std):
  """H -> the analytic gradient (flattened) of the LQ task's expected H-step return."""
  import jax
  import jax.numpy as jnp

  from mbrl_jax import estimators as est
  moment = jnp.eye(task.obs_size) / 3.0  # E[x0 x0'] of the U(-1, 1) starts
  grad_fn = jax.jit(jax.grad(est.lq_expected_return, argnums=1), static_argnums=(0, 3))
  return lambda h: np.asarray(grad_fn(task, params['K'], std, h, moment), np.float64).ravel()


def make_evaluator(problem, params, h_max):
  """jit((key, num_steps) -> batch estimates [B, 4, P], whole-gradient weights [B],
  reference chunk means [C, 2, P]) for rollouts of h_max steps, rewards counted up to
  num_steps."""
  import jax
  import jax.numpy as jnp

  from mbrl_jax import estimators as est
  n, batches = FLAGS.batch_size, FLAGS.batches
  chunks = FLAGS.reference_chunks
  chunk = FLAGS.reference_samples // chunks
  mean = lambda g: est.flatten(g).mean(0)

  def one_batch(key, num_steps):
    noise = est.sample_noise(problem, key, n, h_max)
    pw, traj = est.pathwise_grads(problem, params, noise, num_steps)
    lr = est.likelihood_ratio_grads(problem, params, traj)
    tp, w = est.combine(pw, lr)
    tp_step, _ = est.total_propagation_per_step_grads(problem, params, noise, num_steps,
                                                      traj=traj)
    return jnp.stack([mean(pw), mean(lr), mean(tp), mean(tp_step)]), w

  def reference_chunk(key, num_steps):
    noise = est.sample_noise(problem, key, chunk, h_max)
    pw, traj = est.pathwise_grads(problem, params, noise, num_steps)
    return jnp.stack([mean(pw), mean(est.likelihood_ratio_grads(problem, params, traj))])

  @jax.jit
  def evaluate(key, num_steps):
    batch_key, ref_key = jax.random.split(key)
    estimates, weights = jax.vmap(one_batch, in_axes=(0, None))(
        jax.random.split(batch_key, batches), num_steps)
    ref = jax.lax.map(lambda k: reference_chunk(k, num_steps), jax.random.split(ref_key, chunks))
    return estimates, weights, ref

  return evaluate


def reference_from_chunks(ref):
  """The combined reference and its standard error, from chunk means [C, 2, P]."""
  from mbrl_jax import estimators as est
  pw, lr = ref[:, 0], ref[:, 1]
  w = float(est.mixing_weight(pw, lr))
  combined = w * pw + (1 - w) * lr
  se = float(np.sqrt(np.var(combined, axis=0, ddof=1).sum() / len(combined)))
  return combined.mean(0), se, w


def cosine(a, b):
  den = np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1)
  return np.sum(a * b, -1) / np.where(den > 0, den, np.nan)


def finite_or_none(x):
  return None if x is None or not np.isfinite(x) else float(x)


def score(estimates, weights, reference):
  """Per-estimator metrics from batch estimates [B, 4, P]."""
  out = {}
  for i, name in enumerate(ESTIMATORS):
    e = estimates[:, i]
    ok = np.all(np.isfinite(e), axis=-1)
    row = {'nonfinite_batches': int((~ok).sum())}
    e = e[ok]
    if len(e) >= 2:
      var = np.var(e, axis=0, ddof=1).sum()
      row['log10_variance'] = finite_or_none(np.log10(var)) if var > 0 else None
      row['grad_norm'] = float(np.linalg.norm(e, axis=-1).mean())
      row['cosine'] = finite_or_none(np.nanmean(cosine(e, reference[None])))
      row['cosine_pooled'] = finite_or_none(cosine(e.mean(0), reference))
    out[name] = row
  out['total_propagation']['weight_on_pathwise'] = float(np.mean(weights))
  return out


def pathwise_above(row):
  """Whether var(pathwise) > var(likelihood ratio) (non-finite pathwise counts)."""
  pw = row['pathwise'].get('log10_variance')
  lr = row['likelihood_ratio'].get('log10_variance')
  return bool(row['pathwise']['nonfinite_batches'] > 0
              or (pw is not None and lr is not None and pw > lr))


def crossover(rows, horizons):
  """The horizon of the grid from which on var(pathwise) > var(LR) at every larger
  horizon too; None where the pathwise variance is not the larger at the largest H."""
  above = [pathwise_above(rows[str(h)]) for h in horizons]
  if not above[-1]:
    return None
  i = len(above) - 1
  while i > 0 and above[i - 1]:
    i -= 1
  return horizons[i]


def run_setting(name, problem, params, horizons, key, analytic=None):
  import jax
  h_max = max(horizons)
  evaluate = make_evaluator(problem, params, h_max)
  rows = {}
  start = time.perf_counter()
  for h in horizons:
    key, sub = jax.random.split(key)
    estimates, weights, ref = (np.asarray(x, np.float64) for x in evaluate(sub, h))
    sampled, se, ref_w = reference_from_chunks(ref)
    reference = sampled if analytic is None else analytic(h)
    row = score(estimates, weights, reference)
    row['reference'] = {
        'kind': 'analytic' if analytic is not None else 'sampled',
        'norm': float(np.linalg.norm(reference)),
        'sampled_relative_se': finite_or_none(se / np.linalg.norm(sampled)),
        'sampled_weight_on_pathwise': ref_w}
    if analytic is not None:
      row['reference']['check_cosine_sampled_vs_analytic'] = finite_or_none(
          cosine(sampled, reference))
    rows[str(h)] = row
    print(f'  {name} H={h}: log10 var pw {row["pathwise"].get("log10_variance")}, '
          f'lr {row["likelihood_ratio"].get("log10_variance")}, '
          f'tp {row["total_propagation"].get("log10_variance")}, '
          f'tp_step {row["total_propagation_per_step"].get("log10_variance")}', flush=True)
  return rows, round(time.perf_counter() - start, 1)


def plot(results, horizons, out_dir):
  import matplotlib
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt
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
        for est_name in ESTIMATORS:
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

  from mbrl_jax import envs
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
                   'policy_std': f'{STD_FRACTION} x half the action range; LQ: {LQ_STD}',
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
    mean_fn, params, std = make_policy(task, policy_key)
    problem = est.Problem(mean_fn, std, est.task_step_fn(task), task.initial_obs)
    entry = {'policy': 'linear PD gain' if name == 'linear_quadratic'
             else f'random tanh MLP {HIDDEN} wide', 'policy_std': np.asarray(std).tolist()}
    analytic = lq_analytic(task, params, std) if name == 'linear_quadratic' else None
    print(f'{name}: true env', flush=True)
    rows, seconds = run_setting(name, problem, params, horizons, env_key, analytic)
    entry['env'] = {'horizons': rows, 'seconds': seconds,
                    'crossover_horizon': crossover(rows, horizons),
                    'pathwise_above_lr_at': [h for h in horizons
                                             if pathwise_above(rows[str(h)])]}
    if FLAGS.model:
      print(f'{name}: fitting the model', flush=True)
      ensemble, model, info = fit_model(name, task, mean_fn, params, std, model_key)
      model_problem = problem._replace(step_fn=est.model_step_fn(
          ensemble, model, task.reward_fn, clip=task.clip_action))
      print(f'{name}: learned model {info}', flush=True)
      rows, seconds = run_setting(name, model_problem, params, horizons, learned_key)
      entry['model'] = {'horizons': rows, 'seconds': seconds, 'fit': info,
                        'crossover_horizon': crossover(rows, horizons),
                        'pathwise_above_lr_at': [h for h in horizons
                                                 if pathwise_above(rows[str(h)])]}
    results['tasks'][name] = entry

  out_dir = os.path.join(FLAGS.out_dir, 'quick') if FLAGS.quick else FLAGS.out_dir
  os.makedirs(out_dir, exist_ok=True)
  results['figures'] = plot(results, horizons, out_dir)
  results['total_seconds'] = round(time.perf_counter() - begin, 1)
  path = os.path.join(out_dir, 'estimators.json')
  with open(path, 'w') as f:
    json.dump(results, f, indent=2)
  summary = {'json': path, 'figures': results['figures'],
             'total_seconds': results['total_seconds'], 'crossover_horizon': {}}
  for name, entry in results['tasks'].items():
    summary['crossover_horizon'][name] = {s: entry[s]['crossover_horizon']
                                          for s in ('env', 'model') if s in entry}
  print(json.dumps(summary, indent=2))


if __name__ == '__main__':
  app.run(main)

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
var(LR) against H) under --out_dir (default outputs/estimators; with --quick, its
quick/ folder), and prints a JSON summary with, per task and env
or model, the crossover horizon: the first H of the grid where var(pathwise) > var(LR).

The first half of this file holds the pieces (the policies, the model fit, the compiled
estimates and their statistics on the host, in float64 NumPy; tests/estimators checks
them); the second the flags, the loop and the outputs.

  PYTHONPATH=. .venv/bin/python experiments/bench_estimators.py [--quick]

To refresh the committed record, pass --out_dir=experiments/results/estimators.
"""

import json
import os
import time
import warnings
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from absl import app, flags

from mbrl_jax import data, envs, models
from mbrl_jax import estimators as est
from mbrl_jax.data import acting

# --- the pieces ---------------------------------------------------------------------

ESTIMATORS = ('pathwise', 'likelihood_ratio', 'total_propagation', 'total_propagation_per_step')
STD_FRACTION = 0.4   # the MLP policy's std / half the action range
LQ_STD = 0.5
LQ_GAIN = -2.0       # on each (position, velocity) pair of the double integrators
MLP_WIDTH = 32
MODEL_SIZES = {'num_members': 5, 'num_elites': 3, 'num_layers': 3, 'width': 64,
               'batch_size': 128}
ANGLE_DIMS = {'cartpole_swingup': (1,)}  # PETS' input features: the pole angle as sin/cos


# --- the evaluated policies ----------------------------------------------------------
class FixedPolicy(NamedTuple):
  """A fixed-std Gaussian policy: mean_fn(params, obs [obs]) -> [act], std [act]."""
  mean_fn: Callable
  params: Any
  std: jax.Array
  description: str


def pd_policy(obs_size: int, act_size: int) -> FixedPolicy:
  """mu = K x with K [act, obs] the gain LQ_GAIN on each (position, velocity) pair
  (x = (p_1, v_1, p_2, v_2, ...)), std LQ_STD."""
  gains = np.zeros((act_size, obs_size), np.float32)
  for i in range(act_size):
    gains[i, 2 * i:2 * i + 2] = (LQ_GAIN, LQ_GAIN)
  return FixedPolicy(est.linear_policy, {'K': jnp.asarray(gains)},
                     jnp.full(act_size, LQ_STD), 'linear PD gain')


def squashed_mlp_policy(key: jax.Array, obs_size: int, low, high,
                        width: int = MLP_WIDTH) -> FixedPolicy:
  """mu = centre + half * tanh(W2 tanh(W1 x + b1) + b2), inside [low, high] ([act]);
  W1 [width, obs] and W2 [act, width] standard normal / sqrt(fan-in), zero biases; std
  STD_FRACTION * half, half = (high - low) / 2."""
  low, high = jnp.asarray(low), jnp.asarray(high)
  centre, half = (high + low) / 2, (high - low) / 2
  act_size = low.shape[0]
  k1, k2 = jax.random.split(key)
  params = {'w1': jax.random.normal(k1, (width, obs_size)) / np.sqrt(obs_size),
            'b1': jnp.zeros(width),
            'w2': jax.random.normal(k2, (act_size, width)) / np.sqrt(width),
            'b2': jnp.zeros(act_size)}

  def mean_fn(p, obs):
    hidden = jnp.tanh(p['w1'] @ obs + p['b1'])
    return centre + half * jnp.tanh(p['w2'] @ hidden + p['b2'])
  return FixedPolicy(mean_fn, params, STD_FRACTION * half, f'random tanh MLP {width} wide')


def fixed_policy(task, key: jax.Array) -> FixedPolicy:
  """The task's evaluated policy: `pd_policy` on `envs.LinearQuadratic` (whose actions
  are unbounded), else `squashed_mlp_policy` (key unused on the LQ task)."""
  if isinstance(task, envs.LinearQuadratic):
    return pd_policy(task.obs_size, task.act_size)
  return squashed_mlp_policy(key, task.obs_size, *task.action_bounds)


def problem_of(task, policy: FixedPolicy) -> est.Problem:
  """The policy on the task's true env, from its reset distribution."""
  return est.Problem(policy.mean_fn, policy.std, est.task_step_fn(task), task.initial_obs)


def sampling_policy(policy: FixedPolicy):
  """The policy as (obs [obs], key) -> action [act], mean + std * N(0, I), for acting."""
  def act(obs, key):
    return policy.mean_fn(policy.params, obs) + policy.std * jax.random.normal(
        key, policy.std.shape)
  return act


# --- the learned model ---------------------------------------------------------------
def model_config(env_name: str, max_epochs: int) -> ml_collections.ConfigDict:
  """The benchmark's ensemble: MODEL_SIZES (Gaussian members), the task's angle dims."""
  config = models.default_config()
  config.update(dict(MODEL_SIZES, max_epochs=max_epochs))
  if env_name in ANGLE_DIMS:
    config.angle_dims = ANGLE_DIMS[env_name]
  return config


def fit_model(env, policy: FixedPolicy, key: jax.Array, num_transitions: int,
              config: ml_collections.ConfigDict, num_envs: int = 10):
  """A fresh ensemble fitted to num_transitions real steps of `env` (from
  `envs.make`), half under a uniform random policy and half under `policy` (each:
  `num_envs` envs x num_transitions // (2 num_envs) steps, at least one). Returns
  (ensemble, fitted models.ModelState, JSON-able info: sizes, transitions, epochs, the
  elites' normalized holdout MSE, fit seconds)."""
  ensemble = models.Ensemble(config, env.observation_size, env.action_size)
  trainer = models.Trainer(ensemble)
  steps = max(1, num_transitions // (2 * num_envs))
  unroll = jax.jit(acting.unroll, static_argnums=(0, 2, 4))
  keys = jax.random.split(key, 6)
  parts = []
  for i, act in enumerate((data.random_policy(env), sampling_policy(policy))):
    state = data.reset(env, keys[2 * i], num_envs)
    _, experience = unroll(env, state, acting.per_env(act), keys[2 * i + 1], steps)
    parts.append(acting.flatten_time(experience.transition))
  dataset = jax.tree.map(lambda *x: jnp.concatenate(x), *parts)
  mask = jnp.ones(dataset.obs.shape[0], bool)
  start = time.perf_counter()
  state, metrics = jax.jit(trainer.fit)(trainer.init(keys[4]), dataset, mask, keys[5])
  elites = state.model.elites
  info = {'members': config.num_members, 'elites': config.num_elites,
          'layers': config.num_layers, 'width': config.width,
          'transitions': int(mask.sum()), 'epochs': int(metrics['epochs']),
          'elite_holdout_mse_normalized': float(metrics['holdout_mse'][elites].mean()),
          'fit_s': round(time.perf_counter() - start, 1)}
  return ensemble, state.model, info


# --- the estimates -------------------------------------------------------------------
def make_evaluator(problem: est.Problem, params, horizon: int, batch_size: int,
                   batches: int, reference_samples: int, reference_chunks: int) -> Callable:
  """jit((key, num_steps) -> (estimates [batches, 4, P], weights [batches], reference
  [reference_chunks, 2, P])) for rollouts of `horizon` steps whose rewards count up to
  num_steps (<= horizon; one compiled function serves every horizon).

  estimates[i] holds the mean over batch_size trajectories of the flattened pathwise,
  likelihood-ratio, total-propagation (whole gradient) and per-step total-propagation
  gradients (in ESTIMATORS' order), all four on the same trajectories, whose noise is
  est.sample_noise(problem, split(k_batch, batches)[i], batch_size, horizon) with
  k_batch, k_ref = split(key); weights[i] is the whole-gradient weight on pathwise.
  reference[c] holds the pathwise and likelihood-ratio means over
  reference_samples / reference_chunks fresh trajectories, from split(k_ref,
  reference_chunks)[c]; the chunks run one after another (lax.map) to bound memory.
  """
  if reference_samples % reference_chunks:
    raise ValueError(f'reference_samples ({reference_samples}) must be a multiple of '
                     f'reference_chunks ({reference_chunks}).')
  chunk = reference_samples // reference_chunks
  mean = lambda g: est.flatten(g).mean(0)

  def one_batch(key, num_steps):
    noise = est.sample_noise(problem, key, batch_size, horizon)
    pw, traj = est.pathwise_grads(problem, params, noise, num_steps)
    lr = est.likelihood_ratio_grads(problem, params, traj)
    tp, w = est.combine(pw, lr)
    tp_step, _ = est.total_propagation_per_step_grads(problem, params, noise, num_steps,
                                                      traj=traj)
    return jnp.stack([mean(pw), mean(lr), mean(tp), mean(tp_step)]), w

  def reference_chunk(key, num_steps):
    noise = est.sample_noise(problem, key, chunk, horizon)
    pw, traj = est.pathwise_grads(problem, params, noise, num_steps)
    return jnp.stack([mean(pw), mean(est.likelihood_ratio_grads(problem, params, traj))])

  @jax.jit
  def evaluate(key, num_steps):
    batch_key, ref_key = jax.random.split(key)
    estimates, weights = jax.vmap(one_batch, in_axes=(0, None))(
        jax.random.split(batch_key, batches), num_steps)
    ref = jax.lax.map(lambda k: reference_chunk(k, num_steps),
                      jax.random.split(ref_key, reference_chunks))
    return estimates, weights, ref

  return evaluate


def lq_gradient(task, K: jax.Array, std) -> Callable[[int], np.ndarray]:
  """H -> the analytic gradient (flattened, float64 [act * obs]) of the linear policy
  K's expected H-step return on `envs.LinearQuadratic` (from its U(-1, 1) starts)."""
  moment = jnp.eye(task.obs_size) / 3.0  # E[x0 x0'] of the U(-1, 1) starts
  grad_fn = jax.jit(jax.grad(est.lq_expected_return, argnums=1), static_argnums=(0, 3))
  return lambda h: np.asarray(grad_fn(task, K, std, h, moment), np.float64).ravel()


# --- statistics on the host (float64 NumPy) ------------------------------------------
def finite_or_none(x) -> float | None:
  """float(x), or None for None and non-finite values (JSON has no NaN)."""
  return None if x is None or not np.isfinite(x) else float(x)


def reference_from_chunks(ref: np.ndarray) -> tuple[np.ndarray, float, float]:
  """(reference [P], its standard error, weight on pathwise) from the chunk means
  [C, 2, P]: each chunk's pathwise and likelihood-ratio means combined with the
  variance-minimising weight (est.mixing_weight over the chunks), averaged."""
  pw, lr = ref[:, 0], ref[:, 1]
  w = float(est.mixing_weight(pw, lr))
  combined = w * pw + (1 - w) * lr
  se = float(np.sqrt(np.var(combined, axis=0, ddof=1).sum() / len(combined)))
  return combined.mean(0), se, w


def score(estimates: np.ndarray, weights: np.ndarray, reference: np.ndarray) -> dict:
  """Per estimator, from batch estimates [B, 4, P] and the reference [P]:
  nonfinite_batches, and over the finite batches (at least 2) log10_variance (log10 of
  the trace of the covariance over batches), grad_norm (mean L2 norm), cosine (mean
  cosine to the reference) and cosine_pooled (of the mean of the batches); plus the
  mean of the whole-gradient weights [B] under total_propagation."""
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
      with warnings.catch_warnings():  # all batches zero: no angle, None (not a warning)
        warnings.simplefilter('ignore', RuntimeWarning)
        row['cosine'] = finite_or_none(np.nanmean(est.cosine(e, reference[None])))
      row['cosine_pooled'] = finite_or_none(est.cosine(e.mean(0), reference))
    out[name] = row
  out['total_propagation']['weight_on_pathwise'] = float(np.mean(weights))
  return out


def horizon_row(estimates: np.ndarray, weights: np.ndarray, ref: np.ndarray,
                analytic: np.ndarray | None = None) -> dict:
  """`score` against the analytic gradient [P] where given, else against the sampled
  reference of the chunk means `ref` [C, 2, P]; with a 'reference' entry: its kind,
  norm, the sampled one's relative standard error and weight, and with `analytic`, the
  cosine of the sampled reference to it (a check of the sampling)."""
  sampled, se, ref_w = reference_from_chunks(ref)
  reference = sampled if analytic is None else analytic
  row = score(estimates, weights, reference)
  row['reference'] = {
      'kind': 'analytic' if analytic is not None else 'sampled',
      'norm': float(np.linalg.norm(reference)),
      'sampled_relative_se': finite_or_none(se / np.linalg.norm(sampled)),
      'sampled_weight_on_pathwise': ref_w}
  if analytic is not None:
    row['reference']['check_cosine_sampled_vs_analytic'] = finite_or_none(
        est.cosine(sampled, reference))
  return row


def pathwise_above(row: dict) -> bool:
  """Whether var(pathwise) > var(likelihood ratio) in a `score` row (a non-finite
  pathwise batch counts as above)."""
  pw = row['pathwise'].get('log10_variance')
  lr = row['likelihood_ratio'].get('log10_variance')
  return bool(row['pathwise']['nonfinite_batches'] > 0
              or (pw is not None and lr is not None and pw > lr))


def crossover(rows: dict, horizons) -> int | None:
  """The horizon of the grid from which on var(pathwise) > var(LR) at every larger
  horizon too; None where the pathwise variance is not the larger at the largest H.
  rows: str(H) -> `score` row."""
  above = [pathwise_above(rows[str(h)]) for h in horizons]
  if not above[-1]:
    return None
  i = len(above) - 1
  while i > 0 and above[i - 1]:
    i -= 1
  return horizons[i]


# --- the script ---------------------------------------------------------------------

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
flags.DEFINE_string('out_dir', 'outputs/estimators', 'Where to write.')
FLAGS = flags.FLAGS

LABELS = {'pathwise': 'pathwise', 'likelihood_ratio': 'likelihood ratio',
          'total_propagation': 'total prop. (whole gradient)',
          'total_propagation_per_step': 'total prop. (per step, PIPPS)'}


def run_setting(name, problem, params, horizons, key, analytic=None):
  """Rows per horizon (str(H) -> horizon_row) and the seconds they took."""

  evaluate = make_evaluator(problem, params, max(horizons), FLAGS.batch_size,
                                  FLAGS.batches, FLAGS.reference_samples,
                                  FLAGS.reference_chunks)
  rows = {}
  start = time.perf_counter()
  for h in horizons:
    key, sub = jax.random.split(key)
    estimates, weights, ref = (np.asarray(x, np.float64) for x in evaluate(sub, h))
    row = horizon_row(estimates, weights, ref, None if analytic is None else analytic(h))
    rows[str(h)] = row
    print(f'  {name} H={h}: log10 var pw {row["pathwise"].get("log10_variance")}, '
          f'lr {row["likelihood_ratio"].get("log10_variance")}, '
          f'tp {row["total_propagation"].get("log10_variance")}, '
          f'tp_step {row["total_propagation_per_step"].get("log10_variance")}', flush=True)
  return rows, round(time.perf_counter() - start, 1)


def setting_entry(rows, seconds, horizons, **extra):
  """The JSON entry of a task on its env or model: rows, seconds, extra, crossover."""
  return {'horizons': rows, 'seconds': seconds, **extra,
          'crossover_horizon': crossover(rows, horizons),
          'pathwise_above_lr_at': [h for h in horizons if pathwise_above(rows[str(h)])]}


def plot(results, horizons, out_dir):
  import matplotlib
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt
  from mbrl_jax.harness import plotting
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

  from mbrl_jax import envs
  from mbrl_jax.harness import metrics

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
                   'policy_std': f'{STD_FRACTION} x half the action range; '
                                 f'LQ: {LQ_STD}',
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
    policy = fixed_policy(task, policy_key)
    problem = problem_of(task, policy)
    entry = {'policy': policy.description, 'policy_std': np.asarray(policy.std).tolist()}
    analytic = (lq_gradient(task, policy.params['K'], policy.std)
                if name == 'linear_quadratic' else None)
    print(f'{name}: true env', flush=True)
    rows, seconds = run_setting(name, problem, policy.params, horizons, env_key, analytic)
    entry['env'] = setting_entry(rows, seconds, horizons)
    if FLAGS.model:
      print(f'{name}: fitting the model', flush=True)
      ensemble, model, info = fit_model(
          envs.make(name), policy, model_key, FLAGS.model_transitions,
          model_config(name, FLAGS.model_epochs))
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

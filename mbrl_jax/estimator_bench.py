"""The estimators measured against the horizon (experiments/bench_estimators.py).

The pieces of that benchmark, as pure functions over `estimators.Problem`s:
- `fixed_policy`: the fixed Gaussian policy evaluated on a task: on the linear-quadratic
  task a PD gain u = K x + 0.5 eps, elsewhere a random tanh MLP squashed into the action
  bounds with std a fraction of the half range;
- `model_config`, `fit_model`: the small ensemble the estimators also run through,
  fitted to transitions half from a uniform random policy and half from the evaluated
  one;
- `make_evaluator`: one compiled function per (problem, largest horizon) giving the
  batch estimates of the four estimators and the chunk means of the sampled reference;
- the statistics of those estimates on the host, in float64 NumPy: `reference_from_chunks`,
  `score`, `horizon_row`, `crossover`; `lq_gradient`, the analytic reference of the
  linear-quadratic task.
"""

import time
import warnings
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from mbrl_jax import acting, data, envs, models
from mbrl_jax import estimators as est

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

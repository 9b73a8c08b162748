"""Gradient estimators of a Gaussian policy's expected return over a finite horizon.

The problem is J(theta) = E[sum_{t<H} r_t] with s_0 ~ start, a_t = mu(theta, s_t) +
std * eps_t (eps_t ~ N(0, I), std fixed), (s_{t+1}, r_t) = step(s_t, a_t, k_t). The step
function is the true differentiable env (it ignores the key k_t) or a learned model
whose Gaussian prediction is sampled by reparameterization with the key. Three
estimators give per-trajectory gradient samples, leaves [N, *param_shape]; their mean
over the N trajectories is the estimate:

- pathwise (reparameterization): eps, the start state and the model's keys are held
  fixed and jax.grad differentiates the return through the policy and the dynamics.
- likelihood ratio (REINFORCE): sum_t grad log pi(a_t | s_t) (G_t - b_t), with G_t the
  reward-to-go from t (r_t included) and b_t the leave-one-out baseline, the mean of
  G_t over the other N - 1 trajectories of the batch (independent of trajectory i, so
  the estimate stays unbiased). States and actions are constants (no gradient flows
  through the dynamics).
- total propagation, in two forms:
  * `combine`: the whole-gradient combination, w * pathwise + (1 - w) * likelihood
    ratio, computed on the same trajectories, with w chosen from the samples to
    minimise the variance of the sum of the per-parameter variances. Without
    `use_covariance` w is the plain inverse-variance weight V_lr / (V_pw + V_lr) (the
    issue's "combined by inverse variance", optimal for independent estimates); with
    it (the default) w = (V_lr - C) / (V_pw + V_lr - 2C), C the trace of their
    cross-covariance, which is the optimum for the correlated same-trajectory pair and
    never worse than the better of the two (up to the error of the estimated w).
  * `total_propagation_per_step_grads`: the per-node scheme of PIPPS (Parmas et al.
    2018, "total propagation"). One backward pass over the batch; at each step t the
    gradient of the future return with respect to the action mean mu_t is estimated
    per trajectory both pathwise (back-propagated through the step from the already
    combined gradient at s_{t+1}) and by the likelihood ratio (a_t - mu_t) / std^2
    (G_t - b_t); the two are mixed with a weight computed across the batch, as in
    `combine`, and the mixture is what flows on to theta and to s_t. Only the policy's
    action nodes are mixed: a learned model's own sampling noise is always
    differentiated pathwise. Here the variances are those of the gradient with
    respect to mu_t (not of its contribution to the theta-gradient).

Also the closed-form expected return of a linear policy on a linear-quadratic task
(`lq_expected_return`), whose jax.grad is the analytic gradient, and small helpers for
the statistics (`flatten`, `mean_variance`, `cosine`).

All functions are pure and jit/vmap friendly once the `Problem` is closed over (it holds
Python callables), e.g. `jax.jit(lambda p, k: pathwise_samples(problem, p, k, 64, 10))`.
"""

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from mbrl_jax import models
from mbrl_jax.core import returns

Params = Any


class Problem(NamedTuple):
  """A fixed-std Gaussian policy on a task (or learned model).

  mean_fn: (params, obs [obs]) -> action mean [act].
  std: [act] (or scalar) policy standard deviation, not a parameter.
  step_fn: (obs [obs], action [act], key) -> (next_obs [obs], reward []); actions reach
    it unclipped (clip inside, as `task_step_fn` does).
  start_fn: key -> obs [obs], a draw of the start state.
  """
  mean_fn: Callable
  std: Any
  step_fn: Callable
  start_fn: Callable


class Noise(NamedTuple):
  """Everything random in N trajectories of H steps."""
  start_obs: jax.Array  # [N, obs]
  eps: jax.Array        # [N, H, act]   standard normal policy noise
  keys: jax.Array       # [N, H, 2]     per-step keys for the step function (uint32)


class Trajectories(NamedTuple):
  obs: jax.Array        # [N, H + 1, obs]
  actions: jax.Array    # [N, H, act]   sampled, unclipped
  rewards: jax.Array    # [N, H]

  @property
  def returns(self):
    return self.rewards.sum(-1)


# --- problems from tasks and learned models ----------------------------------------
def task_step_fn(task) -> Callable:
  """The true env of a JAX-native `envs.Task`: clip, dynamics, reward (key unused)."""
  def step(obs, action, key):
    del key
    action = task.clip_action(action)
    next_obs = task.dynamics(obs, action)
    return next_obs, task.reward_fn(obs, action, next_obs)
  return step


def model_step_fn(ensemble, model, reward_fn: Callable,
                  clip: Callable | None = None, sample: bool = True) -> Callable:
  """One step through a trained `models.Ensemble`: a uniformly random elite per step
  (TS1 for a single particle) and its Gaussian prediction sampled by reparameterization
  (mean + std * noise, noise from the key), or its mean with `sample=False`; the reward
  is `reward_fn(obs, action, next_obs)` of the task."""
  def step(obs, action, key):
    if clip is not None:
      action = clip(action)
    next_obs, _, _ = models.random_elite_step(ensemble, model, obs, action, key, sample)
    return next_obs, reward_fn(obs, action, next_obs)
  return step


def linear_policy(params, obs):
  """mu = K obs, params {'K': [act, obs]}."""
  return params['K'] @ obs


# --- checks --------------------------------------------------------------------------
def _check_sizes(num_samples: int, horizon: int):
  if not isinstance(horizon, (int, np.integer)) or horizon < 1:
    raise ValueError(f'horizon must be an integer >= 1, got {horizon!r}.')
  if not isinstance(num_samples, (int, np.integer)) or num_samples < 2:
    raise ValueError(f'num_samples must be an integer >= 2 (the baseline and the variances '
                     f'need two trajectories), got {num_samples!r}.')


def _check_noise(noise: Noise):
  if noise.eps.ndim != 3 or noise.start_obs.ndim != 2:
    raise ValueError(f'noise must hold start_obs [N, obs] and eps [N, H, act], got '
                     f'{noise.start_obs.shape} and {noise.eps.shape}.')
  n, horizon = noise.eps.shape[:2]
  _check_sizes(n, horizon)
  if noise.start_obs.shape[0] != n or noise.keys.shape[:2] != (n, horizon):
    raise ValueError(f'noise leaves disagree on N, H: start_obs {noise.start_obs.shape}, '
                     f'eps {noise.eps.shape}, keys {noise.keys.shape}.')


# --- noise and rollouts ----------------------------------------------------------------
def sample_noise(problem: Problem, key: jax.Array, num_samples: int, horizon: int,
                 act_size: int | None = None) -> Noise:
  """Independent start states, policy noise and step keys for N trajectories."""
  _check_sizes(num_samples, horizon)
  start_key, eps_key, step_key = jax.random.split(key, 3)
  start_obs = jax.vmap(problem.start_fn)(jax.random.split(start_key, num_samples))
  if act_size is None:
    if not np.ndim(problem.std):
      raise ValueError('problem.std is a scalar: pass act_size to sample_noise.')
    act_size = np.shape(problem.std)[-1]
  eps = jax.random.normal(eps_key, (num_samples, horizon, act_size), start_obs.dtype)
  keys = jax.random.split(step_key, num_samples * horizon).reshape(num_samples, horizon, -1)
  return Noise(start_obs, eps, keys)


def _step_mask(horizon: int, num_steps, dtype) -> jax.Array:
  """1.0 for the steps whose reward counts, [H]."""
  if num_steps is None:
    return jnp.ones(horizon, dtype)
  return (jnp.arange(horizon) < num_steps).astype(dtype)


def _rollout_one(problem: Problem, params, start_obs, eps, keys, mask):
  std = jnp.asarray(problem.std, start_obs.dtype)

  def step(obs, inputs):
    e, k, m = inputs
    action = problem.mean_fn(params, obs) + std * e
    next_obs, reward = problem.step_fn(obs, action, k)
    return next_obs, (next_obs, action, m * reward)

  _, (obs, actions, rewards) = jax.lax.scan(step, start_obs, (eps, keys, mask))
  return Trajectories(jnp.concatenate([start_obs[None], obs]), actions, rewards)


def rollouts(problem: Problem, params, noise: Noise, num_steps=None) -> Trajectories:
  """The N trajectories that `noise` stands for; with `num_steps` (an int or a traced
  scalar) rewards after the first num_steps steps count zero, so that one compiled
  function serves every horizon up to the noise's length."""
  _check_noise(noise)
  mask = _step_mask(noise.eps.shape[1], num_steps, noise.eps.dtype)
  return jax.vmap(_rollout_one, in_axes=(None, None, 0, 0, 0, None))(
      problem, params, noise.start_obs, noise.eps, noise.keys, mask)


# --- the estimators --------------------------------------------------------------------
def pathwise_grads(problem: Problem, params, noise: Noise,
                   num_steps=None) -> tuple[Params, Trajectories]:
  """Per-trajectory pathwise gradients of the return (leaves [N, ...]) and the
  trajectories (computed in the same pass); `num_steps` as in `rollouts`."""
  _check_noise(noise)
  mask = _step_mask(noise.eps.shape[1], num_steps, noise.eps.dtype)

  def one(start_obs, eps, keys):
    def ret(p):
      traj = _rollout_one(problem, p, start_obs, eps, keys, mask)
      return traj.returns, traj
    return jax.grad(ret, has_aux=True)(params)

  return jax.vmap(one)(noise.start_obs, noise.eps, noise.keys)


def reward_to_go(rewards: jax.Array) -> jax.Array:
  """G_t = sum_{k >= t} r_k, for batch-major rewards [..., H] (returns.reward_to_go
  on the time axis)."""
  return jnp.moveaxis(returns.reward_to_go(jnp.moveaxis(rewards, -1, 0)), 0, -1)


def leave_one_out_advantage(values: jax.Array) -> jax.Array:
  """values [N, ...] minus, for each i, the mean of the other N - 1 (over axis 0)."""
  n = values.shape[0]
  return n / (n - 1.0) * (values - values.mean(0))


def log_prob(problem: Problem, params, obs, action):
  """log pi(action | obs) of the Gaussian policy (one obs)."""
  std = jnp.asarray(problem.std, action.dtype)
  z = (action - problem.mean_fn(params, obs)) / std
  return jnp.sum(-0.5 * z**2 - jnp.log(std * jnp.ones_like(z)) - 0.5 * jnp.log(2 * jnp.pi))


def likelihood_ratio_surrogate(log_probs: jax.Array, advantages: jax.Array,
                               weight=1.0) -> jax.Array:
  """sum(weight * log pi(a|s) * A) with A held constant (shapes broadcast): its gradient
  in the policy's params is the likelihood-ratio (REINFORCE) estimate
  sum_t weight_t grad log pi(a_t | s_t) A_t. The estimators below and model_pg's
  REINFORCE take their gradients from it."""
  return jnp.sum(weight * log_probs * jax.lax.stop_gradient(advantages))


def ppo_clipped_loss(log_prob, old_log_prob, advantages, clip_epsilon: float, weight=None):
  """PPO's clipped surrogate, minus its weighted mean:
  -E[min(rho A, clip(rho, 1 - eps, 1 + eps) A)] with rho = exp(log_prob - old_log_prob);
  at rho = 1 its gradient is the likelihood-ratio estimate's (model_pg's PPO)."""
  ratio = jnp.exp(log_prob - old_log_prob)
  surrogate = jnp.minimum(ratio * advantages,
                          jnp.clip(ratio, 1.0 - clip_epsilon, 1.0 + clip_epsilon) * advantages)
  weight = jnp.ones_like(surrogate) if weight is None else weight
  return -(weight * surrogate).sum() / jnp.maximum(weight.sum(), 1.0)


def normalize_advantages(advantages: jax.Array, weight: jax.Array) -> jax.Array:
  """(A - mean) / (std + 1e-8), mean and std weighted by `weight` (e.g. alive masks)."""
  total = jnp.maximum(weight.sum(), 1.0)
  mean = (weight * advantages).sum() / total
  std = jnp.sqrt((weight * (advantages - mean)**2).sum() / total)
  return (advantages - mean) / (std + 1e-8)


def likelihood_ratio_grads(problem: Problem, params, traj: Trajectories) -> Params:
  """Per-trajectory REINFORCE gradients sum_t grad log pi(a_t|s_t) (G_t - b_t), leaves
  [N, ...], with the per-step leave-one-out baseline b_t (see the module docstring)."""
  if traj.rewards.ndim != 2 or traj.rewards.shape[0] < 2:
    raise ValueError(f'likelihood ratio needs rewards [N >= 2, H], got {traj.rewards.shape}.')
  obs = jax.lax.stop_gradient(traj.obs[:, :-1])
  actions = jax.lax.stop_gradient(traj.actions)
  adv = jax.lax.stop_gradient(leave_one_out_advantage(reward_to_go(traj.rewards)))

  def one(o, a, w):
    def surrogate(p):
      log_probs = jax.vmap(log_prob, in_axes=(None, None, 0, 0))(problem, p, o, a)
      return likelihood_ratio_surrogate(log_probs, w)
    return jax.grad(surrogate)(params)

  return jax.vmap(one)(obs, actions, adv)


def pathwise_samples(problem: Problem, params, key: jax.Array, num_samples: int,
                     horizon: int, act_size: int | None = None) -> Params:
  """N per-trajectory pathwise gradient samples (leaves [N, ...])."""
  return pathwise_grads(problem, params,
                        sample_noise(problem, key, num_samples, horizon, act_size))[0]


def likelihood_ratio_samples(problem: Problem, params, key: jax.Array, num_samples: int,
                             horizon: int, act_size: int | None = None) -> Params:
  """N per-trajectory likelihood-ratio gradient samples (leaves [N, ...])."""
  noise = sample_noise(problem, key, num_samples, horizon, act_size)
  return likelihood_ratio_grads(problem, params, rollouts(problem, params, noise))


# --- combinations ------------------------------------------------------------------------
def flatten(samples: Params) -> jax.Array:
  """Per-sample pytrees with leaves [N, ...] -> [N, num_params]."""
  return jax.vmap(lambda g: ravel_pytree(g)[0])(samples)


def mixing_weight(a: jax.Array, b: jax.Array, use_covariance: bool = True) -> jax.Array:
  """The weight w on `a` in w a + (1 - w) b minimising the summed variance, from the
  samples a, b [N, D] (trace of covariances); plain inverse-variance weights without
  `use_covariance`. Clipped to [0, 1]; 0.5 where both have zero variance."""
  da, db = a - a.mean(0), b - b.mean(0)
  va, vb = jnp.sum(da**2), jnp.sum(db**2)
  c = jnp.sum(da * db) if use_covariance else 0.0
  den = va + vb - 2 * c
  w = jnp.where(den > 0, (vb - c) / jnp.where(den > 0, den, 1.0), 0.5)
  return jnp.clip(w, 0.0, 1.0)


def combine(pathwise: Params, likelihood_ratio: Params,
            use_covariance: bool = True) -> tuple[Params, jax.Array]:
  """Whole-gradient total propagation: w * pathwise + (1 - w) * likelihood_ratio per
  sample (leaves [N, ...]), w from `mixing_weight` on the flattened samples; returns
  (combined samples, w). Their mean is the combined estimate."""
  w = mixing_weight(flatten(pathwise), flatten(likelihood_ratio), use_covariance)
  w = jax.lax.stop_gradient(w)
  return jax.tree.map(lambda a, b: w * a + (1 - w) * b, pathwise, likelihood_ratio), w


def total_propagation(problem: Problem, params, key: jax.Array, num_samples: int,
                      horizon: int, act_size: int | None = None,
                      use_covariance: bool = True) -> tuple[Params, jax.Array]:
  """Whole-gradient total propagation on N fresh trajectories (both estimators on the
  same ones): (combined per-trajectory samples, weight on pathwise)."""
  noise = sample_noise(problem, key, num_samples, horizon, act_size)
  pw, traj = pathwise_grads(problem, params, noise)
  return combine(pw, likelihood_ratio_grads(problem, params, traj), use_covariance)


def total_propagation_per_step_grads(problem: Problem, params, noise: Noise,
                                     num_steps=None, use_covariance: bool = True,
                                     fixed_weight: float | None = None,
                                     traj: Trajectories | None = None
                                     ) -> tuple[Params, jax.Array]:
  """PIPPS-style total propagation, mixing at every step's action node (see the module
  docstring). Returns per-trajectory samples (leaves [N, ...]) and the weights on the
  pathwise part per step [H]. `fixed_weight` replaces the estimated weights (1: the
  pathwise gradient; 0: the likelihood-ratio one); `num_steps` as in `rollouts`; `traj`:
  the trajectories of `noise` if already computed (e.g. by `pathwise_grads`)."""
  _check_noise(noise)
  mask = _step_mask(noise.eps.shape[1], num_steps, noise.eps.dtype)
  if traj is None:
    traj = rollouts(problem, params, noise, num_steps)
  obs, actions = traj.obs[:, :-1], traj.actions
  std = jnp.asarray(problem.std, actions.dtype)
  adv = leave_one_out_advantage(reward_to_go(traj.rewards))           # [N, H]
  step_fn = jax.vmap(problem.step_fn)
  zero_grad = jax.tree.map(lambda p: jnp.zeros((obs.shape[0],) + jnp.shape(p), actions.dtype),
                           params)

  def backward(carry, inputs):
    lam, grad = carry                     # d(future return)/d s_{t+1} [N, obs]; theta-grads
    s, a, k, e, w_adv, m = inputs
    _, step_vjp = jax.vjp(lambda s_, a_: step_fn(s_, a_, k), s, a)
    g_s, g_a = step_vjp((lam, jnp.full(s.shape[0], m, s.dtype)))
    lr = e / std * w_adv[:, None]         # (a - mu) / std^2 (G_t - b_t)
    if fixed_weight is None:
      w = jax.lax.stop_gradient(mixing_weight(g_a, lr, use_covariance))
    else:
      w = jnp.asarray(fixed_weight, s.dtype)
    gamma = w * g_a + (1 - w) * lr
    # Per-trajectory vjp of mu(theta, s_i): sum_i of <gamma_i, mu(theta, s_i)>
    # would merge the theta-gradients, so vmap the vjp instead.
    def mu_vjp(s_i, gamma_i):
      _, vjp = jax.vjp(problem.mean_fn, params, s_i)
      return vjp(gamma_i)
    g_theta, g_s_mu = jax.vmap(mu_vjp)(s, gamma)
    grad = jax.tree.map(jnp.add, grad, g_theta)
    return (g_s + g_s_mu, grad), w

  inputs = tuple(jnp.swapaxes(x, 0, 1) for x in (obs, actions, noise.keys, noise.eps, adv))
  inputs = inputs + (mask,)
  (_, grad), weights = jax.lax.scan(
      backward, (jnp.zeros_like(obs[:, 0]), zero_grad), inputs, reverse=True)
  return grad, weights


# --- statistics ----------------------------------------------------------------------------
def mean_variance(samples: Params) -> jax.Array:
  """Trace of the covariance of the sample mean: sum of per-parameter sample variances
  (ddof 1) / N."""
  flat = flatten(samples)
  return jnp.sum(jnp.var(flat, axis=0, ddof=1)) / flat.shape[0]


def cosine(a, b):
  """Cosine similarity of the last axes ([..., D], [..., D] -> [...]), NaN where either
  vector is zero. NumPy inputs are computed in NumPy, so that host-side statistics in
  float64 stay float64 (jax.numpy would round them to float32 without x64); JAX
  arrays (and tracers) in jax.numpy."""
  xp = jnp if isinstance(a, jax.Array) or isinstance(b, jax.Array) else np
  den = xp.linalg.norm(a, axis=-1) * xp.linalg.norm(b, axis=-1)
  return xp.sum(a * b, -1) / xp.where(den > 0, den, np.nan)


# --- the linear-quadratic closed form --------------------------------------------------------
def lq_expected_return(task, K: jax.Array, std, horizon: int,
                       start_second_moment: jax.Array) -> jax.Array:
  """E[sum_{t<H} -(x'Qx + u'Ru)] for x' = A x + B u, u = K x + std * eps, from
  E[x_0 x_0'] = start_second_moment, by the recursion of the second moment
  S_{t+1} = (A + BK) S_t (A + BK)' + B diag(std^2) B' (eps_t is independent of x_t)."""
  if horizon < 1:
    raise ValueError(f'horizon must be >= 1, got {horizon}.')
  A, B, Q, R = (jnp.asarray(m, K.dtype) for m in (task.A, task.B, task.Q, task.R))
  noise_cov = jnp.diag(jnp.broadcast_to(jnp.asarray(std, K.dtype)**2, (B.shape[1],)))
  closed = A + B @ K
  stage_q = Q + K.T @ R @ K

  def step(S, _):
    cost = jnp.trace(stage_q @ S) + jnp.trace(R @ noise_cov)
    return closed @ S @ closed.T + B @ noise_cov @ B.T, cost

  _, costs = jax.lax.scan(step, jnp.asarray(start_second_moment, K.dtype), None, length=horizon)
  return -jnp.sum(costs)

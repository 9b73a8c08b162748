"""LQR-FLM (Levine & Abbeel 2014; the lectures' "LQR with fitted local models"):
fit time-varying linear-Gaussian dynamics to samples of the current controller,
then improve the controller by LQR in a KL trust region around it.

## The controller update

Given fitted local dynamics p(x_{t+1} | x_t, u_t) (models.linear_gaussian), a cost
c(x, u, t) and the previous controller p_bar(u | x), the new controller solves

  min_p  E_p[sum_t c(x_t, u_t)]   subject to  KL(p(tau) || p_bar(tau)) <= epsilon.

Its Lagrangian with multiplier eta, divided by eta, is the maximum-entropy LQR
problem on the modified cost

  c_tilde(x, u) = c(x, u) / eta - log p_bar(u | x),

whose solution is p(u | x) = N(K x + k, Q_tilde_uu^{-1}) (Q_tilde the Q-function of
c_tilde). The cost is expanded to second order about the old controller's
trajectory marginals under the fitted dynamics (exact for a quadratic cost), and
eta is set by bisection on log eta so that the KL equals epsilon: the KL falls as
eta grows (eta -> infinity returns p_bar; eta -> 0 the plain LQR gains of c with
covariance eta Q_uu^{-1}). An eta whose Q_tilde_uu is not positive definite has no
solution and counts as too small. When no eta in the searched range gives a finite
controller and KL (the old controller's marginals diverge under the fit, say),
`update` returns the old controller itself, eta's limit at infinity, and says so
(eta = inf: `failed(update)`).

All functions are pure and jit/vmap-able: conditions are a vmap.

## The loop

LQR-FLM's loop, one iteration per call, every condition at once (a vmap):

1. run each condition's controller on the env for N samples of T steps from its
   initial state (plus a little Gaussian noise, sigma0, so that x_0 varies);
2. fit time-varying linear-Gaussian dynamics to those samples (OLS);
3. improve the controller with `update` in a KL trust region of
   size epsilon around it;
4. adapt epsilon from the improvement the last step predicted against the one the
   new samples show (the GPS papers' rule): a step that did as well as predicted
   grows it, one that did worse than predicted shrinks it.

On a JAX-native task (its observation is the full state) a condition's start is an
observation and the cost is minus its reward, c(x, u, t) = task.cost(x, u, t), with
no terminal cost (the env's return has none). Any other env (Brax) takes its
starts as env states (each condition's reset state, every sample from it) and a
cost c(obs, u, t) written for its observation; its local models are then fitted to
observations, which must carry the state for them to be Markov.
"""

from typing import NamedTuple

import flax
import jax
import jax.numpy as jnp
from brax.envs.base import State

from mbrl_jax import data
from mbrl_jax.core.checks import check
from mbrl_jax.core.guards import all_finite, keep_if
from mbrl_jax.core.types import Cost
from mbrl_jax.data import acting
from mbrl_jax.envs.base import task_of
from mbrl_jax.models import linear_gaussian as lgd
from mbrl_jax.models.linear_gaussian import LinearDynamics
from mbrl_jax.planners.lqr import lqr
from mbrl_jax.policies import linear_gaussian as lg

class QuadraticCost(NamedTuple):
  """sum_t 1/2 z_t' H_t z_t + h_t' z_t + 1/2 x_T' H_T x_T + h_T' x_T, z_t = (x_t, u_t)."""
  H: jax.Array        # [T, n+m, n+m]
  h: jax.Array        # [T, n+m]
  H_final: jax.Array  # [n, n]
  h_final: jax.Array  # [n]


class Update(NamedTuple):
  controller: lg.LinearGaussianController
  eta: jax.Array  # the multiplier found
  kl: jax.Array   # KL(p(tau) || p_bar(tau)) of the new controller


def failed(update: Update) -> jax.Array:
  """True where no finite step was found and the old controller was kept."""
  return ~jnp.isfinite(update.eta)


def quadratic_cost(cost: Cost, marginals: lg.TrajectoryMarginals) -> QuadraticCost:
  """The second-order expansion of `cost` (x, u, t) -> scalar about the marginal
  means (x_T with zero action, at t = T), in absolute coordinates."""
  mu = marginals.mu
  T, n = mu.shape[0], marginals.final_mu.shape[0]

  def expand(z, t):
    f = lambda z: cost(z[:n], z[n:], t)
    H = jax.hessian(f)(z)
    return H, jax.grad(f)(z) - H @ z

  H, h = jax.vmap(expand)(mu, jnp.arange(T))
  m = mu.shape[1] - n
  f_final = lambda x: cost(x, jnp.zeros(m, x.dtype), T)
  x_T = marginals.final_mu
  H_T = jax.hessian(f_final)(x_T)
  return QuadraticCost(H, h, H_T, jax.grad(f_final)(x_T) - H_T @ x_T)


def neg_log_prob_quadratic(controller: lg.LinearGaussianController):
  """-log p(u | x) up to a constant as a quadratic in z = (x, u): (H [T, n+m, n+m],
  h [T, n+m]). With the residual u - K x - o = D z - o, D = [-K, I]: 1/2 z'D'PDz -
  o'PDz, P = cov^{-1}."""
  T, m, n = controller.K.shape
  offset = jax.vmap(lg.mean_action, (None, None, 0))(controller, jnp.zeros(n), jnp.arange(T))
  P = jnp.linalg.inv(controller.cov)
  D = jnp.concatenate([-controller.K, jnp.broadcast_to(jnp.eye(m), (T, m, m))], axis=2)
  H = jnp.einsum('tai,tab,tbj->tij', D, P, D)
  h = -jnp.einsum('ta,tab,tbj->tj', offset, P, D)
  return H, h


def _max_entropy_lqr(dynamics: LinearDynamics, H, h, H_final, h_final):
  """LQR on the quadratic cost (H [T, n+m, n+m], h [T, n+m]; H_final, h_final) and
  the fitted dynamics' means: (K [T, m, n], k [T, m], Q_uu [T, m, m])."""
  n = dynamics.A.shape[-1]
  Q = jnp.concatenate([H[:, :n, :n], H_final[None]])
  q = jnp.concatenate([h[:, :n], h_final[None]])
  solution = lqr(dynamics.A, dynamics.B, Q, H[:, n:, n:], dynamics.c, q, h[:, n:], H[:, :n, n:])
  Quu = H[:, n:, n:] + jnp.einsum('tji,tjk,tkl->til', dynamics.B, solution.P[1:], dynamics.B)
  return solution.K, solution.k, Quu


def solve(dynamics: LinearDynamics, quadratic: QuadraticCost, prev: lg.LinearGaussianController,
          eta) -> tuple:
  """The max-entropy LQR solution for c / eta - log p_bar: (controller, ok), ok
  false where some Q_tilde_uu is not positive definite (the controller is NaN
  there)."""
  H_kl, h_kl = neg_log_prob_quadratic(prev)
  K, k, Quu = _max_entropy_lqr(dynamics, quadratic.H / eta + H_kl, quadratic.h / eta + h_kl,
                               quadratic.H_final / eta, quadratic.h_final / eta)
  ok = jnp.all(jnp.isfinite(K)) & jnp.all(jnp.isfinite(jnp.linalg.cholesky(Quu)))
  return lg.from_q_function(K, k, Quu), ok


def update(dynamics: LinearDynamics, cost: Cost, prev: lg.LinearGaussianController,
           epsilon, mu0, sigma0, log_eta_range=(-10.0, 25.0), iterations: int = 60) -> Update:
  """LQR-FLM's step: the new controller with KL(p || p_bar) = epsilon (or as close as
  log eta in `log_eta_range` allows), by bisection on log eta.

  Args:
    dynamics: the local fit [T]; cost: (x, u, t) -> scalar (t = T: terminal, u = 0).
    prev: the controller the samples came from; epsilon: the KL bound (nats).
    mu0 [n], sigma0 [n, n]: the initial-state distribution.
  """
  marginals = lg.trajectory_marginals(prev, dynamics, mu0, sigma0)
  quadratic = quadratic_cost(cost, marginals)

  def kl_at(log_eta):
    controller, ok = solve(dynamics, quadratic, prev, jnp.exp(log_eta))
    return controller, lg.trajectory_kl(controller, prev, dynamics, mu0, sigma0), ok

  return search_eta(kl_at, prev, epsilon, log_eta_range, iterations)


def search_eta(kl_at, prev: lg.LinearGaussianController, epsilon, log_eta_range=(-10.0, 25.0),
               iterations: int = 60) -> Update:
  """Bisection on log eta for the controller whose KL to prev is epsilon: kl_at(log_eta)
  -> (controller, KL, ok). The KL falls as eta grows; an eta without a solution (ok
  false, or a non-finite KL) counts as too small. Returns the bracket's upper end,
  whose KL is <= epsilon once the bracket holds it; prev itself (eta = inf, KL 0,
  `failed`) when even the upper end has no finite solution."""
  def kl_or_inf(log_eta):
    controller, kl, ok = kl_at(log_eta)
    return controller, jnp.where(ok & jnp.isfinite(kl), kl, jnp.inf)

  def bisect(_, bounds):
    lo, hi = bounds
    mid = 0.5 * (lo + hi)
    too_far = kl_or_inf(mid)[1] > epsilon  # raise eta
    return jnp.where(too_far, mid, lo), jnp.where(too_far, hi, mid)

  _, hi = jax.lax.fori_loop(0, iterations, bisect, tuple(map(jnp.float32, log_eta_range)))
  controller, kl = kl_or_inf(hi)
  ok = jnp.isfinite(kl) & all_finite(controller)
  return Update(keep_if(ok, controller, prev), jnp.where(ok, jnp.exp(hi), jnp.inf),
                jnp.where(ok, kl, 0.0))


def plain_lqr(dynamics: LinearDynamics, quadratic: QuadraticCost) -> tuple:
  """The LQR gains (K, k) of the expanded cost alone, and its Q_uu: eta -> 0's limit."""
  return _max_entropy_lqr(dynamics, *quadratic)


def expected_cost(controller: lg.LinearGaussianController, dynamics: LinearDynamics,
                  quadratic: QuadraticCost, mu0, sigma0) -> jax.Array:
  """E[sum_t c] under the controller and the fitted dynamics, for the quadratic
  cost (exact: E[1/2 z'Hz + h'z] = 1/2 tr(H S) + 1/2 mu'H mu + h'mu): the
  predicted cost that LQR-FLM's epsilon adaptation compares with the real one."""
  marg = lg.trajectory_marginals(controller, dynamics, mu0, sigma0)

  def quad(H, h, mu, S):
    return 0.5 * jnp.trace(H @ S) + 0.5 * mu @ H @ mu + h @ mu

  stages = jax.vmap(quad)(quadratic.H, quadratic.h, marg.mu, marg.sigma).sum()
  return stages + quad(quadratic.H_final, quadratic.h_final, marg.final_mu, marg.final_sigma)



class Samples(NamedTuple):
  X: jax.Array      # [N, T+1, n]
  U: jax.Array      # [N, T, m]
  cost: jax.Array   # [N] each trajectory's total cost (minus its return)


@flax.struct.dataclass
class Condition:
  """One initial state's controller and trust region (leaves get a leading [C])."""
  controller: lg.LinearGaussianController
  epsilon: jax.Array
  last_cost: jax.Array       # the mean cost of the samples before the last update
  predicted_cost: jax.Array  # what that update predicted its controller would cost


def cost_fn(env):
  """c(x, u, t) = -reward for t < T, 0 at the end: the env's return, negated."""
  task = task_of(env)
  check(task is not None, f'lqr_flm needs a JAX-native task (its state as observation), not '
                          f'{type(env.unwrapped).__name__}.')
  horizon = data.episode_decisions(env)

  def cost(x, u, t):
    return jnp.where(t < horizon, task.cost(x, u, t), 0.0)
  return cost


def start_obs(start) -> jax.Array:
  """A condition's initial observation: the start itself, or an env state's obs."""
  return start.obs if isinstance(start, State) else start


def sample(env, controller: lg.LinearGaussianController, start, sigma0, key,
           num_samples: int) -> Samples:
  """N trajectories of the controller on the env: from x0 + N(0, sigma0) when start
  is an observation x0 (a JAX-native task), from the env state itself when it is
  one (sigma0 unused)."""
  horizon = controller.K.shape[0]
  start_key, noise_key, key = jax.random.split(key, 3)
  if isinstance(start, State):
    state = jax.tree.map(lambda a: jnp.broadcast_to(a, (num_samples,) + a.shape), start)
  else:
    noise = jax.random.multivariate_normal(noise_key, jnp.zeros_like(start), sigma0,
                                           (num_samples,))
    state = data.reset_to(env, start_key, start + noise)

  def step(state, inputs):
    t, step_key = inputs
    keys = jax.random.split(step_key, num_samples)
    action = jax.vmap(lg.sample, (None, 0, None, 0))(controller, state.obs, t, keys)
    return acting.env_step(env, state, action)

  _, experience = jax.lax.scan(step, state, (jnp.arange(horizon), jax.random.split(key, horizon)))
  tr = jax.tree.map(lambda x: jnp.moveaxis(x, 0, 1), experience.transition)  # sample-major
  X = jnp.concatenate([tr.obs, tr.next_obs[:, -1:]], axis=1)
  return Samples(X, tr.action, -tr.reward.sum(1))


def nonfinite_steps(samples: Samples) -> jax.Array:
  """The sampled steps whose action or next state has a NaN or inf entry (the count
  the runner refuses a chunk on)."""
  finite = lambda a: jnp.all(jnp.isfinite(a), axis=-1)
  return (~(finite(samples.U) & finite(samples.X[..., 1:, :]))).sum()


def initial_condition(controller: lg.LinearGaussianController, epsilon) -> Condition:
  nan = jnp.asarray(jnp.nan, jnp.float32)
  return Condition(controller, jnp.asarray(epsilon, jnp.float32), nan, nan)


def adapt_epsilon(epsilon, previous_cost, predicted_cost, actual_cost, low=0.1, high=10.0):
  """The GPS step-size rule: multiplier predicted / (2 max(predicted - actual, 1e-4)) of
  the improvements, clipped to [0.1, 10]; epsilon kept in [low, high]. A first
  iteration (no prediction yet, NaN) keeps epsilon."""
  predicted = previous_cost - predicted_cost
  actual = previous_cost - actual_cost
  multiplier = predicted / (2.0 * jnp.maximum(predicted - actual, 1e-4))
  new = jnp.clip(epsilon * jnp.clip(multiplier, 0.1, 10.0), low, high)
  return jnp.where(jnp.isfinite(predicted_cost) & (predicted > 0), new, epsilon)


def fit_dynamics(samples: Samples, key, num_clusters: int, prior_strength: float,
                 regularization: float = 1e-6) -> lgd.LinearDynamics:
  """Local dynamics from the samples: with num_clusters >= 1, regression under the
  prior of a Gaussian mixture fitted to all the samples' transitions (every t), the
  prior that lets 5 samples fit n + m + 1 regressors per step; with 0, plain OLS."""
  if num_clusters == 0:
    return lgd.fit_ols(samples.X, samples.U, regularization)
  Z = lgd.joint_samples(samples.X, samples.U)  # [T, N, d]
  gmm = lgd.gmm_fit(Z.reshape((-1, Z.shape[-1])), num_clusters, key, iterations=20,
                    regularization=regularization)
  prior = lgd.gmm_prior(gmm, Z, prior_strength)
  return lgd.fit_with_prior(samples.X, samples.U, prior, regularization)


def make_iteration(env, num_samples: int, sigma0, num_clusters: int = 1,
                   prior_strength: float = 1.0, epsilon_range=(0.1, 10.0),
                   regularization: float = 1e-6, cost=None):
  """iteration(condition, start, key) -> (condition, metrics) for one condition; vmap
  it over conditions. start: an observation, or an env state (see `sample`). epsilon
  (nats) stays within `epsilon_range`. cost (x, u, t) -> scalar: by default minus
  the task's reward (`cost_fn`). metrics: the samples' mean cost (of the controller
  before this update), the update's KL, eta and epsilon, and the cost it predicts."""
  cost = cost_fn(env) if cost is None else cost
  sigma0 = jnp.asarray(sigma0)

  def iteration(condition: Condition, start, key):
    sample_key, fit_key = jax.random.split(key)
    samples = sample(env, condition.controller, start, sigma0, sample_key, num_samples)
    x0 = start_obs(start)
    actual = samples.cost.mean()
    epsilon = adapt_epsilon(condition.epsilon, condition.last_cost, condition.predicted_cost,
                            actual, *epsilon_range)
    dynamics = fit_dynamics(samples, fit_key, num_clusters, prior_strength, regularization)
    step = update(dynamics, cost, condition.controller, epsilon, x0, sigma0)
    quadratic = quadratic_cost(
        cost, lg.trajectory_marginals(condition.controller, dynamics, x0, sigma0))
    # The prediction, in the real cost's units: the samples' cost plus the change the
    # local model predicts.
    predicted = actual + (
        expected_cost(step.controller, dynamics, quadratic, x0, sigma0)
        - expected_cost(condition.controller, dynamics, quadratic, x0, sigma0))
    metrics = {'cost': actual, 'kl': step.kl, 'eta': step.eta, 'epsilon': epsilon,
               'predicted_cost': predicted, 'failed': failed(step)}
    return Condition(step.controller, epsilon, actual, predicted), metrics

  return iteration

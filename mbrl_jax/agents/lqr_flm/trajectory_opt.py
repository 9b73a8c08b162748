"""LQR-FLM's controller update: LQR in a KL trust region around the old controller.

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
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp

from mbrl_jax.guards import all_finite, keep_if
from mbrl_jax.models.linear_gaussian import LinearDynamics
from mbrl_jax.planners.lqr import lqr
from mbrl_jax.policies import linear_gaussian as lg
from mbrl_jax.types import Cost


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


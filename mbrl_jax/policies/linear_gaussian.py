"""Time-varying linear-Gaussian controllers and the trajectories they induce.

For t = 0..T-1, state x [n], action u [m]:

  p(u_t | x_t) = N(K_t (x_t - x_hat_t) + k_t + u_hat_t, cov_t),

feedback K_t about a nominal trajectory (x_hat, u_hat), offset k_t. The three
versions of the lectures (Levine's CS285, "optimal control and planning"):
  open_loop              K = 0: a noisy fixed action sequence;
  deterministic          cov -> a tiny multiple of I: u = K (x - x_hat) + k + u_hat;
  from_q_function        cov_t = Q_uu,t^{-1}: the maximum-entropy solution of the
                         LQR problem, noisiest where the cost is flattest in u
                         (`lqr_controller` solves the LQR problem for it).

Under linear-Gaussian dynamics (models.linear_gaussian.LinearDynamics) the joint
of (x_t, u_t) stays Gaussian, so `trajectory_marginals` is exact, and so is
`trajectory_kl`, the KL divergence between the trajectory distributions of two
controllers that guided policy search bounds. Pure functions of arrays: jit and
vmap them (t may be traced).
"""

from typing import NamedTuple

import flax
import jax
import jax.numpy as jnp
from jax.scipy.linalg import solve_triangular

from mbrl_jax.models.linear_gaussian import LinearDynamics
from mbrl_jax.planners.lqr import lqr
from mbrl_jax.core.types import PRNGKey


@flax.struct.dataclass
class LinearGaussianController:
  """p(u_t | x_t) = N(K_t (x_t - x_hat_t) + k_t + u_hat_t, cov_t)."""
  K: jax.Array      # [T, m, n]
  k: jax.Array      # [T, m]
  cov: jax.Array    # [T, m, m]  positive definite
  x_hat: jax.Array  # [T, n]
  u_hat: jax.Array  # [T, m]


class TrajectoryMarginals(NamedTuple):
  mu: jax.Array           # [T, n+m]       means of (x_t, u_t)
  sigma: jax.Array        # [T, n+m, n+m]  their covariances
  final_mu: jax.Array     # [n]            x_T
  final_sigma: jax.Array  # [n, n]


def _arrays(tree):
  """Leaves as JAX arrays: NumPy leaves cannot be indexed by a traced t."""
  return jax.tree.map(jnp.asarray, tree)


def _offset(controller, t):
  """The action at x = 0: k_t + u_hat_t - K_t x_hat_t."""
  return controller.k[t] + controller.u_hat[t] - controller.K[t] @ controller.x_hat[t]


def mean_action(controller: LinearGaussianController, x, t) -> jax.Array:
  """E[u_t | x_t = x], [m]."""
  controller = _arrays(controller)
  return controller.K[t] @ x + _offset(controller, t)


def sample(controller: LinearGaussianController, x, t, key: PRNGKey) -> jax.Array:
  """u_t ~ p(u_t | x_t = x), [m]."""
  controller = _arrays(controller)
  L = jnp.linalg.cholesky(controller.cov[t])
  noise = jax.random.normal(key, controller.k.shape[-1:], controller.k.dtype)
  return mean_action(controller, x, t) + L @ noise


def log_prob(controller: LinearGaussianController, x, u, t) -> jax.Array:
  """log p(u_t = u | x_t = x), a scalar."""
  controller = _arrays(controller)
  L = jnp.linalg.cholesky(controller.cov[t])
  z = solve_triangular(L, u - mean_action(controller, x, t), lower=True)
  m = u.shape[-1]
  return (-0.5 * z @ z - jnp.log(jnp.diagonal(L)).sum() - 0.5 * m * jnp.log(2 * jnp.pi))


def _complete(K, k, cov, x_hat, u_hat) -> LinearGaussianController:
  """Fills the optional nominal trajectory with zeros and checks the shapes."""
  K, k, cov = jnp.asarray(K), jnp.asarray(k), jnp.asarray(cov)
  if K.ndim != 3:
    raise ValueError(f'K must be [T, m, n]; got {K.shape}.')
  T, m, n = K.shape
  x_hat = jnp.zeros((T, n), K.dtype) if x_hat is None else jnp.asarray(x_hat)
  u_hat = jnp.zeros((T, m), K.dtype) if u_hat is None else jnp.asarray(u_hat)
  cov = jnp.broadcast_to(cov, (T, m, m)) if cov.shape == (m, m) else cov
  expected = dict(k=(T, m), cov=(T, m, m), x_hat=(T, n), u_hat=(T, m))
  for name, a in zip(expected, (k, cov, x_hat, u_hat)):
    if a.shape != expected[name]:
      raise ValueError(f'{name} has shape {a.shape}; with K {K.shape} it must be '
                       f'{expected[name]}.')
  return LinearGaussianController(K=K, k=k, cov=cov, x_hat=x_hat, u_hat=u_hat)


def open_loop(actions, cov, state_dim: int) -> LinearGaussianController:
  """u_t ~ N(actions_t, cov) whatever the state: actions [T, m], cov [m, m] or
  [T, m, m]; state_dim n sizes the (zero) gains."""
  actions = jnp.asarray(actions)
  T, m = actions.shape
  return _complete(jnp.zeros((T, m, state_dim), actions.dtype), jnp.zeros_like(actions), cov,
                   None, actions)


def deterministic(K, k, x_hat=None, u_hat=None,
                  variance: float = 1e-6) -> LinearGaussianController:
  """u_t = K_t (x_t - x_hat_t) + k_t + u_hat_t, with cov = variance * I (tiny, so
  log_prob stays finite; a limit of the Gaussian, not a point mass)."""
  K = jnp.asarray(K)
  m = K.shape[-2]
  return _complete(K, k, variance * jnp.eye(m, dtype=K.dtype), x_hat, u_hat)


def from_q_function(K, k, Quu, x_hat=None, u_hat=None) -> LinearGaussianController:
  """The LQR gains with cov_t = Q_uu,t^{-1} (Quu [T, m, m], positive definite): the
  controller p(u|x) proportional to exp(-Q_t(x, u)) of the maximum-entropy LQR
  problem, the linear-Gaussian controller LQR-FLM and GPS start from."""
  Quu = jnp.asarray(Quu)
  L = jnp.linalg.cholesky(0.5 * (Quu + Quu.swapaxes(-1, -2)))
  eye = jnp.broadcast_to(jnp.eye(Quu.shape[-1], dtype=Quu.dtype), Quu.shape)
  L_inv = solve_triangular(L, eye, lower=True)
  cov = L_inv.swapaxes(-1, -2) @ L_inv  # Quu^{-1} = L^{-T} L^{-1}, symmetric by construction
  return _complete(K, k, cov, x_hat, u_hat)


def lqr_controller(dynamics: LinearDynamics, Q, R, q=None, r=None,
                   M=None) -> LinearGaussianController:
  """`from_q_function` of the LQR problem on `dynamics`' means (planners.lqr's
  costs: Q [T+1, n, n], R [T, m, m], optional q, r, M): gains K_t, k_t about x = 0
  and cov_t = (R_t + B_t' P_{t+1} B_t)^{-1}."""
  solution = lqr(dynamics.A, dynamics.B, Q, R, dynamics.c, q, r, M)
  Quu = jnp.asarray(R) + jnp.einsum('tji,tjk,tkl->til', dynamics.B, solution.P[1:], dynamics.B)
  return from_q_function(solution.K, solution.k, Quu)


def trajectory_marginals(controller: LinearGaussianController, dynamics: LinearDynamics,
                         mu0, sigma0) -> TrajectoryMarginals:
  """The Gaussian marginals of (x_t, u_t), t < T, and of x_T when x_0 ~ N(mu0 [n],
  sigma0 [n, n]) and the controller acts on `dynamics` (a forward pass)."""
  controller, dynamics = _arrays(controller), _arrays(dynamics)

  def step(state, stage):
    mu_x, sigma_x = state
    K, offset, cov, A, B, c, noise = stage
    mu_u = K @ mu_x + offset
    sigma_xu = sigma_x @ K.T
    sigma_uu = K @ sigma_xu + cov
    mu = jnp.concatenate([mu_x, mu_u])
    sigma = jnp.block([[sigma_x, sigma_xu], [sigma_xu.T, sigma_uu]])
    sigma = 0.5 * (sigma + sigma.T)
    F = jnp.concatenate([A, B], axis=1)
    sigma_next = F @ sigma @ F.T + noise
    return (F @ mu + c, 0.5 * (sigma_next + sigma_next.T)), (mu, sigma)

  T = controller.K.shape[0]
  offsets = jax.vmap(_offset, (None, 0))(controller, jnp.arange(T))
  stages = (controller.K, offsets, controller.cov, dynamics.A, dynamics.B, dynamics.c,
            dynamics.cov)
  dtype = jnp.result_type(*jax.tree.leaves((controller, dynamics)))  # the carry's, fixed
  (final_mu, final_sigma), (mu, sigma) = jax.lax.scan(
      step, (jnp.asarray(mu0, dtype), jnp.asarray(sigma0, dtype)), stages)
  return TrajectoryMarginals(mu, sigma, final_mu, final_sigma)


def trajectory_kl(p: LinearGaussianController, q: LinearGaussianController,
                  dynamics: LinearDynamics, mu0, sigma0) -> jax.Array:
  """KL(p(tau) || q(tau)) for the trajectories of two controllers on the same
  dynamics and initial state distribution N(mu0, sigma0), in closed form.

  The initial-state and dynamics factors cancel in log p(tau) - log q(tau), so the
  KL is sum_t E_{x_t ~ p}[KL(p(u_t | x_t) || q(u_t | x_t))]. For one step, with
  d(x) = D x + e the difference of the two mean actions (linear in x) and x_t ~
  N(mu, S) under p:
    1/2 [tr(Sq^-1 Sp) - m + log det Sq - log det Sp
         + (D mu + e)' Sq^-1 (D mu + e) + tr(D' Sq^-1 D S)].
  """
  p, q, dynamics = _arrays(p), _arrays(q), _arrays(dynamics)
  marginals = trajectory_marginals(p, dynamics, mu0, sigma0)
  n, m = p.K.shape[-1], p.K.shape[-2]

  def step_kl(t, mu, sigma):
    Lp, Lq = jnp.linalg.cholesky(p.cov[t]), jnp.linalg.cholesky(q.cov[t])
    G = solve_triangular(Lq, Lp, lower=True)            # Lq^-1 Lp: tr(Sq^-1 Sp) = |G|^2
    mu_x, sigma_x = mu[:n], sigma[:n, :n]
    D = p.K[t] - q.K[t]
    e = _offset(p, t) - _offset(q, t)
    H = solve_triangular(Lq, D, lower=True)             # Lq^-1 D
    z = solve_triangular(Lq, D @ mu_x + e, lower=True)  # Lq^-1 d(mu)
    log_det_ratio = 2.0 * (jnp.log(jnp.diagonal(Lq)).sum() - jnp.log(jnp.diagonal(Lp)).sum())
    spread = jnp.sum(H * (H @ sigma_x))                  # tr(D' Sq^-1 D S)
    return 0.5 * (jnp.sum(G ** 2) - m + log_det_ratio + z @ z + spread)

  T = p.K.shape[0]
  return jax.vmap(step_kl)(jnp.arange(T), marginals.mu, marginals.sigma).sum()


def sample_trajectory(controller: LinearGaussianController, dynamics: LinearDynamics, x0,
                      key: PRNGKey):
  """One trajectory from x0 [n]: states [T+1, n] and actions [T, m]."""
  controller, dynamics = _arrays(controller), _arrays(dynamics)

  def step(x, inputs):
    t, key = inputs
    action_key, noise_key = jax.random.split(key)
    u = sample(controller, x, t, action_key)
    noise = jnp.linalg.cholesky(dynamics.cov[t]) @ jax.random.normal(noise_key, x.shape,
                                                                     x.dtype)
    x_next = dynamics(x, u, t) + noise
    return x_next, (x, u)

  T = controller.K.shape[0]
  x0 = jnp.asarray(x0, jnp.result_type(*jax.tree.leaves((controller, dynamics))))
  xT, (X, U) = jax.lax.scan(step, x0, (jnp.arange(T), jax.random.split(key, T)))
  return jnp.concatenate([X, xT[None]]), U


__all__ = ['LinearGaussianController', 'TrajectoryMarginals', 'deterministic',
           'from_q_function', 'log_prob', 'lqr_controller', 'mean_action', 'open_loop',
           'sample', 'sample_trajectory', 'trajectory_kl', 'trajectory_marginals']

"""Local time-varying linear-Gaussian dynamics, fitted from sampled trajectories.

The model, for t = 0..T-1, state x [n], action u [m]:

  p(x_{t+1} | x_t, u_t) = N(A_t x_t + B_t u_t + c_t, N_t)

is fitted at every t from N trajectories X [N, T+1, n], U [N, T, m] (sample-major,
as guided policy search collects them from one time-varying controller):

  fit_ols         least squares per t on [x_t, u_t, 1] -> x_{t+1}. Determined only
                  when N > n + m + 1; below that it interpolates the samples.
  fit_with_prior  Bayesian regression per t on the joint z = (x_t, u_t, x_{t+1})
                  under a normal-inverse-Wishart (NIW) prior (Levine et al. 2016,
                  "End-to-end training of deep visuomotor policies", app. A.3):
                  the posterior estimate of the joint's mean and covariance, then
                  conditioned on (x_t, u_t). A good prior makes 5-20 samples enough.

Priors come from a global model of the dynamics:
  gmm_fit + gmm_prior   a Gaussian mixture over all transitions (z points of every
                        t and every earlier iteration); at each t the prior is the
                        mixture's moments under the clusters' responsibilities for
                        that step's samples;
  linearization_prior   the Jacobians of a differentiable dynamics function (a true
                        simulator, or a learned ensemble's mean) at the samples.

NIW convention (the GPS code's): `NIWPrior(mu0, Phi, m, n0)` says the joint's mean
is mu0, worth m samples, and its covariance is Phi / n0, worth n0 samples (Phi is
a scatter matrix: n0 times a covariance). With N samples of mean zbar and biased
covariance S the estimate is

  mu    = (m mu0 + N zbar) / (m + N)
  Sigma = (Phi + N S + N m / (N + m) (zbar - mu0)(zbar - mu0)') / (N + n0).

Everything here is a pure function of arrays: jit and vmap it (e.g. over
conditions: several initial states, each with its own local model). Sizes that
shape arrays (num_clusters, iterations) are static.
"""

from typing import Tuple

import flax
import jax
import jax.numpy as jnp
from jax.scipy.linalg import solve_triangular

from mbrl_jax.core.types import Dynamics, PRNGKey


@flax.struct.dataclass
class LinearDynamics:
  """x_{t+1} ~ N(A_t x_t + B_t u_t + c_t, cov_t), t = 0..T-1."""
  A: jax.Array    # [T, n, n]
  B: jax.Array    # [T, n, m]
  c: jax.Array    # [T, n]
  cov: jax.Array  # [T, n, n]  N_t, positive definite

  def __call__(self, x, u, t):
    """The mean next state [n]: a `types.Dynamics`."""
    A, B, c = (jnp.asarray(a) for a in (self.A, self.B, self.c))  # traced t needs jnp
    return A[t] @ x + B[t] @ u + c[t]


@flax.struct.dataclass
class NIWPrior:
  """A normal-inverse-Wishart prior on a joint z [d] (see the module docstring).
  Leaves may carry leading batch axes, e.g. [T, d] for one prior per step."""
  mu0: jax.Array  # [..., d]
  Phi: jax.Array  # [..., d, d]  n0 times the prior covariance
  m: jax.Array    # [...]        samples the mean is worth
  n0: jax.Array   # [...]        samples the covariance is worth


@flax.struct.dataclass
class GMM:
  """A Gaussian mixture over points [d]."""
  log_weights: jax.Array  # [K]
  mean: jax.Array         # [K, d]
  cov: jax.Array          # [K, d, d]


def _check(X, U):
  X, U = jnp.asarray(X), jnp.asarray(U)
  if (X.ndim != 3 or U.ndim != 3 or X.shape[0] != U.shape[0]
      or X.shape[1] != U.shape[1] + 1 or U.shape[1] < 1):
    raise ValueError(f'need X [N, T+1, n] and U [N, T, m] with T >= 1; got X {X.shape}, '
                     f'U {U.shape}.')
  return X, U


def joint_samples(X, U) -> jax.Array:
  """The transitions z = (x_t, u_t, x_{t+1}) per step, time-major: [T, N, 2n+m]."""
  X, U = _check(X, U)
  return jnp.concatenate([X[:, :-1], U, X[:, 1:]], axis=-1).swapaxes(0, 1)


def _moments(Z):
  """Mean [T, d] and biased covariance [T, d, d] of Z [T, N, d] over N."""
  mean = Z.mean(1)
  D = Z - mean[:, None]
  return mean, jnp.einsum('tni,tnj->tij', D, D) / Z.shape[1]


def _symmetric(S):
  return 0.5 * (S + S.swapaxes(-1, -2))


def _split(F, c, cov, n) -> LinearDynamics:
  return LinearDynamics(A=F[..., :n], B=F[..., n:], c=c, cov=cov)


def fit_ols(X, U, regularization: float = 1e-6) -> LinearDynamics:
  """Least squares per t: x_{t+1} ~ A_t x_t + B_t u_t + c_t.

  Args:
    X [N, T+1, n], U [N, T, m]: N sampled trajectories.
    regularization: a ridge on the (per-sample) covariance of (x_t, u_t), so the
      solve stays defined when N <= n + m + 1; the intercept is not shrunk. Also
      added to cov, which keeps it positive definite when the fit interpolates.

  cov_t is the residuals' covariance with the unbiased divisor N - (n + m + 1)
  (1 where N is smaller: the residuals then vanish and cov is the ridge alone).
  """
  X, U = _check(X, U)
  N, n, p = X.shape[0], X.shape[-1], X.shape[-1] + U.shape[-1]
  Z = joint_samples(X, U)
  mean, S = _moments(Z)
  # Centring and regressing without the constant is OLS with an unpenalised intercept.
  Sxx = S[:, :p, :p] + regularization * jnp.eye(p, dtype=S.dtype)
  F = jnp.linalg.solve(Sxx, S[:, :p, p:]).swapaxes(-1, -2)  # [T, n, n+m]
  c = mean[:, p:] - jnp.einsum('tij,tj->ti', F, mean[:, :p])
  # Residuals directly, not S_yy - F S_xx F': that difference cancels to noise
  # (possibly negative in float32) when the fit interpolates.
  D = Z - mean[:, None]
  residual = D[..., p:] - jnp.einsum('tij,tnj->tni', F, D[..., :p])
  cov = jnp.einsum('tni,tnj->tij', residual, residual) / max(N - p - 1, 1)
  cov = _symmetric(cov) + regularization * jnp.eye(n, dtype=cov.dtype)
  return _split(F, c, cov, n)


def posterior_moments(Z, prior: NIWPrior) -> Tuple[jax.Array, jax.Array]:
  """The NIW estimate of the joint's mean [..., d] and covariance [..., d, d] from
  samples Z [..., N, d] (module docstring); prior leaves broadcast against [...]."""
  N = Z.shape[-2]
  zbar = Z.mean(-2)
  D = Z - zbar[..., None, :]
  S = jnp.einsum('...ni,...nj->...ij', D, D) / N
  m, n0 = jnp.asarray(prior.m, Z.dtype), jnp.asarray(prior.n0, Z.dtype)
  mu = (m[..., None] * prior.mu0 + N * zbar) / (m[..., None] + N)
  gap = zbar - prior.mu0
  shrink = (N * m / (N + m))[..., None, None]
  sigma = (prior.Phi + N * S + shrink * gap[..., :, None] * gap[..., None, :])
  return mu, _symmetric(sigma / (N + n0)[..., None, None])


def condition(mu, sigma, p: int, regularization: float = 1e-6) -> Tuple[jax.Array, ...]:
  """p(y | z) of a joint Gaussian over (z [p], y), the first p entries conditioned
  on: (F [..., d-p, p], c [..., d-p], cov [..., d-p, d-p]) with y | z ~ N(F z + c,
  cov). `regularization` is a ridge on z's covariance (GPS's sig_reg) and on cov."""
  d = mu.shape[-1]
  Szz = sigma[..., :p, :p] + regularization * jnp.eye(p, dtype=sigma.dtype)
  Szy = sigma[..., :p, p:]
  F = jnp.linalg.solve(Szz, Szy).swapaxes(-1, -2)
  c = mu[..., p:] - jnp.einsum('...ij,...j->...i', F, mu[..., :p])
  cov = sigma[..., p:, p:] - jnp.einsum('...ij,...jk->...ik', F, Szy)
  cov = _symmetric(cov) + regularization * jnp.eye(d - p, dtype=sigma.dtype)
  return F, c, cov


def fit_with_prior(X, U, prior: NIWPrior, regularization: float = 1e-6) -> LinearDynamics:
  """Bayesian linear regression per t under a NIW prior on (x_t, u_t, x_{t+1}).

  Args:
    X [N, T+1, n], U [N, T, m]: N sampled trajectories (N >= 1).
    prior: leaves [T, ...] (one prior per step, as `gmm_prior` of `joint_samples`
      or `linearization_prior` give) or unbatched (one for every step).
    regularization: ridge on the (x, u) covariance before conditioning, and on cov.
  """
  X, U = _check(X, U)
  n, p = X.shape[-1], X.shape[-1] + U.shape[-1]
  mu, sigma = posterior_moments(joint_samples(X, U), prior)
  F, c, cov = condition(mu, sigma, p, regularization)
  return _split(F, c, cov, n)


def _log_components(gmm: GMM, points):
  """log w_k + log N(points | k): [..., K] for points [..., d]."""
  d = gmm.mean.shape[-1]
  L = jnp.linalg.cholesky(gmm.cov)
  eye = jnp.broadcast_to(jnp.eye(d, dtype=L.dtype), L.shape)
  L_inv = solve_triangular(L, eye, lower=True)  # [K, d, d], once for all points
  z = jnp.einsum('kij,...kj->...ki', L_inv, points[..., None, :] - gmm.mean)
  log_det = jnp.log(jnp.diagonal(L, axis1=-2, axis2=-1)).sum(-1)
  return (gmm.log_weights - log_det - 0.5 * d * jnp.log(2 * jnp.pi)
          - 0.5 * jnp.sum(z ** 2, -1))


def gmm_log_prob(gmm: GMM, points) -> jax.Array:
  """The mixture's log density [...] at points [..., d]."""
  return jax.nn.logsumexp(_log_components(gmm, points), axis=-1)


def num_clusters_for(num_points: int, max_clusters: int = 50,
                     min_samples_per_cluster: int = 20) -> int:
  """GPS's rule for the mixture's size (a Python int, for `gmm_fit`'s static
  num_clusters): as many clusters as the points fill with min_samples_per_cluster
  each, between 1 and max_clusters."""
  return int(max(1, min(max_clusters, num_points // min_samples_per_cluster)))


def gmm_fit(data, num_clusters: int, key: PRNGKey, iterations: int = 100,
            regularization: float = 1e-6) -> GMM:
  """A Gaussian mixture over data [M, d] by `iterations` EM steps (no early stop,
  so it jits; static num_clusters and iterations).

  Starts from num_clusters distinct random points as means, each with the data's
  covariance, equal weights. `regularization` is added to each covariance's
  diagonal (absolute: scale the data if its units are far from 1). A cluster whose
  weight falls below 1e-4 / K is restarted on the whole data (GPS's reboot), so none
  divides by zero. The caller chooses the data: GPS fits its dynamics prior on the
  transitions (`joint_samples`, flattened) of its last max_samples iterations.
  """
  data = jnp.asarray(data)
  M, d = data.shape
  K = num_clusters
  if not 1 <= K <= M:
    raise ValueError(f'need 1 <= num_clusters <= points; got {K} clusters, {M} points.')
  eye = jnp.eye(d, dtype=data.dtype)
  centred = data - data.mean(0)
  global_cov = centred.T @ centred / M + regularization * eye
  start = GMM(log_weights=jnp.full((K,), -jnp.log(K), data.dtype),
              mean=data[jax.random.choice(key, M, (K,), replace=False)],
              cov=jnp.broadcast_to(global_cov, (K, d, d)))

  def em_step(_, gmm):
    resp = jax.nn.softmax(_log_components(gmm, data), axis=-1)  # [M, K]
    mass = resp.sum(0)
    reboot = mass < 1e-4 * M / K
    resp = jnp.where(reboot, 1.0, resp)
    count = jnp.where(reboot, M, mass)
    mean = resp.T @ data / count[:, None]
    diff = data[:, None, :] - mean  # [M, K, d]
    cov = jnp.einsum('mk,mki,mkj->kij', resp, diff, diff) / count[:, None, None]
    log_weights = jax.nn.log_softmax(jnp.log(count))
    return GMM(log_weights=log_weights, mean=mean, cov=_symmetric(cov) + regularization * eye)

  return jax.lax.fori_loop(0, iterations, em_step, start)


def gmm_prior(gmm: GMM, points, strength: float = 1.0) -> NIWPrior:
  """The NIW prior a mixture gives for the samples points [..., N, d] of one step.

  The clusters' responsibilities, averaged over the N points, weight the
  mixture's moments: mu0 = sum_k w_k mu_k and the covariance sum_k w_k (Sigma_k +
  (mu_k - mu0)(mu_k - mu0)'), the Gaussian closest to the mixture restricted to
  where the samples are. `strength` is what the prior is worth in samples (m = n0
  = strength; GPS's default is 1). For a prior per step, pass `joint_samples(X,
  U)` [T, N, d]: the leaves get a leading [T].
  """
  points = jnp.asarray(points)
  resp = jax.nn.softmax(_log_components(gmm, points), axis=-1)  # [..., N, K]
  w = resp.mean(-2)
  mu0 = w @ gmm.mean
  spread = gmm.mean - mu0[..., None, :]  # [..., K, d]
  cov = (jnp.einsum('...k,kij->...ij', w, gmm.cov)
         + jnp.einsum('...k,...ki,...kj->...ij', w, spread, spread))
  strength = jnp.full(w.shape[:-1], strength, points.dtype)
  return NIWPrior(mu0=mu0, Phi=strength[..., None, None] * _symmetric(cov), m=strength,
                  n0=strength)


def linearization_prior(dynamics_fn: Dynamics, X, U, strength: float = 1.0,
                        regularization: float = 1e-6) -> NIWPrior:
  """A NIW prior per step [T, ...] centred on a differentiable model's Jacobians.

  At each t, with F_t = [f_x, f_u] the model's Jacobian averaged over the N
  samples (x, u) and f_t its mean prediction there, the prior joint is

    mean (xbar_t, ubar_t, f_t),
    cov  [[S, S F_t'], [F_t S, F_t S F_t' + W]],

  whose conditional is x_{t+1} ~ N(f_t + F_t ((x, u) - (xbar_t, ubar_t)), W): the
  model's linearisation. S is the covariance of (x, u) pooled over every step and
  sample (full rank wherever the samples excite each direction at some step; the
  prior speaks most for directions the step's own few samples miss) and W that of
  the residuals x_{t+1} - f(x_t, u_t, t), pooled the same way (the model's error
  with the noise); both get `regularization` on the diagonal. m = n0 = strength.

  Args:
    dynamics_fn: (x [n], u [m], t) -> next x [n], e.g. a learned ensemble's mean.
    X [N, T+1, n], U [N, T, m]: the samples.
  """
  X, U = _check(X, U)
  n, m = X.shape[-1], U.shape[-1]
  p = n + m
  Z = joint_samples(X, U)  # [T, N, d]
  T = Z.shape[0]

  def predict(zu, t):
    return dynamics_fn(zu[:n], zu[n:], t)

  jac = jax.vmap(jax.vmap(jax.jacfwd(predict), (0, None)), (0, 0))
  at = jax.vmap(jax.vmap(predict, (0, None)), (0, 0))
  steps = jnp.arange(T)
  F = jac(Z[..., :p], steps).mean(1)             # [T, n, p]
  f = at(Z[..., :p], steps)                      # [T, N, n]
  flat = Z[..., :p].reshape(-1, p)
  centred = flat - flat.mean(0)
  eye_p, eye_n = jnp.eye(p, dtype=Z.dtype), jnp.eye(n, dtype=Z.dtype)
  S = centred.T @ centred / flat.shape[0] + regularization * eye_p
  residual = (Z[..., p:] - f).reshape(-1, n)
  residual = residual - residual.mean(0)
  W = residual.T @ residual / residual.shape[0] + regularization * eye_n
  SF = jnp.einsum('ij,tkj->tik', S, F)            # [T, p, n] = S F_t'
  top = jnp.concatenate([jnp.broadcast_to(S, (T, p, p)), SF], axis=-1)
  bottom = jnp.concatenate([SF.swapaxes(-1, -2), jnp.einsum('tij,tjk->tik', F, SF) + W],
                           axis=-1)
  cov = _symmetric(jnp.concatenate([top, bottom], axis=-2))
  mu0 = jnp.concatenate([Z[..., :p].mean(1), f.mean(1)], axis=-1)
  strength = jnp.full((T,), strength, Z.dtype)
  return NIWPrior(mu0=mu0, Phi=strength[:, None, None] * cov, m=strength, n0=strength)


def prediction_error(dynamics: LinearDynamics, X, U) -> jax.Array:
  """Mean squared error of the mean prediction of x_{t+1}, per step [T], over the
  samples X [N, T+1, n], U [N, T, m] (e.g. held out) and the state's entries."""
  X, U = _check(X, U)
  predict = jax.vmap(jax.vmap(dynamics, (0, 0, None)), (1, 1, 0), 1)
  steps = jnp.arange(U.shape[1])
  return jnp.mean((predict(X[:, :-1], U, steps) - X[:, 1:]) ** 2, axis=(0, 2))


__all__ = ['GMM', 'LinearDynamics', 'NIWPrior', 'condition', 'fit_ols', 'fit_with_prior',
           'gmm_fit', 'gmm_log_prob', 'gmm_prior', 'joint_samples', 'linearization_prior',
           'num_clusters_for', 'posterior_moments', 'prediction_error']

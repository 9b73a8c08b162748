"""Local linear-Gaussian dynamics against independent references: the true system
they are fitted on, NumPy least squares, pseudo-samples standing in for a prior,
scipy densities for the mixture, and finite differences for the linearisation."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats

from mbrl_jax.models import linear_gaussian as lg

N_STATE, N_ACTION, HORIZON = 4, 2, 6


def true_system(seed=0, T=HORIZON, n=N_STATE, m=N_ACTION, noise=0.05):
  """A random time-varying linear-Gaussian system (float64 NumPy): A, B, c, cov."""
  rng = np.random.default_rng(seed)
  A = 0.9 * np.eye(n) + 0.3 * rng.normal(size=(T, n, n)) / np.sqrt(n)
  B = 0.5 * rng.normal(size=(T, n, m))
  c = 0.5 * rng.normal(size=(T, n))
  L = noise * rng.normal(size=(T, n, n))
  cov = L @ L.swapaxes(1, 2) + noise ** 2 * np.eye(n)
  return A, B, c, cov


def simulate(system, N, seed, dtype=np.float32):
  """N trajectories X [N, T+1, n], U [N, T, m]: x_0 ~ N(1, 0.25 I), u_t ~ N(0, I)."""
  A, B, c, cov = system
  T, n, m = B.shape
  rng = np.random.default_rng(seed)
  X = np.zeros((N, T + 1, n))
  U = rng.normal(size=(N, T, m))
  X[:, 0] = 1.0 + 0.5 * rng.normal(size=(N, n))
  for t in range(T):
    noise = rng.multivariate_normal(np.zeros(n), cov[t], size=N)
    X[:, t + 1] = X[:, t] @ A[t].T + U[:, t] @ B[t].T + c[t] + noise
  return X.astype(dtype), U.astype(dtype)


def as_dynamics(system, dtype=jnp.float32):
  return lg.LinearDynamics(*(jnp.asarray(a, dtype) for a in system))


def test_ols_matches_numpy_least_squares():
  system = true_system(1)
  with jax.enable_x64(True):
    X, U = simulate(system, 50, 2, np.float64)
    fit = lg.fit_ols(X, U, regularization=0.0)
    N, p = X.shape[0], N_STATE + N_ACTION
    for t in range(HORIZON):
      Z = np.concatenate([X[:, t], U[:, t], np.ones((N, 1))], axis=1)
      W, *_ = np.linalg.lstsq(Z, X[:, t + 1], rcond=None)
      residual = X[:, t + 1] - Z @ W
      np.testing.assert_allclose(fit.A[t], W[:N_STATE].T, atol=1e-10)
      np.testing.assert_allclose(fit.B[t], W[N_STATE:p].T, atol=1e-10)
      np.testing.assert_allclose(fit.c[t], W[p], atol=1e-10)
      np.testing.assert_allclose(fit.cov[t], residual.T @ residual / (N - p - 1), atol=1e-10)


def test_ols_converges_to_the_true_system():
  """Max abs errors measured (seed 0, float32), N = 20 / 200 / 2000:
  A 0.125 / 0.033 / 0.013, B 0.100 / 0.039 / 0.007, c 0.198 / 0.035 / 0.016,
  cov 0.018 / 0.0072 / 0.0009 (its largest entry is 0.040)."""
  system = true_system(0)
  fit = jax.jit(lg.fit_ols)
  errors = []
  for N in (20, 200, 2000):
    got = fit(*simulate(system, N, 1))
    errors.append([np.abs(np.asarray(a) - b).max()
                   for a, b in zip((got.A, got.B, got.c, got.cov), system)])
  errors = np.array(errors)  # [sizes, (A, B, c, cov)]
  assert np.all(errors[2] < errors[0] / 4), errors  # ~ 1/sqrt(N): 10x over 100x the data
  assert np.all(errors[2, :3] < 0.03), errors
  assert errors[2, 3] < 0.003, errors
  assert np.all(np.linalg.eigvalsh(np.asarray(got.cov)) > 0)


def test_prior_beats_ols_with_few_samples():
  """Held-out mean squared prediction error of x_{t+1}, averaged over the 6 steps,
  4 state entries and 5 draws of the N samples (seed 0; the true noise alone gives
  0.0148):

     N    OLS     GMM prior   linearisation prior   (strength 1)
     5    0.498   0.0254      0.0285
    10    0.051   0.0256      0.0250
    20    0.023   0.0213      0.0211

  At N = 5 < n + m + 1 = 7 OLS interpolates and is ~20x worse; the priors stay
  within 2x of the noise. By N = 20 the data dominate and the three agree.
  (Strength 5 gives 0.018 at every N, strength 20 0.016.)"""
  system = true_system(0)
  truth = as_dynamics(system)
  held_out = simulate(system, 2000, 99)
  noise_floor = float(lg.prediction_error(truth, *held_out).mean())
  # The global model: a mixture over 1200 transitions of earlier, plentiful samples.
  X_global, U_global = simulate(system, 200, 7)
  gmm = jax.jit(lg.gmm_fit, static_argnums=(1, 3))(
      lg.joint_samples(X_global, U_global).reshape(-1, 2 * N_STATE + N_ACTION), 6,
      jax.random.PRNGKey(0), 100)

  def errors(X, U):
    fits = (lg.fit_ols(X, U),
            lg.fit_with_prior(X, U, lg.gmm_prior(gmm, lg.joint_samples(X, U))),
            lg.fit_with_prior(X, U, lg.linearization_prior(truth, X, U)))
    return jnp.stack([lg.prediction_error(fit, *held_out).mean() for fit in fits])

  errors = jax.jit(jax.vmap(errors))
  measured = {}
  for N in (5, 10, 20):
    draws = [simulate(system, N, 100 + i) for i in range(5)]
    X, U = (np.stack(a) for a in zip(*draws))
    measured[N] = np.asarray(errors(X, U)).mean(0)  # OLS, GMM, linearisation
  ols, gmm_prior, linearized = measured[5]
  assert 0.3 < ols, measured
  assert max(gmm_prior, linearized) < 0.1 * ols, measured
  assert max(gmm_prior, linearized) < 2.5 * noise_floor, (measured, noise_floor)
  assert np.all(measured[20][1:] < 1.1 * measured[20][0]), measured
  assert 0.0145 < noise_floor < 0.0155


def test_prior_is_worth_its_strength_in_pseudo_samples():
  """With m = n0 = k, the NIW estimate is the plain estimate from the N samples
  plus k pseudo-samples of mean mu0 and covariance Phi / k: the regression on the
  pooled set (NumPy least squares) gives the same model."""
  n, m = N_STATE, N_ACTION
  d = 2 * n + m
  rng = np.random.default_rng(3)
  with jax.enable_x64(True):
    X, U = simulate(true_system(2, T=1), 4, 5, np.float64)
    mu0 = rng.normal(size=d)
    L = np.linalg.cholesky(np.cov(rng.normal(size=(d, 3 * d))))
    # 2d sigma points: mean mu0, biased covariance L L' exactly.
    pseudo = mu0 + np.sqrt(d) * np.concatenate([L.T, -L.T])
    k = pseudo.shape[0]
    prior = lg.NIWPrior(mu0=mu0, Phi=k * L @ L.T, m=np.float64(k), n0=np.float64(k))
    fit = lg.fit_with_prior(X, U, prior, regularization=0.0)
    Z = np.concatenate([np.concatenate([X[:, 0], U[:, 0]], 1), pseudo[:, :n + m]])
    Z = np.concatenate([Z, np.ones((Z.shape[0], 1))], 1)
    Y = np.concatenate([X[:, 1], pseudo[:, n + m:]])
    W, *_ = np.linalg.lstsq(Z, Y, rcond=None)
    residual = Y - Z @ W
    np.testing.assert_allclose(fit.A[0], W[:n].T, atol=1e-10)
    np.testing.assert_allclose(fit.B[0], W[n:n + m].T, atol=1e-10)
    np.testing.assert_allclose(fit.c[0], W[-1], atol=1e-10)
    np.testing.assert_allclose(fit.cov[0], residual.T @ residual / Z.shape[0], atol=1e-10)


def test_prior_strength_moves_the_fit_between_data_and_prior():
  system = true_system(0)
  truth = as_dynamics(system)
  fit = jax.jit(lambda X, U, strength: lg.fit_with_prior(
      X, U, lg.linearization_prior(truth, X, U, strength)))
  strong = fit(*simulate(system, 5, 11), 1e6)
  for got, want in zip((strong.A, strong.B, strong.c), system):
    np.testing.assert_allclose(got, want, atol=2e-3)
  X, U = simulate(system, 200, 12)
  weak = fit(X, U, 1e-6)
  ols = jax.jit(lg.fit_ols)(X, U)
  for got, want in zip((weak.A, weak.B, weak.c), (ols.A, ols.B, ols.c)):
    np.testing.assert_allclose(got, want, atol=1e-4)


def test_linearization_prior_centres_on_finite_difference_jacobians():
  n, m, T, N = 3, 2, 3, 4
  rng = np.random.default_rng(4)
  W1, W2 = rng.normal(size=(n, n)), rng.normal(size=(n, m))

  def dynamics(x, u, t):
    return x + 0.1 * jnp.tanh(W1 @ x + W2 @ u) * (1.0 + t) + 0.01 * u.sum()

  def numpy_dynamics(x, u, t):
    return x + 0.1 * np.tanh(W1 @ x + W2 @ u) * (1.0 + t) + 0.01 * u.sum()

  with jax.enable_x64(True):
    X, U = rng.normal(size=(N, T + 1, n)), rng.normal(size=(N, T, m))
    @jax.jit
    def prior_and_model(X, U):
      prior = lg.linearization_prior(dynamics, X, U, strength=3.0, regularization=0.0)
      return prior, lg.condition(prior.mu0, prior.Phi / prior.n0[:, None, None], n + m, 0.0)

    prior, (F, c, _) = prior_and_model(X, U)
    eps = 1e-6
    for t in range(T):
      jacobians, predictions = [], []
      for i in range(N):
        z = np.concatenate([X[i, t], U[i, t]])
        f = lambda z: numpy_dynamics(z[:n], z[n:], t)
        predictions.append(f(z))
        jacobians.append(np.stack([(f(z + eps * e) - f(z - eps * e)) / (2 * eps)
                                   for e in np.eye(n + m)], axis=1))
      want_F = np.mean(jacobians, 0)
      np.testing.assert_allclose(F[t], want_F, atol=1e-8)
      zbar = np.concatenate([X[:, t].mean(0), U[:, t].mean(0)])
      np.testing.assert_allclose(c[t], np.mean(predictions, 0) - want_F @ zbar, atol=1e-8)
    np.testing.assert_allclose(prior.m, 3.0)
    np.testing.assert_allclose(prior.n0, 3.0)


def test_gmm_fit_recovers_a_mixture():
  rng = np.random.default_rng(5)
  means = np.array([[0.0, 0.0], [4.0, 0.0], [0.0, 4.0]])
  covs = np.array([[[1.0, 0.3], [0.3, 0.5]], [[0.4, 0.0], [0.0, 0.4]],
                   [[0.6, -0.2], [-0.2, 0.8]]])
  weights = np.array([0.5, 0.3, 0.2])
  labels = rng.choice(3, size=3000, p=weights)
  data = np.stack([rng.multivariate_normal(means[k], covs[k]) for k in labels])
  gmm = jax.jit(lg.gmm_fit, static_argnums=(1, 3))(data.astype(np.float32), 3,
                                                   jax.random.PRNGKey(1), 50)
  order = [int(np.argmin(np.linalg.norm(np.asarray(gmm.mean) - mu, axis=1))) for mu in means]
  assert sorted(order) == [0, 1, 2]
  np.testing.assert_allclose(np.asarray(gmm.mean)[order], means, atol=0.1)
  np.testing.assert_allclose(np.asarray(gmm.cov)[order], covs, atol=0.1)
  np.testing.assert_allclose(np.exp(np.asarray(gmm.log_weights))[order], weights, atol=0.03)
  # The mixture's density against scipy's.
  points = rng.normal(size=(7, 2)) * 2
  want = np.log(sum(np.exp(gmm.log_weights[k]) * scipy.stats.multivariate_normal(
      gmm.mean[k], gmm.cov[k]).pdf(points) for k in range(3)))
  np.testing.assert_allclose(lg.gmm_log_prob(gmm, points), want, rtol=1e-4)


def test_gmm_prior_is_the_mixture_moments_at_the_points():
  rng = np.random.default_rng(6)
  K, d, N = 4, 3, 5
  L = rng.normal(size=(K, d, d))
  gmm = lg.GMM(log_weights=jnp.log(jnp.array([0.1, 0.2, 0.3, 0.4])),
               mean=jnp.asarray(2.0 * rng.normal(size=(K, d))),
               cov=jnp.asarray(L @ L.swapaxes(1, 2) + 0.5 * np.eye(d)))
  points = rng.normal(size=(2, N, d)).astype(np.float32)  # two steps of N samples
  prior = lg.gmm_prior(gmm, points, strength=2.5)
  for t in range(2):
    density = np.stack([np.exp(gmm.log_weights[k]) * scipy.stats.multivariate_normal(
        gmm.mean[k], gmm.cov[k]).pdf(points[t]) for k in range(K)], 1)  # [N, K]
    w = (density / density.sum(1, keepdims=True)).mean(0)
    mu = sum(w[k] * np.asarray(gmm.mean[k]) for k in range(K))
    sigma = sum(w[k] * (np.asarray(gmm.cov[k]) + np.outer(gmm.mean[k] - mu, gmm.mean[k] - mu))
                for k in range(K))
    np.testing.assert_allclose(prior.mu0[t], mu, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(prior.Phi[t], 2.5 * sigma, rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(prior.m, [2.5, 2.5])
  np.testing.assert_allclose(prior.n0, [2.5, 2.5])


def test_num_clusters_for():
  assert lg.num_clusters_for(10) == 1
  assert lg.num_clusters_for(200) == 10
  assert lg.num_clusters_for(100_000) == 50
  assert lg.num_clusters_for(200, max_clusters=4, min_samples_per_cluster=10) == 4


def test_fits_vmap_over_conditions_like_a_loop():
  system = true_system(0)
  truth = as_dynamics(system)
  draws = [simulate(system, 8, 20 + i) for i in range(3)]
  X, U = (np.stack(a) for a in zip(*draws))

  def both(X, U):
    return lg.fit_ols(X, U), lg.fit_with_prior(X, U, lg.linearization_prior(truth, X, U))

  batched = jax.jit(jax.vmap(both))(X, U)
  single = jax.jit(both)
  for i in range(3):
    looped = single(X[i], U[i])
    for got, want in zip(jax.tree.leaves(batched), jax.tree.leaves(looped)):
      np.testing.assert_allclose(got[i], want, rtol=1e-4, atol=1e-5)


def test_shapes_are_checked():
  X, U = np.zeros((5, 4, 3)), np.zeros((5, 4, 2))
  with pytest.raises(ValueError, match='X \\[N, T\\+1, n\\]'):
    lg.fit_ols(X, U)
  with pytest.raises(ValueError, match='num_clusters'):
    lg.gmm_fit(np.zeros((3, 2)), 4, jax.random.PRNGKey(0))

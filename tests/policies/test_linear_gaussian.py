"""Linear-Gaussian controllers against independent references: scipy's Gaussian
density, NumPy Monte Carlo simulation of the closed loop (moments, and the
trajectory KL as an average of log p - log q), and autodiff of the LQR Q-function."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats

from mbrl_jax import policies
from mbrl_jax.models.linear_gaussian import LinearDynamics
from mbrl_jax.planners.lqr import lqr

T, N_STATE, N_ACTION = 5, 3, 2


def random_pd(rng, size, scale=1.0):
  L = rng.normal(size=(size, size))
  return scale * (L @ L.T / size + 0.3 * np.eye(size))


def random_dynamics(seed, T=T, n=N_STATE, m=N_ACTION):
  rng = np.random.default_rng(seed)
  return LinearDynamics(
      A=jnp.asarray(np.eye(n) + 0.3 * rng.normal(size=(T, n, n)) / np.sqrt(n), jnp.float32),
      B=jnp.asarray(0.5 * rng.normal(size=(T, n, m)), jnp.float32),
      c=jnp.asarray(0.3 * rng.normal(size=(T, n)), jnp.float32),
      cov=jnp.asarray(np.stack([random_pd(rng, n, 0.05) for _ in range(T)]), jnp.float32))


def random_controller(seed, T=T, n=N_STATE, m=N_ACTION, scale=1.0):
  rng = np.random.default_rng(seed)
  return policies.LinearGaussianController(
      K=jnp.asarray(0.4 * scale * rng.normal(size=(T, m, n)), jnp.float32),
      k=jnp.asarray(scale * rng.normal(size=(T, m)), jnp.float32),
      cov=jnp.asarray(np.stack([random_pd(rng, m, 0.5) for _ in range(T)]), jnp.float32),
      x_hat=jnp.asarray(rng.normal(size=(T, n)), jnp.float32),
      u_hat=jnp.asarray(rng.normal(size=(T, m)), jnp.float32))


def start(seed, n=N_STATE):
  rng = np.random.default_rng(seed)
  return rng.normal(size=n).astype(np.float32), random_pd(rng, n, 0.2).astype(np.float32)


def f64(tree):
  return jax.tree.map(lambda a: np.asarray(a, np.float64), tree)


def numpy_mean_action(c, X, t):
  """Mean actions [S, m] for states X [S, n] (NumPy)."""
  return (X - c.x_hat[t]) @ c.K[t].T + c.k[t] + c.u_hat[t]


def numpy_log_prob(c, X, U, t):
  L = np.linalg.cholesky(c.cov[t])
  z = np.linalg.solve(L, (U - numpy_mean_action(c, X, t)).T)
  m = U.shape[-1]
  return -0.5 * (z ** 2).sum(0) - np.log(np.diag(L)).sum() - 0.5 * m * np.log(2 * np.pi)


def simulate(p, dynamics, mu0, sigma0, samples, seed, q=None):
  """NumPy closed-loop samples of p: states [S, T+1, n], actions [S, T, m] and,
  given q, the per-trajectory sum of log p(u_t|x_t) - log q(u_t|x_t)."""
  p, d, q = f64(p), f64(dynamics), f64(q)
  rng = np.random.default_rng(seed)
  n, m = p.K.shape[-1], p.K.shape[-2]
  x = rng.multivariate_normal(mu0, sigma0, size=samples)
  X, U, log_ratio = [x], [], np.zeros(samples)
  for t in range(p.K.shape[0]):
    u = numpy_mean_action(p, x, t) + rng.normal(size=(samples, m)) @ np.linalg.cholesky(
        p.cov[t]).T
    if q is not None:
      log_ratio += numpy_log_prob(p, x, u, t) - numpy_log_prob(q, x, u, t)
    noise = rng.normal(size=(samples, n)) @ np.linalg.cholesky(d.cov[t]).T
    x = x @ d.A[t].T + u @ d.B[t].T + d.c[t] + noise
    X.append(x)
    U.append(u)
  return np.stack(X, 1), np.stack(U, 1), log_ratio


def assert_moments(samples, mean, cov, z=5.0):
  """Sample moments of samples [S, k] within z standard errors of mean, cov."""
  S = samples.shape[0]
  mean, cov = np.asarray(mean, np.float64), np.asarray(cov, np.float64)
  se_mean = np.sqrt(np.diag(cov) / S)
  assert np.all(np.abs(samples.mean(0) - mean) < z * se_mean), (samples.mean(0), mean)
  var = np.diag(cov)
  se_cov = np.sqrt((np.outer(var, var) + cov ** 2) / S)
  assert np.all(np.abs(np.cov(samples.T) - cov) < z * se_cov), (np.cov(samples.T), cov)


def test_log_prob_matches_scipy():
  c = random_controller(0)
  rng = np.random.default_rng(1)
  log_prob = jax.jit(policies.log_prob)
  for t in range(T):
    x = rng.normal(size=N_STATE).astype(np.float32)
    u = rng.normal(size=N_ACTION).astype(np.float32)
    cn = f64(c)
    mean = cn.K[t] @ (x - cn.x_hat[t]) + cn.k[t] + cn.u_hat[t]
    want = scipy.stats.multivariate_normal(mean, cn.cov[t]).logpdf(x=u)
    assert float(log_prob(c, x, u, t)) == pytest.approx(want, rel=1e-5, abs=1e-5)
    np.testing.assert_allclose(policies.mean_action(c, x, t), mean, rtol=1e-5, atol=1e-5)


def test_samples_have_the_stated_mean_and_covariance():
  c = random_controller(2)
  x, t = np.array([0.5, -1.0, 2.0], np.float32), 3
  keys = jax.random.split(jax.random.PRNGKey(0), 20000)
  u = jax.jit(jax.vmap(policies.sample, (None, None, None, 0)))(c, x, t, keys)
  assert_moments(np.asarray(u, np.float64), policies.mean_action(c, x, t), c.cov[t])


def test_the_three_constructors():
  rng = np.random.default_rng(3)
  actions = rng.normal(size=(T, N_ACTION)).astype(np.float32)
  loop = policies.open_loop(actions, 0.1 * np.eye(N_ACTION, dtype=np.float32), N_STATE)
  for x in rng.normal(size=(3, N_STATE)).astype(np.float32):
    np.testing.assert_allclose(policies.mean_action(loop, x, 2), actions[2])
  assert loop.cov.shape == (T, N_ACTION, N_ACTION)

  c = random_controller(4)
  sharp = policies.deterministic(c.K, c.k, c.x_hat, c.u_hat)
  x = rng.normal(size=N_STATE).astype(np.float32)
  u = policies.sample(sharp, x, 1, jax.random.PRNGKey(0))
  np.testing.assert_allclose(u, policies.mean_action(c, x, 1), atol=1e-2)
  assert np.all(np.asarray(sharp.cov) <= 1e-6)

  Quu = np.stack([random_pd(rng, N_ACTION) for _ in range(T)]).astype(np.float32)
  soft = policies.from_q_function(c.K, c.k, Quu)
  np.testing.assert_allclose(soft.cov, np.linalg.inv(Quu), rtol=1e-4, atol=1e-5)
  np.testing.assert_allclose(soft.x_hat, 0.0)
  with pytest.raises(ValueError, match='k has shape'):
    policies.from_q_function(c.K, c.k[:, :1], Quu)


def test_lqr_controller_is_the_maximum_entropy_lqr_solution():
  """Its mean is planners.lqr's policy, and its covariance the inverse Hessian in u
  of Q_t(x, u) = cost_t(x, u) + V_{t+1}(next x), by autodiff."""
  rng = np.random.default_rng(5)
  dynamics = random_dynamics(6)
  Q = np.stack([random_pd(rng, N_STATE) for _ in range(T + 1)]).astype(np.float32)
  R = np.stack([random_pd(rng, N_ACTION) for _ in range(T)]).astype(np.float32)
  q = rng.normal(size=(T + 1, N_STATE)).astype(np.float32)
  controller = jax.jit(policies.lqr_controller)(dynamics, Q, R, q)
  solution = lqr(dynamics.A, dynamics.B, Q, R, dynamics.c, q)
  x = rng.normal(size=N_STATE).astype(np.float32)

  Qj, Rj, qj = jnp.asarray(Q), jnp.asarray(R), jnp.asarray(q)  # indexed by a traced t

  def q_function(u, t):
    Q, R, q = Qj, Rj, qj
    y = dynamics(x, u, t)
    value = 0.5 * y @ solution.P[t + 1] @ y + solution.p[t + 1] @ y
    return 0.5 * x @ Q[t] @ x + q[t] @ x + 0.5 * u @ R[t] @ u + value

  steps = jnp.arange(T)
  U = jax.vmap(policies.mean_action, (None, None, 0))(controller, x, steps)
  gradients, hessians = jax.jit(jax.vmap(
      lambda u, t: (jax.grad(q_function)(u, t), jax.hessian(q_function)(u, t))))(U, steps)
  np.testing.assert_allclose(U, solution.K @ x + solution.k, rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(gradients, 0.0, atol=1e-3)
  np.testing.assert_allclose(np.linalg.inv(controller.cov), hessians, rtol=1e-4, atol=1e-4)


def test_marginals_match_monte_carlo():
  p, dynamics = random_controller(7), random_dynamics(8)
  mu0, sigma0 = start(9)
  marginals = jax.jit(policies.trajectory_marginals)(p, dynamics, mu0, sigma0)
  assert marginals.mu.shape == (T, N_STATE + N_ACTION)
  assert marginals.sigma.shape == (T, N_STATE + N_ACTION, N_STATE + N_ACTION)
  X, U, _ = simulate(p, dynamics, mu0, sigma0, 100_000, 10)
  for t in range(T):
    assert_moments(np.concatenate([X[:, t], U[:, t]], 1), marginals.mu[t], marginals.sigma[t])
  assert_moments(X[:, T], marginals.final_mu, marginals.final_sigma)
  # JAX's own sampler agrees too.
  keys = jax.random.split(jax.random.PRNGKey(1), 20000)
  x0 = jax.random.multivariate_normal(jax.random.PRNGKey(2), mu0, sigma0, (20000,))
  X, U = jax.jit(jax.vmap(policies.sample_trajectory, (None, None, 0, 0)))(p, dynamics, x0,
                                                                          keys)
  assert X.shape == (20000, T + 1, N_STATE) and U.shape == (20000, T, N_ACTION)
  assert_moments(np.asarray(jnp.concatenate([X[:, 2], U[:, 2]], 1), np.float64),
                 marginals.mu[2], marginals.sigma[2])


def nearby(p, seed, step=0.1):
  """p with every parameter moved by a random step of relative size `step`."""
  rng = np.random.default_rng(seed)
  move = lambda a: a + step * np.abs(a).mean() * rng.normal(size=a.shape).astype(np.float32)
  factor = np.eye(N_ACTION) + step * rng.normal(size=(T, N_ACTION, N_ACTION))
  cov = np.einsum('tij,tjk,tlk->til', factor, f64(p.cov), factor).astype(np.float32)
  return p.replace(K=move(p.K), k=move(p.k), cov=cov, x_hat=move(p.x_hat), u_hat=move(p.u_hat))


@pytest.mark.parametrize('case', ['far', 'near'])
def test_kl_matches_monte_carlo(case):
  """KL(p || q) in closed form against the mean of sum_t log p(u_t|x_t) - log
  q(u_t|x_t) over 100 000 NumPy trajectories of p. Measured: far (an unrelated
  q): closed form 80.486, MC 80.471 +- 0.123 (0.1 SE); near (q = p moved 10%, a
  guided-policy-search-sized step): 0.36059, MC 0.35530 +- 0.00259 (2.0 SE; five
  more runs of 400 000 gave 0.3591 to 0.3638, mean 0.3607, SE 0.0013 each).
  float64 gives the same closed form to 7 digits."""
  p, dynamics = random_controller(11), random_dynamics(12)
  q = random_controller(111, scale=0.5) if case == 'far' else nearby(p, 13)
  mu0, sigma0 = start(14)
  kl = float(jax.jit(policies.trajectory_kl)(p, q, dynamics, mu0, sigma0))
  _, _, log_ratio = simulate(p, dynamics, mu0, sigma0, 100_000, 15, q=q)
  mc, se = log_ratio.mean(), log_ratio.std() / np.sqrt(log_ratio.size)
  assert abs(kl - mc) < 4 * se, (kl, mc, se)
  assert se < 0.02 * kl  # the comparison is sharp


def test_kl_is_zero_for_the_same_controller_and_positive_otherwise():
  p, dynamics = random_controller(13), random_dynamics(14)
  mu0, sigma0 = start(15)
  kl = jax.jit(policies.trajectory_kl)
  assert abs(float(kl(p, p, dynamics, mu0, sigma0))) < 1e-5
  for change in (dict(K=p.K + 0.1), dict(k=p.k - 0.1), dict(cov=1.2 * p.cov),
                 dict(x_hat=p.x_hat + 0.1), dict(u_hat=p.u_hat + 0.1)):
    q = p.replace(**change)
    assert float(kl(p, q, dynamics, mu0, sigma0)) > 1e-3, change
  # Moving x_hat and u_hat together along K leaves the controller unchanged.
  shift = np.array([0.3, -0.2, 0.1], np.float32)
  q = p.replace(x_hat=p.x_hat + shift, u_hat=p.u_hat + jnp.einsum('tij,j->ti', p.K, shift))
  assert abs(float(kl(p, q, dynamics, mu0, sigma0))) < 1e-5


def test_everything_jits_and_vmaps_over_conditions():
  dynamics = random_dynamics(16)
  p = random_controller(17)
  qs = [random_controller(18 + i, scale=0.5) for i in range(4)]
  stacked = jax.tree.map(lambda *a: jnp.stack(a), *qs)
  starts = [start(30 + i) for i in range(4)]
  mu0s, sigma0s = (np.stack(a) for a in zip(*starts))
  batched = jax.jit(jax.vmap(policies.trajectory_kl, (None, 0, None, 0, 0)))(
      p, stacked, dynamics, mu0s, sigma0s)
  single = jax.jit(policies.trajectory_kl)
  looped = [single(p, q, dynamics, *s) for q, s in zip(qs, starts)]
  np.testing.assert_allclose(batched, looped, rtol=1e-5)
  # A traced step index, and a batch of states and actions.
  rng = np.random.default_rng(19)
  x = rng.normal(size=(6, N_STATE)).astype(np.float32)
  u = rng.normal(size=(6, N_ACTION)).astype(np.float32)
  t = np.arange(6) % T
  got = jax.jit(jax.vmap(policies.log_prob, (None, 0, 0, 0)))(p, x, u, t)
  single = jax.jit(policies.log_prob)
  want = [single(p, x[i], u[i], t[i]) for i in range(6)]
  np.testing.assert_allclose(got, want, rtol=1e-5)

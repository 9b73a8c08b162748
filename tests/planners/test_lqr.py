"""LQR against independent references: scipy's discrete algebraic Riccati equation
for long horizons, and a brute-force solve of the stacked quadratic in U."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg

from mbrl_jax.planners.lqr import lqr, lqr_rollout, lqr_value


def random_pd(rng, size, scale=1.0):
  L = rng.normal(size=(size, size))
  return scale * (L @ L.T / size + 0.5 * np.eye(size))


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_first_gain_approaches_infinite_horizon_gain(seed):
  rng = np.random.default_rng(seed)
  n, m = 4, 2
  A = rng.normal(size=(n, n))
  A *= 1.05 / np.max(np.abs(np.linalg.eigvals(A)))  # open-loop unstable
  B = rng.normal(size=(n, m))
  Q, R = random_pd(rng, n), random_pd(rng, m)
  P = scipy.linalg.solve_discrete_are(A, B, Q, R)
  K_inf = -np.linalg.solve(R + B.T @ P @ B, B.T @ P @ A)

  errors = []
  with jax.enable_x64(True):
    for T in (1, 2, 4, 8, 16, 64):
      tile = lambda a, k: np.broadcast_to(a, (k,) + a.shape)
      solution = lqr(tile(A, T), tile(B, T), tile(Q, T + 1), tile(R, T))
      errors.append(np.abs(np.asarray(solution.K[0]) - K_inf).max())
  assert errors[0] > 1e-3  # the short horizon is really different
  assert all(b <= a + 1e-12 for a, b in zip(errors, errors[1:])), errors
  assert errors[-1] < 1e-10 * max(1.0, np.abs(K_inf).max()), errors


def stacked_problem(seed, T=5, n=3, m=2):
  """A random time-varying affine problem, as float64 numpy arrays."""
  rng = np.random.default_rng(seed)
  A = rng.normal(size=(T, n, n)) * 0.6
  B = rng.normal(size=(T, n, m))
  c = rng.normal(size=(T, n))
  # The joint stage Hessian [[Q, M], [M', R]] is positive definite.
  H = np.stack([random_pd(rng, n + m) for _ in range(T)])
  Q = np.concatenate([H[:, :n, :n], random_pd(rng, n)[None]])
  R, M = H[:, n:, n:], H[:, :n, n:]
  q, r = rng.normal(size=(T + 1, n)), rng.normal(size=(T, m))
  x0 = rng.normal(size=n)
  return dict(A=A, B=B, Q=Q, R=R, c=c, q=q, r=r, M=M), x0


def brute_force(p, x0):
  """Optimal U, X and cost from the quadratic in the stacked controls U [T*m]."""
  A, B, c, Q, q, R, r, M = (p[k] for k in 'AB' 'cQqRrM')
  T, n, m = B.shape
  # X = Su U + xbar with X stacked [(T+1)*n].
  Su = np.zeros(((T + 1) * n, T * m))
  xbar = np.zeros((T + 1) * n)
  xbar[:n] = x0
  for t in range(T):
    rows, nxt = slice(t * n, (t + 1) * n), slice((t + 1) * n, (t + 2) * n)
    Su[nxt] = A[t] @ Su[rows]
    Su[nxt, t * m:(t + 1) * m] += B[t]
    xbar[nxt] = A[t] @ xbar[rows] + c[t]
  Qb = scipy.linalg.block_diag(*Q)
  Rb = scipy.linalg.block_diag(*R)
  Mb = np.zeros(((T + 1) * n, T * m))
  for t in range(T):
    Mb[t * n:(t + 1) * n, t * m:(t + 1) * m] = M[t]
  qb, rb = q.reshape(-1), r.reshape(-1)

  def cost(U):
    X = Su @ U + xbar
    return 0.5 * X @ Qb @ X + qb @ X + 0.5 * U @ Rb @ U + rb @ U + X @ Mb @ U

  H = Su.T @ Qb @ Su + Rb + Su.T @ Mb + Mb.T @ Su
  g = Su.T @ (Qb @ xbar + qb) + rb + Mb.T @ xbar
  U = np.linalg.solve(H, -g)
  return U.reshape(T, m), (Su @ U + xbar).reshape(T + 1, n), cost(U)


@pytest.mark.parametrize('seed', [0, 1])
def test_time_varying_affine_lqr_matches_brute_force(seed):
  problem, x0 = stacked_problem(seed)
  U_ref, X_ref, cost_ref = brute_force(problem, x0)
  with jax.enable_x64(True):
    solution = jax.jit(lqr)(**problem)
    X, U, cost = lqr_rollout(solution, x0, **problem)
    value = lqr_value(solution, jnp.asarray(x0))
  np.testing.assert_allclose(U, U_ref, rtol=1e-8, atol=1e-10)
  np.testing.assert_allclose(X, X_ref, rtol=1e-8, atol=1e-10)
  np.testing.assert_allclose(cost, cost_ref, rtol=1e-9)
  np.testing.assert_allclose(value, cost_ref, rtol=1e-9)
  # A perturbed control sequence costs more (the reference is a minimum).
  perturbed = U_ref + 1e-2 * np.random.default_rng(seed).normal(size=U_ref.shape)
  assert brute_force_cost(problem, x0, perturbed) > cost_ref


def brute_force_cost(p, x0, U):
  x, total = x0, 0.0
  for t in range(len(U)):
    u = U[t]
    total += (0.5 * x @ p['Q'][t] @ x + p['q'][t] @ x + 0.5 * u @ p['R'][t] @ u
              + p['r'][t] @ u + x @ p['M'][t] @ u)
    x = p['A'][t] @ x + p['B'][t] @ u + p['c'][t]
  return total + 0.5 * x @ p['Q'][-1] @ x + p['q'][-1] @ x


def test_vmap_over_problems_equals_separate_calls():
  problems = [stacked_problem(seed)[0] for seed in (3, 4)]
  batched = jax.vmap(lqr)(**{k: np.stack([p[k] for p in problems]).astype(np.float32)
                              for k in problems[0]})
  for i, p in enumerate(problems):
    single = lqr(**{k: v.astype(np.float32) for k, v in p.items()})
    for a, b in zip(single, batched):
      np.testing.assert_allclose(b[i], a, rtol=1e-4, atol=1e-5)


def test_bad_shapes_raise_one_line_value_error():
  problem, _ = stacked_problem(0)
  with pytest.raises(ValueError, match='lqr: B has shape') as info:
    lqr(**dict(problem, B=problem['B'][:, :2]))  # [T, 2, m], n = 3
  assert '\n' not in str(info.value)
  with pytest.raises(ValueError, match='lqr: A has shape'):
    lqr(**dict(problem, A=problem['A'][:0], B=problem['B'][:0]))
  with pytest.raises(ValueError, match='lqr: Q has shape'):
    lqr(**dict(problem, Q=problem['Q'][:-1]))

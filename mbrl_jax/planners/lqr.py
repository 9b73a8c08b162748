"""Finite-horizon, time-varying LQR with affine terms (backward Riccati recursion).

The problem, for t = 0..T-1, with state x [n] and control u [m]:

  x_{t+1} = A_t x_t + B_t u_t + c_t
  cost    = sum_t (1/2 x'Q_t x + q_t'x + 1/2 u'R_t u + r_t'u + x'M_t u)
            + 1/2 x_T'Q_T x_T + q_T'x_T

The optimal policy is u_t = K_t x_t + k_t and the optimal cost-to-go is
V_t(x) = 1/2 x'P_t x + p_t'x + s_t. Everything is a pure function of arrays:
jit and vmap it freely. iLQR (ilqr.py) reuses `lqr` as its backward pass.
"""

from typing import NamedTuple, Tuple

import jax
import jax.numpy as jnp
from jax.scipy.linalg import cho_factor, cho_solve


class LQRSolution(NamedTuple):
  K: jax.Array  # [T, m, n] feedback gains
  k: jax.Array  # [T, m] feedforward terms
  P: jax.Array  # [T+1, n, n] value Hessians
  p: jax.Array  # [T+1, n] value gradients at x = 0
  s: jax.Array  # [T+1] value constants: V_t(0)


def _fill(A, B, Q, R, c, q, r, M):
  """Checks shapes and replaces missing affine/cross terms with zeros."""
  A, B, Q, R = (jnp.asarray(a) for a in (A, B, Q, R))
  T = A.shape[0] if A.ndim == 3 else -1
  n = A.shape[-1]
  m = B.shape[-1] if B.ndim == 3 else -1
  dtype = jnp.result_type(A, B, Q, R)
  c = jnp.zeros((T, n), dtype) if c is None else jnp.asarray(c)
  q = jnp.zeros((T + 1, n), dtype) if q is None else jnp.asarray(q)
  r = jnp.zeros((T, m), dtype) if r is None else jnp.asarray(r)
  M = jnp.zeros((T, n, m), dtype) if M is None else jnp.asarray(M)
  expected = {'A': (T, n, n), 'B': (T, n, m), 'Q': (T + 1, n, n), 'R': (T, m, m),
              'c': (T, n), 'q': (T + 1, n), 'r': (T, m), 'M': (T, n, m)}
  for name, a in zip('ABQRcqrM', (A, B, Q, R, c, q, r, M)):
    if T < 1 or n < 1 or m < 1 or a.shape != expected[name]:
      raise ValueError(f'lqr: {name} has shape {a.shape}; need A [T,n,n], B [T,n,m], '
                       f'Q [T+1,n,n], R [T,m,m], c [T,n], q [T+1,n], r [T,m], M [T,n,m] '
                       f'with T, n, m >= 1.')
  return A, B, Q, R, c, q, r, M


def lqr(A, B, Q, R, c=None, q=None, r=None, M=None) -> LQRSolution:
  """Solves the LQR problem above; c, q, r, M default to zeros.

  Args:
    A [T,n,n], B [T,n,m], c [T,n]: dynamics x_{t+1} = A_t x_t + B_t u_t + c_t.
    Q [T+1,n,n], q [T+1,n]: state cost; index T is the terminal cost.
    R [T,m,m], r [T,m], M [T,n,m]: control and cross costs.

  R_t + B_t'P_{t+1}B_t must be positive definite; where it is not, the Cholesky
  factor is NaN and so is the solution from that step back (never silently
  finite): iLQR uses this to detect a failed backward pass.
  """
  A, B, Q, R, c, q, r, M = _fill(A, B, Q, R, c, q, r, M)

  def step(value, stage):
    P, p, s = value
    A, B, c, Q, q, R, r, M = stage
    p_next = p + P @ c  # gradient of V_{t+1} at the drift A x + B u = 0, i.e. at c
    # The Q-function of (x, u): Hessian blocks and gradient at (0, 0).
    Qxx = Q + A.T @ P @ A
    Quu = R + B.T @ P @ B
    Qux = M.T + B.T @ P @ A
    qx = q + A.T @ p_next
    qu = r + B.T @ p_next
    # One Cholesky solve for both gains; no explicit inverse.
    factor = cho_factor(Quu, lower=True)
    gains = -cho_solve(factor, jnp.concatenate([Qux, qu[:, None]], axis=1))
    K, k = gains[:, :-1], gains[:, -1]
    # Minimising over u: V_t = Q-function at u = Kx + k (these simplifications
    # use Quu K = -Qux and Quu k = -qu).
    P_new = Qxx + Qux.T @ K
    P_new = 0.5 * (P_new + P_new.T)  # keep it symmetric against rounding
    p_new = qx + Qux.T @ k
    s_new = s + 0.5 * c @ P @ c + p @ c + 0.5 * qu @ k
    return (P_new, p_new, s_new), (K, k, P_new, p_new, s_new)

  terminal = (Q[-1], q[-1], jnp.zeros((), Q.dtype))
  stages = (A, B, c, Q[:-1], q[:-1], R, r, M)
  _, (K, k, P, p, s) = jax.lax.scan(step, terminal, stages, reverse=True)
  append = lambda xs, last: jnp.concatenate([xs, last[None]])
  return LQRSolution(K, k, append(P, Q[-1]), append(p, q[-1]),
                     append(s, jnp.zeros((), s.dtype)))


def lqr_value(solution: LQRSolution, x0: jax.Array) -> jax.Array:
  """V_0(x0): the optimal cost from x0."""
  return 0.5 * x0 @ solution.P[0] @ x0 + solution.p[0] @ x0 + solution.s[0]


def lqr_rollout(solution: LQRSolution, x0, A, B, Q, R, c=None, q=None, r=None,
                M=None) -> Tuple[jax.Array, jax.Array, jax.Array]:
  """Runs u_t = K_t x_t + k_t from x0: (states [T+1,n], controls [T,m], cost)."""
  A, B, Q, R, c, q, r, M = _fill(A, B, Q, R, c, q, r, M)

  def step(x, stage):
    K, k, A, B, c, Q, q, R, r, M = stage
    u = K @ x + k
    cost = 0.5 * x @ Q @ x + q @ x + 0.5 * u @ R @ u + r @ u + x @ M @ u
    return A @ x + B @ u + c, (x, u, cost)

  stages = (solution.K, solution.k, A, B, c, Q[:-1], q[:-1], R, r, M)
  xT, (X, U, costs) = jax.lax.scan(step, x0, stages)
  total = costs.sum() + 0.5 * xT @ Q[-1] @ xT + q[-1] @ xT
  return jnp.concatenate([X, xT[None]]), U, total

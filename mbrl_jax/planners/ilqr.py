"""Iterative LQR: local optimisation of a control sequence through any
differentiable dynamics (a task's true physics or a learned model's mean).

Conventions (trajax's): `dynamics(x, u, t) -> next x` and `cost(x, u, t) -> scalar`,
with t a traced int32 step index. For a horizon T = len(U) the objective is

  J(U) = sum_{t<T} cost(x_t, u_t, t) + cost(x_T, 0, T),

i.e. the terminal cost is the cost function called at t = T with zero control.
The planner is unconstrained: bound controls in the cost (a smooth penalty) or by
squashing (u = high * tanh(v)), and clip when executing.

Each iteration linearises the dynamics (jacfwd) and takes second-order
expansions of the cost (hessian) along the current trajectory, all steps at once
with vmap, then solves the local problem with `lqr` (the backward pass) and
backtracks along the resulting closed-loop step (the forward pass). Second
derivatives of the dynamics are ignored (iLQR, not DDP), so a point where the
gradient vanishes, e.g. a pendulum hanging still under U0 = 0, is a fixed point:
start from nonzero controls there. Everything
runs inside `lax.while_loop`s, so `ilqr` jits and vmaps (e.g. over start states,
or over the params a learned model's dynamics closes over); it is not
reverse-differentiable (while_loop). `cost` and `dynamics` are static arguments
of an internal jit: passing the same function objects reuses the compiled
program, a fresh lambda per call recompiles (jit the caller to avoid that).
"""

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp

from mbrl_jax.core.guards import all_finite
from mbrl_jax.core.types import Cost, Dynamics
from mbrl_jax.planners.lqr import LQRSolution, lqr


class ILQRSolution(NamedTuple):
  X: jax.Array           # [T+1, n] states of the returned controls
  U: jax.Array           # [T, m] controls
  # The last successful backward pass: u_t = U_t + k_t + K_t (x_t - X_t) about the
  # trajectory it linearised (k ~ 0 at convergence; K gives feedback about X, U).
  K: jax.Array           # [T, m, n]
  k: jax.Array           # [T, m]
  cost: jax.Array        # J(U)
  iterations: jax.Array  # backward passes made (the last one may only confirm convergence)
  converged: jax.Array   # bool: the unregularised step predicts a reduction below tol
  mu: jax.Array          # the final regularisation


class _State(NamedTuple):
  X: jax.Array
  U: jax.Array
  J: jax.Array
  K: jax.Array
  k: jax.Array
  mu: jax.Array
  delta: jax.Array
  iteration: jax.Array
  converged: jax.Array
  failed: jax.Array


def _forward(cost, dynamics, x0, X, U, K, k, alpha):
  """Closed-loop rollout u_t = U_t + alpha k_t + K_t (x_t - X_t): (X, U, J)."""
  T = U.shape[0]

  def step(x, inputs):
    x_ref, u_ref, K, k, t = inputs
    u = u_ref + alpha * k + K @ (x - x_ref)
    return dynamics(x, u, t), (x, u, cost(x, u, t))

  ts = jnp.arange(T, dtype=jnp.int32)
  xT, (Xs, Us, costs) = jax.lax.scan(step, x0, (X[:-1], U, K, k, ts))
  J = costs.sum() + cost(xT, jnp.zeros_like(U[0]), jnp.int32(T))
  return jnp.concatenate([Xs, xT[None]]), Us, J


def _expand(cost, dynamics, X, U):
  """The local LQR problem in (dx, du) about (X, U), as lqr's arguments."""
  T = U.shape[0]
  ts = jnp.arange(T, dtype=jnp.int32)
  fx, fu = jax.vmap(jax.jacfwd(dynamics, (0, 1)))(X[:-1], U, ts)
  lx, lu = jax.vmap(jax.grad(cost, (0, 1)))(X[:-1], U, ts)
  (lxx, lxu), (_, luu) = jax.vmap(jax.hessian(cost, (0, 1)))(X[:-1], U, ts)
  zero_u, tT = jnp.zeros_like(U[0]), jnp.int32(T)
  lxT = jax.grad(cost)(X[-1], zero_u, tT)
  lxxT = jax.hessian(cost)(X[-1], zero_u, tT)
  return dict(A=fx, B=fu, Q=jnp.concatenate([lxx, lxxT[None]]),
              q=jnp.concatenate([lx, lxT[None]]), R=luu, r=lu, M=lxu)


def _check(cost, dynamics, x0, U0, max_iterations, line_search_steps, backtrack, delta0):
  if x0.ndim != 1 or x0.shape[0] < 1 or U0.ndim != 2 or min(U0.shape) < 1:
    raise ValueError(f'ilqr: need x0 [n] and U0 [T, m] with n, T, m >= 1, got x0 shape '
                     f'{x0.shape} and U0 shape {U0.shape}.')
  if int(max_iterations) < 1 or int(line_search_steps) < 1:
    raise ValueError(f'ilqr: need max_iterations >= 1 and line_search_steps >= 1, got '
                     f'{max_iterations} and {line_search_steps}.')
  if not (0.0 < float(backtrack) < 1.0 and float(delta0) > 1.0):
    raise ValueError(f'ilqr: need 0 < backtrack < 1 and delta0 > 1, got {backtrack} '
                     f'and {delta0}.')
  t = jnp.int32(0)
  for name, fn, want in (('dynamics', dynamics, x0.shape), ('cost', cost, ())):
    try:
      shape = jax.eval_shape(fn, x0, U0[0], t).shape
    except Exception as e:  # pylint: disable=broad-except
      first_line = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
      raise ValueError(f'ilqr: {name}(x0 {x0.shape}, u {U0[0].shape}, t) failed: '
                       f'{first_line}') from e
    if shape != want:
      raise ValueError(f'ilqr: {name}(x0, u, t) has shape {shape}; it must be {want}.')


def ilqr(cost: Cost, dynamics: Dynamics, x0: jax.Array, U0: jax.Array,
         max_iterations: int = 100, tol: float = 1e-6, mu_init: float = 0.0,
         mu_min: float = 1e-6, mu_max: float = 1e10, delta0: float = 2.0,
         line_search_steps: int = 10, backtrack: float = 0.5,
         armijo: float = 1e-4) -> ILQRSolution:
  """Minimises J(U) from x0 (see the module docstring), starting at U0 [T, m].

  Regularisation (Levenberg-Marquardt, Tassa et al. 2012): the backward pass is
  `lqr` on the local model with R_t + mu I, i.e. Q_uu + mu I, whose optimum is a
  step that also pays mu/2 |dU|^2. If a Q_uu + mu I is not positive definite (its
  Cholesky factor, hence the solution, is not finite) mu is raised and the pass
  retried. A full step (alpha = 1 accepted) lowers mu; a shortened or failed
  line search raises it, since the local model was too optimistic (a trust-region
  flavour of Tassa's rule, which lowers mu on any accepted step: on the pendulum
  swing-up of the tests it needs 20-35% fewer iterations):
  raise: delta = max(delta0, delta delta0), mu = max(mu_min, mu delta);
  lower: delta = min(1/delta0, delta/delta0), mu = mu delta, or 0 below mu_min.

  Line search: alpha = 1, backtrack, backtrack^2, ... (line_search_steps tries)
  accepts the first finite trajectory whose cost falls by at least armijo times
  the reduction the local model predicts, -s_0 alpha (2 - alpha) with s_0 = V_0(0).

  Convergence: the predicted full-step reduction is below tol (1 + |J|) with mu = 0,
  i.e. the unregularised Newton-like step is negligible. A small step taken only
  because mu > 0 is not convergence: mu is lowered and the loop goes on. So an
  indefinite Q_uu at a stationary point (e.g. cost -u^2 at u = 0) ends with
  converged=False, as do running out of iterations and mu exceeding mu_max.

  Safety: a trajectory with NaN/inf states or cost is never accepted, so X, U and
  cost stay finite whenever the rollout of U0 is. If that rollout is not finite,
  nothing is attempted: U0, its rollout, iterations=0 and converged=False come back.

  Args:
    cost, dynamics: pure, differentiable functions of (x [n], u [m], t).
    x0: start state [n]; U0: initial controls [T, m] (zeros are a fine start).
    max_iterations: the most backward passes.
    tol, mu_init, mu_min, mu_max, delta0, line_search_steps, backtrack, armijo:
      as described above.
  Returns:
    ILQRSolution. K, k come from the last successful backward pass: about the
    returned X, U when converged; about the previous trajectory otherwise.
  """
  x0, U0 = jnp.asarray(x0), jnp.asarray(U0)
  _check(cost, dynamics, x0, U0, max_iterations, line_search_steps, backtrack, delta0)
  return _ilqr(cost, dynamics, x0, U0, int(max_iterations), int(line_search_steps),
               tol, mu_init, mu_min, mu_max, delta0, backtrack, armijo)


@functools.partial(jax.jit, static_argnums=(0, 1))
def _ilqr(cost, dynamics, x0, U0, max_iterations, line_search_steps, tol, mu_init,
          mu_min, mu_max, delta0, backtrack, armijo) -> ILQRSolution:
  dtype = jnp.result_type(x0, U0, 1.0)  # floats, the inputs' precision
  x0, U0 = x0.astype(dtype), U0.astype(dtype)
  # Same dtypes in and out keep the loop carries fixed.
  f = lambda x, u, t: jnp.asarray(dynamics(x, u, t), dtype)
  l = lambda x, u, t: jnp.asarray(cost(x, u, t), dtype)
  T, m = U0.shape
  n = x0.shape[0]
  as_float = lambda v: jnp.asarray(v, dtype)
  tol, mu_min, mu_max, delta0, backtrack, armijo = map(
      as_float, (tol, mu_min, mu_max, delta0, backtrack, armijo))
  eye = jnp.eye(m, dtype=dtype)

  def raise_mu(mu, delta):
    delta = jnp.maximum(delta0, delta * delta0)
    return jnp.maximum(mu_min, mu * delta), delta

  def lower_mu(mu, delta):
    delta = jnp.minimum(1 / delta0, delta / delta0)
    return jnp.where(mu * delta > mu_min, mu * delta, 0.0), delta

  def backward(local, mu, delta):
    """lqr on the local model at the smallest mu (from the current) that works."""
    def attempt(mu):
      solution = lqr(**dict(local, R=local['R'] + mu * eye))
      return solution, all_finite(solution)

    def retry(carry):
      _, _, mu, delta = carry
      mu, delta = raise_mu(mu, delta)
      return attempt(mu) + (mu, delta)

    carry = attempt(mu) + (mu, delta)
    solution, ok, mu, delta = jax.lax.while_loop(
        lambda c: ~c[1] & (c[2] <= mu_max), retry, carry)
    return solution, ok & (mu <= mu_max), mu, delta

  def line_search(s, solution: LQRSolution, predicted, search):
    """Backtracks when `search`: (accepted at alpha = 1, X, U, J), old ones if none."""
    def body(carry):
      i, _, X, U, J = carry
      alpha = backtrack**i
      X_new, U_new, J_new = _forward(l, f, x0, s.X, s.U, solution.K, solution.k, alpha)
      accept = (jnp.isfinite(J_new) & all_finite(X_new)
                & (s.J - J_new >= armijo * predicted * alpha * (2 - alpha)))
      pick = lambda new, old: jnp.where(accept, new, old)
      return i + 1, accept, pick(X_new, X), pick(U_new, U), pick(J_new, J)

    carry = (jnp.int32(0), jnp.array(False), s.X, s.U, s.J)
    tries, accepted, X, U, J = jax.lax.while_loop(
        lambda c: search & ~c[1] & (c[0] < line_search_steps), body, carry)
    return accepted & (tries == 1), X, U, J

  def iterate(s: _State) -> _State:
    solution, ok, mu, delta = backward(_expand(l, f, s.X, s.U), s.mu, s.delta)
    predicted = -solution.s[0]  # the local model's reduction for the full step
    small = predicted < tol * (1 + jnp.abs(s.J))
    converged = ok & small & (mu == 0)
    full_step, X, U, J = line_search(s, solution, predicted, ok & ~small)
    mu, delta = jax.tree.map(lambda a, b: jnp.where(full_step | small, a, b),
                             lower_mu(mu, delta), raise_mu(mu, delta))
    keep = lambda new, old: jnp.where(ok, new, old)
    return _State(X, U, J, keep(solution.K, s.K), keep(solution.k, s.k), mu, delta,
                  s.iteration + 1, converged, ~ok | (mu > mu_max))

  zeros_K, zeros_k = jnp.zeros((T, m, n), dtype), jnp.zeros((T, m), dtype)
  X, _, J = _forward(l, f, x0, jnp.zeros((T + 1, n), dtype), U0, zeros_K, zeros_k, 0.0)
  start = _State(X, U0, J, zeros_K, zeros_k, as_float(mu_init), as_float(1.0),
                 jnp.int32(0), jnp.array(False), ~(jnp.isfinite(J) & all_finite(X)))
  s = jax.lax.while_loop(
      lambda s: ~s.converged & ~s.failed & (s.iteration < max_iterations), iterate, start)
  return ILQRSolution(s.X, s.U, s.K, s.k, s.J, s.iteration, s.converged, s.mu)

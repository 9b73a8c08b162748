"""iLQR against independent references: LQR on the same matrices, a pendulum
swing-up checked by executing the plan in the task, first- and second-order
optimality from jax.grad/jax.hessian of a separate rollout, and bad input."""

import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mbrl_jax import envs
from mbrl_jax.planners import ilqr, lqr, lqr_rollout
from tests.helpers import REPO


def total_cost(cost, dynamics, x0, U):
  """J(U) by a plain Python loop, independent of ilqr's rollout."""
  x, J = x0, 0.0
  for t in range(U.shape[0]):
    J = J + cost(x, U[t], t)
    x = dynamics(x, U[t], t)
  return J + cost(x, jnp.zeros_like(U[0]), U.shape[0])


def test_linear_quadratic_converges_in_one_step_to_lqr():
  task = envs.make('linear_quadratic').unwrapped
  T = 30
  x0 = jnp.array([1.0, -0.5, 0.3, 0.2])
  U0 = jnp.zeros((T, task.action_size))
  one = ilqr(task.cost, task.dynamics, x0, U0, max_iterations=1)
  full = ilqr(task.cost, task.dynamics, x0, U0)

  # The task's cost is x'Qx + u'Ru (terminal x'Qx), lqr's has a factor 1/2.
  tile = lambda a, k: np.broadcast_to(a, (k,) + a.shape)
  args = (tile(task.A, T), tile(task.B, T), tile(2 * task.Q, T + 1), tile(2 * task.R, T))
  reference = lqr(*args)
  X_ref, U_ref, cost_ref = lqr_rollout(reference, x0, *args)

  for solution in (one, full):
    np.testing.assert_allclose(solution.U, U_ref, rtol=1e-4, atol=1e-5)
    # The feedback gains MPC executes between replans are LQR's (state-independent here).
    np.testing.assert_allclose(solution.K, reference.K, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(solution.X, X_ref, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(solution.cost, cost_ref, rtol=1e-5)
  assert cost_ref < total_cost(task.cost, task.dynamics, x0, U0)  # there was work to do
  # The second pass only confirms: converged with nothing left to gain.
  assert bool(full.converged) and int(full.iterations) == 2 and float(full.mu) == 0.0
  assert not bool(one.converged)
  np.testing.assert_allclose(full.cost, one.cost, rtol=1e-6)


def pendulum_problem(T):
  """The planner's view of pendulum swing-up (see the test below)."""
  task = envs.make('pendulum').unwrapped
  high = float(task.action_high[0])

  def dynamics(x, v, t):
    return task.dynamics(x, high * jnp.tanh(v), t)

  def cost(x, v, t):
    # Quadratic in the observation (cos, sin, th_dot): zero upright, ten times
    # heavier at the end, plus a small control cost on v.
    state = (1.0 - x[0])**2 + x[1]**2 + 0.1 * x[2]**2
    return jnp.where(t == T, 10.0, 1.0) * state + 0.01 * jnp.sum(v**2)

  return task, high, dynamics, cost


def test_pendulum_swing_up_with_true_dynamics():
  # Bounds: the torque is squashed, u = 2 tanh(v), so the plan is always within
  # [-2, 2] and clipping it when executing changes nothing. (A penalty on |u| > 2
  # also works but its kinked Hessian made iLQR take hundreds of iterations.)
  # Cost: the task's th^2 (th wrapped to [-pi, pi]) has a kink at the bottom
  # where the swing starts, which the local quadratic models fit badly; the
  # planner uses the smooth (1 - cos th)^2 + sin^2 th + 0.1 th_dot^2 instead.
  # Start: U0 = 0 from hanging is a stationary point by symmetry, so U0 = 0.5.
  T = 80
  task, high, dynamics, cost = pendulum_problem(T)
  x0 = jnp.array([-1.0, 0.0, 0.0])
  solution = ilqr(cost, dynamics, x0, 0.5 * jnp.ones((T, 1)), max_iterations=200)

  # Execute the plan, clipped to the bounds, in the task's own dynamics.
  x, X, reward = x0, [], 0.0
  for u in np.clip(high * np.tanh(np.asarray(solution.U)), *task.action_bounds):
    next_x = task.dynamics(x, jnp.asarray(u))
    reward += float(task.reward_fn(x, jnp.asarray(u), next_x))
    x = next_x
    X.append(np.asarray(x))
  X = np.array(X)
  assert np.all(X[-10:, 0] > 0.95), X[-10:, 0]  # cos theta: upright at the end
  assert np.abs(X[-10:, 2]).max() < 1.0  # and nearly at rest
  # The task's own return beats hanging still (-pi^2 per step) by a wide margin.
  assert reward > 0.5 * (-np.pi**2 * T)
  # The plan is what happened (up to float32 rounding, which the unstable
  # upright position amplifies).
  np.testing.assert_allclose(solution.X[1:], X, atol=2e-2)


def test_indefinite_control_hessian_is_regularised_to_a_local_minimum():
  # Double well (u^2 - 1)^2: Q_uu < 0 at the start U0 = 0.
  T = 10
  dynamics = lambda x, u, t: x + 0.1 * u
  cost = lambda x, u, t: jnp.sum(x**2) + jnp.sum((u**2 - 1.0)**2)
  x0, U0 = jnp.array([1.0]), jnp.zeros((T, 1))
  J = lambda U: total_cost(cost, dynamics, x0, U)
  hessian = lambda U: jax.hessian(J)(U).reshape(T, T)
  assert np.linalg.eigvalsh(hessian(U0)).min() < 0  # the premise

  solution = ilqr(cost, dynamics, x0, U0)
  assert bool(solution.converged)
  assert np.all(np.isfinite(solution.U)) and solution.cost < J(U0)
  np.testing.assert_allclose(solution.cost, J(solution.U), rtol=1e-5)
  # First- and second-order conditions of a local minimum of J.
  assert np.abs(jax.grad(J)(solution.U)).max() < 1e-3
  assert np.linalg.eigvalsh(hessian(solution.U)).min() > 0

  # Without room to regularise (mu_max too small) it gives up, unchanged and finite.
  stuck = ilqr(cost, dynamics, x0, U0, mu_max=1e-3)
  assert not bool(stuck.converged) and int(stuck.iterations) == 1
  np.testing.assert_array_equal(stuck.U, U0)
  assert np.all(np.isfinite(stuck.X)) and np.isfinite(stuck.cost)


def test_unbounded_cost_reports_non_convergence_with_finite_outputs():
  # cost -u^2: Q_uu < 0 everywhere and J is unbounded below.
  T = 10
  dynamics = lambda x, u, t: x + 0.1 * u
  cost = lambda x, u, t: jnp.sum(x**2) - jnp.sum(u**2)
  x0 = jnp.array([1.0])
  for U0 in (jnp.zeros((T, 1)), 0.1 * jnp.ones((T, 1))):
    solution = ilqr(cost, dynamics, x0, U0, max_iterations=30)
    assert not bool(solution.converged)
    for a in (solution.X, solution.U, solution.K, solution.k, solution.cost):
      assert np.all(np.isfinite(a))
    assert solution.cost < total_cost(cost, dynamics, x0, U0)


def test_nan_dynamics_are_never_accepted():
  # The model is NaN for u > 0.5, where the cost wants to go.
  T = 10
  dynamics = lambda x, u, t: jnp.where(u[0] > 0.5, jnp.nan, x + u)
  cost = lambda x, u, t: jnp.sum((x - 10.0)**2) + 0.01 * jnp.sum(u**2)
  x0 = jnp.array([0.0])
  U0 = jnp.zeros((T, 1))
  solution = ilqr(cost, dynamics, x0, U0, max_iterations=30)
  assert not bool(solution.converged)
  for a in (solution.X, solution.U, solution.K, solution.k, solution.cost):
    assert np.all(np.isfinite(a))
  assert np.all(solution.U <= 0.5) and solution.cost < total_cost(cost, dynamics, x0, U0)
  np.testing.assert_allclose(solution.cost, total_cost(cost, dynamics, x0, solution.U),
                             rtol=1e-5)

  # A start whose own rollout is NaN: nothing is attempted.
  start_nan = ilqr(cost, dynamics, x0, jnp.ones((T, 1)), max_iterations=30)
  assert not bool(start_nan.converged) and int(start_nan.iterations) == 0
  np.testing.assert_array_equal(start_nan.U, jnp.ones((T, 1)))


def test_vmap_over_start_states_equals_separate_calls():
  """Compared at XLA's default optimisation level, the one users run: the suite
  compiles at LLVM level 1 (tests/conftest.py), where the batched float32 kernels
  round differently enough that a start near the stopping tolerance takes 85
  iterations in the batch and 83 alone. Run in a fresh interpreter for that."""
  env = {k: v for k, v in os.environ.items() if k != 'XLA_FLAGS'}
  done = subprocess.run([sys.executable, '-c', 'from tests.planners import test_ilqr; '
                         'test_ilqr.vmap_over_start_states_equals_separate_calls()'],
                        cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
  assert done.returncode == 0, done.stderr[-3000:]


def vmap_over_start_states_equals_separate_calls():
  T = 30
  _, _, dynamics, cost = pendulum_problem(T)
  starts = jnp.array([[-1.0, 0.0, 0.0], [0.0, 1.0, -1.0], [1.0, 0.0, 2.0],
                      [np.cos(2.5), np.sin(2.5), 0.5]])
  U0 = 0.5 * jnp.ones((T, 1))
  plan = lambda x0: ilqr(cost, dynamics, x0, U0, max_iterations=100)
  batched = jax.jit(jax.vmap(plan))(starts)
  assert np.all(batched.converged)
  assert len(set(np.asarray(batched.iterations).tolist())) > 1  # each stops on its own
  for i, x0 in enumerate(starts):
    single = plan(x0)
    assert int(single.iterations) == int(batched.iterations[i])
    for name, a, b in zip(single._fields, single, batched):
      # Batched float32 kernels round differently; the decisions are the same.
      np.testing.assert_allclose(np.asarray(b[i], float), np.asarray(a, float),
                                 rtol=1e-3, atol=1e-3, err_msg=name)


def test_bad_input_raises_one_line_value_error():
  task = envs.make('linear_quadratic').unwrapped
  x0 = jnp.zeros(4)
  cases = [
      (x0, jnp.zeros((0, 2)), task.cost, 'need x0 \\[n\\] and U0 \\[T, m\\]'),  # horizon 0
      (x0, jnp.zeros(2), task.cost, 'need x0 \\[n\\] and U0 \\[T, m\\]'),
      (jnp.zeros(3), jnp.zeros((5, 2)), task.cost, 'dynamics\\(x0 \\(3,\\)'),
      (x0, jnp.zeros((5, 2)), lambda x, u, t: x**2, 'cost\\(x0, u, t\\) has shape'),
  ]
  for x, U, cost, message in cases:
    with pytest.raises(ValueError, match=message) as info:
      ilqr(cost, task.dynamics, x, U)
    assert '\n' not in str(info.value)
  with pytest.raises(ValueError, match='max_iterations >= 1'):
    ilqr(task.cost, task.dynamics, x0, jnp.zeros((5, 2)), max_iterations=0)

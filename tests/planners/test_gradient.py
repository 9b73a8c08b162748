"""Gradient shooting against known maximisers and an exact least-squares LQ solution."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from mbrl_jax import envs
from mbrl_jax.planners import gradient_shooting, rollout_return

TARGET = jnp.array([[0.3, -0.5], [0.1, 0.6], [-0.7, 0.2], [0.5, 0.5], [-0.2, -0.8]])
WEIGHTS = jnp.array([1.0, 3.0])
LOW, HIGH = -jnp.ones(2), jnp.ones(2)


def quadratic(target):
  return lambda a: -jnp.sum((a - target)**2 * WEIGHTS)


@pytest.mark.parametrize('scale', [1.0, 3.0])
def test_reaches_maximiser_of_concave_objective(scale):
  # scale 3 puts most of the target outside the bounds: the (separable) maximiser
  # over the box is then the clipped target, which projection must reach.
  target = TARGET * scale
  objective = quadratic(target)
  result = gradient_shooting(objective, jnp.zeros((5, 2)), LOW, HIGH, steps=200,
                             learning_rate=0.05)
  np.testing.assert_allclose(result.plan, jnp.clip(target, LOW, HIGH), atol=1e-3)
  np.testing.assert_allclose(result.value, objective(result.plan), rtol=1e-6)
  assert int(result.skipped) == 0


def lq_problem(horizon, x0):
  """The LQ task's return as an explicit quadratic in the stacked actions, solved by numpy.

  x_t = A^t x0 + sum_{k<t} A^(t-1-k) B u_k; return = -sum_{t<H} x_t'Q x_t + u_t'R u_t.
  """
  task = envs.make('linear_quadratic').unwrapped
  A, B, Q, R = (np.asarray(m, np.float64) for m in (task.A, task.B, task.Q, task.R))
  n, m = B.shape
  free = np.concatenate([np.linalg.matrix_power(A, t) @ x0 for t in range(horizon)])
  gain = np.zeros((horizon, n, horizon, m))
  for t in range(horizon):
    for k in range(t):
      gain[t, :, k] = np.linalg.matrix_power(A, t - 1 - k) @ B
  gain = gain.reshape(horizon * n, horizon * m)
  Qs, Rs = np.kron(np.eye(horizon), Q), np.kron(np.eye(horizon), R)
  u_star = np.linalg.solve(gain.T @ Qs @ gain + Rs, -gain.T @ Qs @ free)
  x = free + gain @ u_star
  best = -(x @ Qs @ x + u_star @ Rs @ u_star)
  return task, u_star.reshape(horizon, m), best


def test_linear_quadratic_reaches_exact_optimum():
  horizon, x0 = 20, np.array([1.0, -0.5, -0.8, 0.3])
  task, u_star, best = lq_problem(horizon, x0)
  objective = lambda a: rollout_return(task.dynamics, task.reward_fn,
                                       jnp.asarray(x0, jnp.float32), a)
  np.testing.assert_allclose(objective(jnp.asarray(u_star, jnp.float32)), best, rtol=1e-5)
  low, high = task.action_bounds  # infinite: unconstrained
  result = jax.jit(lambda a: gradient_shooting(objective, a, low, high, steps=300,
                                               learning_rate=0.3))(jnp.zeros((horizon, 2)))
  # Seen: return within 1e-6 of the optimum, actions within 3e-4 (|u*| up to 5.3);
  # from zero actions the gap starts at 5.2.
  np.testing.assert_allclose(result.value, best, rtol=1e-4)
  np.testing.assert_allclose(result.plan, u_star, atol=0.01)


def test_nan_gradients_are_skipped_and_counted():
  # sqrt(0.2 - a[0, 0]) is NaN (value and gradient) once a[0, 0] passes 0.2 on its
  # way to the target 0.5; adam's bounded step size takes it there.
  objective = lambda a: quadratic(TARGET.at[0, 0].set(0.5))(a) + 1e-3 * jnp.sqrt(0.2 - a[0, 0])
  init = jnp.zeros((5, 2))
  steps = 100
  result = gradient_shooting(objective, init, LOW, HIGH, steps=steps, learning_rate=0.05)
  assert bool(jnp.all(jnp.isfinite(result.plan))) and np.isfinite(result.value)
  assert 0 < int(result.skipped) < steps
  assert float(result.plan[0, 0]) <= 0.2 and float(result.value) > float(objective(init))
  np.testing.assert_allclose(result.value, objective(result.plan), rtol=1e-6)


def test_restarts_escape_a_local_maximum_and_match_vmap():
  # Per entry: -(a^2 - 1)^2 + 0.3 a has a local max near -1 and the global near +1.
  objective = lambda a: jnp.sum(-(a**2 - 1)**2 + 0.3 * a)
  low, high = -2 * jnp.ones(1), 2 * jnp.ones(1)
  init = -jnp.ones((1, 1))
  single = gradient_shooting(objective, init, low, high, steps=100)
  multi = gradient_shooting(objective, init, low, high, steps=100,
                            key=jax.random.PRNGKey(0), num_restarts=8)
  assert float(single.plan[0, 0]) < 0 and float(multi.plan[0, 0]) > 0.9
  assert float(multi.value) > float(single.value)
  # The batched restarts equal separate runs from the same starts.
  noise = jax.random.normal(jax.random.PRNGKey(0), (7, 1, 1))
  starts = jnp.concatenate([init[None], init + 1.0 * noise])  # default std: range / 4
  values = [gradient_shooting(objective, s, low, high, steps=100).value for s in starts]
  np.testing.assert_allclose(multi.value, max(values), rtol=1e-5)


def test_custom_optimizer():
  objective = quadratic(TARGET)
  result = gradient_shooting(objective, jnp.zeros((5, 2)), LOW, HIGH, steps=100,
                             optimizer=optax.sgd(0.1))
  np.testing.assert_allclose(result.plan, TARGET, atol=1e-4)  # contraction 1 - 0.2 w per step


@pytest.mark.parametrize('kwargs,match', [
    (dict(init_actions=jnp.zeros((0, 2))), r'\(0, 2\)'),
    (dict(init_actions=jnp.zeros(5)), r'\(5,\)'),
    (dict(steps=0), 'steps=0'),
    (dict(num_restarts=0), 'num_restarts=0'),
    (dict(num_restarts=3), 'needs a key'),
])
def test_bad_inputs(kwargs, match):
  args = dict(init_actions=jnp.zeros((5, 2))) | kwargs
  with pytest.raises(ValueError, match=match):
    gradient_shooting(lambda a: a.sum(), action_low=LOW, action_high=HIGH, **args)

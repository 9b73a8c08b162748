"""Random shooting finds the maximiser of a known objective; batched = per call."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mbrl_jax import envs
from mbrl_jax.planners import random_shooting, rollout_return


def test_random_shooting_approaches_known_maximiser():
  target = jnp.array([[0.5, -0.2]])  # horizon 1, two actions
  objective = lambda a: -jnp.sum((a - target)**2)
  low, high = -jnp.ones(2), jnp.ones(2)
  errors = []
  for population in (10, 100, 10_000):
    plan, value = random_shooting(objective, jax.random.PRNGKey(0), low, high, 1, population)
    np.testing.assert_allclose(value, objective(plan), rtol=1e-6)
    errors.append(float(jnp.abs(plan - target).max()))
  assert errors[-1] < 0.05 and errors[-1] <= errors[0]


def test_batched_plans_equal_separate_calls():
  task = envs.make('pendulum').unwrapped
  starts = jnp.array([[1.0, 0.0, 0.0], [-1.0, 0.0, 1.0], [0.0, 1.0, -2.0]])
  keys = jax.random.split(jax.random.PRNGKey(1), 3)
  low, high = task.action_bounds

  def plan(obs, key):
    objective = lambda a: rollout_return(task.dynamics, task.reward_fn, obs, a)
    return random_shooting(objective, key, low, high, 10, 64)

  batched = jax.jit(jax.vmap(plan))(starts, keys)
  for i in range(3):
    single = jax.jit(plan)(starts[i], keys[i])
    np.testing.assert_allclose(batched[0][i], single[0], rtol=1e-6)
    np.testing.assert_allclose(batched[1][i], single[1], rtol=1e-5)


def test_nan_returns_are_never_chosen():
  objective = lambda a: jnp.where(a[0, 0] > 0, jnp.nan, a[0, 0])
  plan, value = random_shooting(objective, jax.random.PRNGKey(2), -jnp.ones(1), jnp.ones(1),
                                1, 50)
  assert float(plan[0, 0]) <= 0 and np.isfinite(value)


def test_rollout_return_stops_counting_after_termination():
  dynamics = lambda obs, a, t: obs + 1.0
  reward_fn = lambda obs, a, nxt: jnp.ones(())
  termination_fn = lambda obs, a, nxt: (nxt[0] >= 3.0).astype(jnp.float32)
  total = rollout_return(dynamics, reward_fn, jnp.zeros(1), jnp.zeros((10, 1)), termination_fn)
  assert float(total) == 3.0  # steps to 1, 2, 3; the third ends the episode


@pytest.mark.parametrize('horizon,population', [(0, 10), (5, 0)])
def test_bad_sizes(horizon, population):
  with pytest.raises(ValueError, match='horizon >= 1 and population >= 1'):
    random_shooting(lambda a: a.sum(), jax.random.PRNGKey(0), -jnp.ones(1), jnp.ones(1),
                    horizon, population)

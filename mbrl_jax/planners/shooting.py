"""Sampling-based planners over action sequences ("shooting").

A planner maximises `objective(actions [horizon, act]) -> return` for one start
state; batch it over start states with `jax.vmap`.
"""

from typing import Callable, Tuple

import jax
import jax.numpy as jnp

Objective = Callable[[jax.Array], jax.Array]


def check_sizes(horizon: int, population: int) -> None:
  if int(horizon) < 1 or int(population) < 1:
    raise ValueError(f'planner needs horizon >= 1 and population >= 1, got '
                     f'horizon={horizon}, population={population}.')


def random_shooting(objective: Objective, key: jax.Array, action_low: jax.Array,
                    action_high: jax.Array, horizon: int, population: int
                    ) -> Tuple[jax.Array, jax.Array]:
  """The best of `population` uniformly drawn action sequences.

  Returns (actions [horizon, act], their return). A sequence whose return is NaN
  is never chosen; if all are NaN the first sequence is returned with return NaN.
  """
  check_sizes(horizon, population)
  shape = (population, horizon, jnp.shape(action_low)[-1])
  candidates = jax.random.uniform(key, shape, minval=action_low, maxval=action_high)
  returns = jax.vmap(objective)(candidates)
  best = jnp.argmax(jnp.where(jnp.isnan(returns), -jnp.inf, returns))
  return candidates[best], returns[best]

"""Policy evaluation on fresh episodes, compiled as one scan over a vmapped env."""

from typing import Any, Callable

import jax
import jax.numpy as jnp

from mbrl_jax import data


def make_evaluator(env, make_policy: Callable, num_episodes: int
                   ) -> Callable[[Any, jax.Array], jax.Array]:
  """evaluate(params, key) -> mean undiscounted return of `num_episodes` episodes.

  Each episode runs from a fresh reset until its first `done` (termination or the
  env's episode limit); the deterministic policy is used.
  """
  episode_length = env.episode_length

  def evaluate(params, key):
    policy = jax.vmap(make_policy(params, True))
    reset_key, key = jax.random.split(key)
    state = data.reset(env, reset_key, num_episodes)

    def step(carry, step_key):
      state, alive, total = carry
      action = policy(state.obs, jax.random.split(step_key, num_episodes))
      state = jax.vmap(env.step)(state, action)
      total = total + alive * state.reward
      alive = alive * (1.0 - state.done)
      return (state, alive, total), None

    ones = jnp.ones(num_episodes)
    (_, _, total), _ = jax.lax.scan(step, (state, ones, 0.0 * ones),
                                    jax.random.split(key, episode_length))
    return total.mean()

  return evaluate

"""The return of an action sequence from a start observation, under a model."""

from typing import Optional

import jax
import jax.numpy as jnp

from mbrl_jax.core.types import Dynamics, RewardFn


def rollout_return(dynamics: Dynamics, reward_fn: RewardFn, obs: jax.Array,
                   actions: jax.Array, termination_fn: Optional[RewardFn] = None
                   ) -> jax.Array:
  """Sum of rewards of `actions` [horizon, act] applied from `obs`.

  Rewards after a termination are dropped (the episode would have ended there).
  Differentiable in `obs` and `actions`.
  """
  def step(carry, inputs):
    obs, alive = carry
    t, action = inputs
    next_obs = dynamics(obs, action, t)
    reward = alive * reward_fn(obs, action, next_obs)
    if termination_fn is not None:
      alive = alive * (1.0 - termination_fn(obs, action, next_obs))
    return (next_obs, alive), reward

  steps = jnp.arange(actions.shape[0])
  _, rewards = jax.lax.scan(step, (obs, jnp.ones((), obs.dtype)), (steps, actions))
  return rewards.sum()

"""What agents need of an env before acting in it: initial states, action bounds,
an example transition (to shape buffers) and a uniform random policy."""

from typing import Tuple

import jax
import jax.numpy as jnp
import numpy as np
from brax.envs.base import Env, State

from mbrl_jax.core.types import Policy, Transition


def episode_decisions(env: Env) -> int:
  """Agent steps (decisions) in one episode: brax's EpisodeWrapper counts
  `episode_length` in env steps and advances `action_repeat` of them per decision."""
  repeat = getattr(env, 'action_repeat', 1)
  return -(-env.episode_length // repeat)


def example_transition(env: Env) -> Transition:
  """A zero transition of the env's shapes (to initialise buffers)."""
  zero = jnp.zeros((), jnp.float32)
  obs, action = jnp.zeros(env.observation_size), jnp.zeros(env.action_size)
  return Transition(obs=obs, action=action, reward=zero, next_obs=obs, done=zero,
                    truncation=zero)


def action_bounds(env: Env) -> Tuple[np.ndarray, np.ndarray]:
  """The task's bounds, [-1, 1] for Brax envs; infinite bounds sample in [-1, 1]."""
  low, high = getattr(env.unwrapped, 'action_bounds',
                      (-np.ones(env.action_size), np.ones(env.action_size)))
  low = np.where(np.isfinite(low), low, -1.0).astype(np.float32)
  high = np.where(np.isfinite(high), high, 1.0).astype(np.float32)
  return low, high


def random_policy(env: Env) -> Policy:
  """Uniform random actions within the env's bounds."""
  low, high = action_bounds(env)

  def policy(obs, key):
    del obs
    return jax.random.uniform(key, low.shape, minval=low, maxval=high)

  return policy


def reset(env: Env, key: jax.Array, num_envs: int) -> State:
  """A batch of `num_envs` independent initial states."""
  return jax.vmap(env.reset)(jax.random.split(key, num_envs))


def reset_to(env: Env, key: jax.Array, obs: jax.Array) -> State:
  """A batch of initial states at the given observations [N, obs] (JAX-native tasks,
  whose observation is their whole state; the rest of each state from a reset)."""
  return reset(env, key, obs.shape[0]).replace(obs=obs)

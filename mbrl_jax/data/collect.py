"""Roll a policy out in a batch of envs: one jitted lax.scan over a vmapped step."""

from typing import Any, Tuple

import jax
import jax.numpy as jnp
import numpy as np
from brax.envs.base import Env, State

from mbrl_jax.types import ParamPolicy, Transition


def step_transition(obs: jax.Array, action: jax.Array, next_state: State) -> Transition:
  """The transition of a step from `obs`, read off the state the step returned (its
  true next observation even when auto-reset has started a new episode)."""
  info = next_state.info
  return Transition(
      obs=obs, action=action, reward=next_state.reward,
      next_obs=info.get('next_obs', next_state.obs), done=next_state.done,
      truncation=info.get('truncation', jnp.zeros_like(next_state.done)),
      episode_return=info['episode_metrics']['sum_reward'])


def episode_metrics(tr: Transition) -> dict:
  """Mean return of the episodes that ended within `tr` (NaN if none), their
  count, and the mean reward per step."""
  episodes = tr.done.sum()
  mean_return = jnp.where(episodes > 0, (tr.episode_return * tr.done).sum() / episodes,
                          jnp.nan)
  return {'episode_return': mean_return, 'episodes': episodes, 'reward': tr.reward.mean()}


def example_transition(env: Env) -> Transition:
  """A zero transition of the env's shapes (to initialise buffers)."""
  zero = jnp.zeros((), jnp.float32)
  obs, action = jnp.zeros(env.observation_size), jnp.zeros(env.action_size)
  return Transition(obs=obs, action=action, reward=zero, next_obs=obs, done=zero,
                    truncation=zero, episode_return=zero)


def action_bounds(env: Env) -> Tuple[np.ndarray, np.ndarray]:
  """The task's bounds, [-1, 1] for Brax envs; infinite bounds sample in [-1, 1]."""
  low, high = getattr(env.unwrapped, 'action_bounds',
                      (-np.ones(env.action_size), np.ones(env.action_size)))
  low = np.where(np.isfinite(low), low, -1.0).astype(np.float32)
  high = np.where(np.isfinite(high), high, 1.0).astype(np.float32)
  return low, high


def random_policy(env: Env) -> ParamPolicy:
  """Uniform random actions within the env's bounds; ignores params."""
  low, high = action_bounds(env)

  def policy(params, obs, key):
    del params, obs
    return jax.random.uniform(key, low.shape, minval=low, maxval=high)

  return policy


def reset(env: Env, key: jax.Array, num_envs: int) -> State:
  """A batch of `num_envs` independent initial states."""
  return jax.vmap(env.reset)(jax.random.split(key, num_envs))


def collect(env: Env, policy: ParamPolicy, params: Any, env_state: State,
            key: jax.Array, num_steps: int) -> Tuple[State, Transition]:
  """Steps a batch of envs `num_steps` times; returns the new state and
  transitions of shape [num_steps, num_envs, ...].

  The env should come from `mbrl_jax.envs.make` (episode limit and auto-reset):
  a finished episode restarts from a fresh random state within the same scan.
  Jit it with `env`, `policy` and `num_steps` static, e.g.
  `jax.jit(collect, static_argnums=(0, 1, 5))`.
  """
  num_envs = env_state.obs.shape[0]
  act = jax.vmap(policy, in_axes=(None, 0, 0))
  step = jax.vmap(env.step)

  def one_step(state, step_key):
    action = act(params, state.obs, jax.random.split(step_key, num_envs))
    next_state = step(state, action)
    return next_state, step_transition(state.obs, action, next_state)

  return jax.lax.scan(one_step, env_state, jax.random.split(key, num_steps))

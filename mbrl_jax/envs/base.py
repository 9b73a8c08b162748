"""The base class of the JAX-native tasks.

A task is a brax `Env` whose observation is its full Markov state, so that one
function `dynamics(obs, action)` is both the simulator and the true model a
planner may use. Reward and termination are pure functions of
(obs, action, next_obs), the form learned-model rollouts need; `cost(x, u, t)` is
the same reward seen by optimal-control planners (trajax convention).
"""

from typing import Callable, Optional, Tuple

import jax
import jax.numpy as jnp
import numpy as np
from brax.envs.base import Env, State


class Task(Env):
  """A deterministic control task with known physics, written in JAX."""

  # Subclasses set these in __init__.
  obs_size: int
  act_size: int
  action_low: np.ndarray
  action_high: np.ndarray
  episode_length: int  # the task's standard horizon; `make` wraps with it

  # --- what each task defines -------------------------------------------------
  def initial_obs(self, rng: jax.Array) -> jax.Array:
    raise NotImplementedError

  def dynamics(self, obs: jax.Array, action: jax.Array, t=0) -> jax.Array:
    """Next observation after applying the (already clipped) action."""
    raise NotImplementedError

  def reward_fn(self, obs, action, next_obs) -> jax.Array:
    raise NotImplementedError

  def termination_fn(self, obs, action, next_obs) -> jax.Array:
    """1.0 where the episode ends by failure/success; none of our tasks do."""
    del action, next_obs
    return jnp.zeros(jnp.shape(obs)[:-1])

  # --- derived -----------------------------------------------------------------
  def clip_action(self, action: jax.Array) -> jax.Array:
    return jnp.clip(action, self.action_low, self.action_high)

  def cost(self, x: jax.Array, u: jax.Array, t=0) -> jax.Array:
    """Stage cost for optimal control: minus the reward of applying u in x."""
    u = self.clip_action(u)
    return -self.reward_fn(x, u, self.dynamics(x, u, t))

  def reset(self, rng: jax.Array) -> State:
    obs = self.initial_obs(rng)
    zero = jnp.zeros((), obs.dtype)
    return State(pipeline_state=None, obs=obs, reward=zero, done=zero)

  def step(self, state: State, action: jax.Array) -> State:
    action = self.clip_action(action)
    next_obs = self.dynamics(state.obs, action)
    reward = self.reward_fn(state.obs, action, next_obs)
    done = self.termination_fn(state.obs, action, next_obs).astype(reward.dtype)
    return state.replace(obs=next_obs, reward=reward, done=done)

  @property
  def observation_size(self) -> int:
    return self.obs_size

  @property
  def action_size(self) -> int:
    return self.act_size

  @property
  def backend(self) -> str:
    return 'jax'

  @property
  def action_bounds(self) -> Tuple[np.ndarray, np.ndarray]:
    return self.action_low, self.action_high


def rk4(deriv, state: jax.Array, dt: float) -> jax.Array:
  """One classical Runge-Kutta step of d(state)/dt = deriv(state)."""
  k1 = deriv(state)
  k2 = deriv(state + 0.5 * dt * k1)
  k3 = deriv(state + 0.5 * dt * k2)
  k4 = deriv(state + dt * k3)
  return state + dt / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)


def over_leading_dims(step: Callable, obs: jax.Array, action: jax.Array) -> jax.Array:
  """step(obs [n], action [m]) applied over any leading batch dimensions of obs and
  action (a vmap per dimension): the tasks' `dynamics` for one step or a batch."""
  for _ in range(obs.ndim - 1):
    step = jax.vmap(step)
  return step(obs, action)


def bounds(low, high, size: int) -> Tuple[np.ndarray, np.ndarray]:
  """Broadcast scalar action bounds to float32 vectors."""
  low = np.broadcast_to(np.asarray(low, np.float32), (size,)).copy()
  high = np.broadcast_to(np.asarray(high, np.float32), (size,)).copy()
  if np.any(low >= high):
    raise ValueError(f'action bounds need low < high, got low={low}, high={high}.')
  return low, high


def task_of(env) -> Optional['Task']:
  """The JAX-native task under an env's wrappers (its pure dynamics, reward and
  termination functions), or None for an env without them (Brax) and for a task
  seen through a wrapper whose observation is not its state (pixels)."""
  layer = env
  while True:
    if getattr(layer, 'observes_pixels', False):
      return None
    if not hasattr(layer, 'env'):
      return layer if isinstance(layer, Task) else None
    layer = layer.env


def pure_functions(env) -> Tuple[Optional[Callable], Optional[Callable]]:
  """(reward_fn, termination_fn) of (obs, action, next_obs) that an env offers, None
  for what it lacks: a JAX-native task has both; a DM Control task (playground.DmcEnv)
  has the termination (none) and, where its reward reads only the observation, the
  reward; Brax envs what envs/brax_functions.py gives them (hopper, walker2d,
  halfcheetah: the termination; inverted_pendulum: both); tasks seen through pixels
  have neither."""
  task = task_of(env)
  if task is not None:
    return task.reward_fn, task.termination_fn
  layer = env
  while hasattr(layer, 'env'):
    if getattr(layer, 'observes_pixels', False):
      return None, None
    layer = layer.env
  return getattr(layer, 'reward_fn', None), getattr(layer, 'termination_fn', None)

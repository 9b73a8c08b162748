"""A point mass in the plane pushed towards a goal.

State and observation (x, y, vx, vy); action a force in [-1, 1]^2 on a unit mass;
semi-implicit Euler with dt = 0.05, so the dynamics are linear; reward
-|p - goal|^2 - 0.01 |u|^2; 100 steps; start at rest, position ~ U(-1, 1)^2.
"""

import jax
import jax.numpy as jnp
import numpy as np

from mbrl_jax.envs.base import Task, bounds


class PointMass(Task):

  def __init__(self, goal=(0.0, 0.0), dt: float = 0.05, mass: float = 1.0,
               max_force: float = 1.0, control_cost: float = 0.01):
    self.goal = np.asarray(goal, np.float32)
    if self.goal.shape != (2,):
      raise ValueError(f'goal must be two numbers (x, y), got {goal!r}.')
    self.dt, self.mass, self.control_cost = dt, mass, control_cost
    self.obs_size, self.act_size, self.episode_length = 4, 2, 100
    self.action_low, self.action_high = bounds(-max_force, max_force, 2)

  def initial_obs(self, rng):
    pos = jax.random.uniform(rng, (2,), minval=-1.0, maxval=1.0)
    return jnp.concatenate([pos, jnp.zeros(2)])

  def dynamics(self, obs, action, t=0):
    vel = obs[..., 2:] + action * self.dt / self.mass
    pos = obs[..., :2] + vel * self.dt
    return jnp.concatenate([pos, vel], axis=-1)

  def reward_fn(self, obs, action, next_obs):
    del next_obs
    dist2 = jnp.sum((obs[..., :2] - self.goal)**2, axis=-1)
    return -dist2 - self.control_cost * jnp.sum(action**2, axis=-1)

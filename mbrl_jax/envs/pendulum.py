"""Pendulum swing-up with the dynamics, reward and bounds of gym's Pendulum-v1.

Observation (cos th, sin th, th_dot) with th = 0 upright; torque in [-2, 2];
reward -(th^2 + 0.1 th_dot^2 + 0.001 u^2) with th wrapped to [-pi, pi];
200 steps; start th ~ U(-pi, pi), th_dot ~ U(-1, 1).
"""

import jax
import jax.numpy as jnp

from mbrl_jax.envs.base import Task, bounds


class Pendulum(Task):

  def __init__(self, max_torque: float = 2.0, max_speed: float = 8.0,
               dt: float = 0.05, g: float = 10.0, m: float = 1.0, l: float = 1.0):
    self.max_speed, self.dt, self.g, self.m, self.l = max_speed, dt, g, m, l
    self.obs_size, self.act_size, self.episode_length = 3, 1, 200
    self.action_low, self.action_high = bounds(-max_torque, max_torque, 1)

  def initial_obs(self, rng):
    k1, k2 = jax.random.split(rng)
    th = jax.random.uniform(k1, (), minval=-jnp.pi, maxval=jnp.pi)
    th_dot = jax.random.uniform(k2, (), minval=-1.0, maxval=1.0)
    return jnp.stack([jnp.cos(th), jnp.sin(th), th_dot])

  def dynamics(self, obs, action, t=0):
    th = jnp.arctan2(obs[..., 1], obs[..., 0])
    u = action[..., 0]
    th_dot = obs[..., 2] + (3 * self.g / (2 * self.l) * jnp.sin(th)
                            + 3.0 / (self.m * self.l**2) * u) * self.dt
    th_dot = jnp.clip(th_dot, -self.max_speed, self.max_speed)
    th = th + th_dot * self.dt
    return jnp.stack([jnp.cos(th), jnp.sin(th), th_dot], axis=-1)

  def reward_fn(self, obs, action, next_obs):
    del next_obs
    th = jnp.arctan2(obs[..., 1], obs[..., 0])  # already in [-pi, pi]
    return -(th**2 + 0.1 * obs[..., 2]**2 + 0.001 * action[..., 0]**2)

"""Acrobot swing-up with continuous torque.

The two-link underactuated pendulum of Sutton & Barto and gym's Acrobot-v1 (the
"book" equations: unit masses and lengths, centres of mass at 0.5, unit inertias,
g = 9.8, one RK4 step of 0.2 s, velocities clipped to 4 pi and 9 pi), with the
discrete torque {-1, 0, 1} on the elbow made continuous in [-1, 1]. The goal
is to swing up and hold: reward is the tip height over the two link lengths,
(-cos th1 - cos(th1 + th2)) / 2 in [-1, 1]; no termination; 200 steps.
Observation (cos th1, sin th1, cos th2, sin th2, th1_dot, th2_dot) with th = 0
hanging down; start with all four state values ~ U(-0.1, 0.1).
"""

import jax
import jax.numpy as jnp

from mbrl_jax.envs.base import Task, bounds, over_leading_dims, rk4


class AcrobotSwingup(Task):

  def __init__(self, dt: float = 0.2, max_torque: float = 1.0):
    self.dt = dt
    self.m1 = self.m2 = 1.0
    self.l1 = 1.0
    self.lc1 = self.lc2 = 0.5
    self.i1 = self.i2 = 1.0
    self.g = 9.8
    self.max_vel1, self.max_vel2 = 4 * jnp.pi, 9 * jnp.pi
    self.obs_size, self.act_size, self.episode_length = 6, 1, 200
    self.action_low, self.action_high = bounds(-max_torque, max_torque, 1)

  def initial_obs(self, rng):
    th1, th2, v1, v2 = jax.random.uniform(rng, (4,), minval=-0.1, maxval=0.1)
    return jnp.stack([jnp.cos(th1), jnp.sin(th1), jnp.cos(th2), jnp.sin(th2), v1, v2])

  def _deriv(self, state, torque):
    th1, th2, v1, v2 = state
    m1, m2, l1, lc1, lc2, i1, i2, g = (self.m1, self.m2, self.l1, self.lc1,
                                        self.lc2, self.i1, self.i2, self.g)
    d1 = m1 * lc1**2 + m2 * (l1**2 + lc2**2 + 2 * l1 * lc2 * jnp.cos(th2)) + i1 + i2
    d2 = m2 * (lc2**2 + l1 * lc2 * jnp.cos(th2)) + i2
    phi2 = m2 * lc2 * g * jnp.cos(th1 + th2 - jnp.pi / 2)
    phi1 = (-m2 * l1 * lc2 * v2**2 * jnp.sin(th2)
            - 2 * m2 * l1 * lc2 * v2 * v1 * jnp.sin(th2)
            + (m1 * lc1 + m2 * l1) * g * jnp.cos(th1 - jnp.pi / 2) + phi2)
    acc2 = ((torque + d2 / d1 * phi1 - m2 * l1 * lc2 * v1**2 * jnp.sin(th2) - phi2)
            / (m2 * lc2**2 + i2 - d2**2 / d1))
    acc1 = -(d2 * acc2 + phi1) / d1
    return jnp.stack([v1, v2, acc1, acc2])

  def _single_dynamics(self, obs, action):
    th1 = jnp.arctan2(obs[1], obs[0])
    th2 = jnp.arctan2(obs[3], obs[2])
    state = jnp.stack([th1, th2, obs[4], obs[5]])
    th1, th2, v1, v2 = rk4(lambda s: self._deriv(s, action[0]), state, self.dt)
    v1 = jnp.clip(v1, -self.max_vel1, self.max_vel1)
    v2 = jnp.clip(v2, -self.max_vel2, self.max_vel2)
    return jnp.stack([jnp.cos(th1), jnp.sin(th1), jnp.cos(th2), jnp.sin(th2), v1, v2])

  def dynamics(self, obs, action, t=0):
    return over_leading_dims(self._single_dynamics, obs, action)

  def tip_height(self, obs):
    """Height of the tip above the pivot; cos(th1 + th2) from the observation."""
    c1, s1, c2, s2 = obs[..., 0], obs[..., 1], obs[..., 2], obs[..., 3]
    return -c1 - (c1 * c2 - s1 * s2)

  def reward_fn(self, obs, action, next_obs):
    del obs, action
    return self.tip_height(next_obs) / 2.0

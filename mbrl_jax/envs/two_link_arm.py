"""A planar two-link arm (no gravity) reaching a goal with its tip.

Links of mass 1 and length 1, centres of mass at 0.5, inertias 1/12 (thin rods),
joint damping 0.1, torques in [-1, 1]^2, one RK4 step of 0.05 s. The goal is drawn
at reset uniformly in angle and at a radius in [0.5, 1.8] from the shoulder, and
is part of the observation (cos q1, sin q1, cos q2, sin q2, q1_dot, q2_dot, gx, gy).
Reward -|tip - goal|^2 - 0.01 |u|^2; 100 steps; start with q ~ U(-0.1, 0.1)^2 at rest.

`goals` ((gx, gy) pairs) fixes the task to those goals, one drawn uniformly at each
reset, and `joint_noise` sets the start's joint-angle range (0: the arm straight):
guided policy search's "conditions" as a task that any agent can train on.
"""

import jax
import jax.numpy as jnp
import numpy as np

from mbrl_jax.envs.base import Task, bounds, over_leading_dims, rk4


class TwoLinkArm(Task):

  def __init__(self, dt: float = 0.05, max_torque: float = 1.0,
               damping: float = 0.1, control_cost: float = 0.01, goals: tuple = (),
               joint_noise: float = 0.1):
    self.dt, self.damping, self.control_cost = dt, damping, control_cost
    goals = np.asarray(goals, np.float32)
    if goals.size and (goals.ndim != 2 or goals.shape[1] != 2):
      raise ValueError(f'goals must be (x, y) pairs, got an array of shape {goals.shape}.')
    if not joint_noise >= 0:
      raise ValueError(f'joint_noise must be >= 0, got {joint_noise!r}.')
    self.goals, self.joint_noise = (goals if goals.size else None), float(joint_noise)
    self.m1 = self.m2 = 1.0
    self.l1 = self.l2 = 1.0
    self.lc1 = self.lc2 = 0.5
    self.i1 = self.i2 = 1.0 / 12.0
    self.obs_size, self.act_size, self.episode_length = 8, 2, 100
    self.action_low, self.action_high = bounds(-max_torque, max_torque, 2)

  def initial_obs(self, rng):
    kq, kr, ka = jax.random.split(rng, 3)
    q = jax.random.uniform(kq, (2,), minval=-self.joint_noise, maxval=self.joint_noise)
    if self.goals is not None:
      goal = jnp.asarray(self.goals)[jax.random.randint(kr, (), 0, len(self.goals))]
    else:
      radius = jax.random.uniform(kr, (), minval=0.5, maxval=1.8)
      angle = jax.random.uniform(ka, (), minval=-jnp.pi, maxval=jnp.pi)
      goal = radius * jnp.stack([jnp.cos(angle), jnp.sin(angle)])
    zero = jnp.zeros(())
    return jnp.stack([jnp.cos(q[0]), jnp.sin(q[0]), jnp.cos(q[1]), jnp.sin(q[1]),
                      zero, zero, goal[0], goal[1]])

  def _deriv(self, state, torque):
    q2, v1, v2 = state[1], state[2], state[3]
    m2, l1, lc1, lc2 = self.m2, self.l1, self.lc1, self.lc2
    h = m2 * l1 * lc2 * jnp.sin(q2)
    m11 = (self.i1 + self.i2 + self.m1 * lc1**2
           + m2 * (l1**2 + lc2**2 + 2 * l1 * lc2 * jnp.cos(q2)))
    m12 = self.i2 + m2 * (lc2**2 + l1 * lc2 * jnp.cos(q2))
    m22 = self.i2 + m2 * lc2**2
    # Coriolis and centrifugal terms, moved to the right-hand side.
    f1 = torque[0] + h * (2 * v1 * v2 + v2**2) - self.damping * v1
    f2 = torque[1] - h * v1**2 - self.damping * v2
    det = m11 * m22 - m12 * m12
    return jnp.stack([v1, v2, (m22 * f1 - m12 * f2) / det, (m11 * f2 - m12 * f1) / det])

  def _single_dynamics(self, obs, action):
    q1 = jnp.arctan2(obs[1], obs[0])
    q2 = jnp.arctan2(obs[3], obs[2])
    state = jnp.stack([q1, q2, obs[4], obs[5]])
    q1, q2, v1, v2 = rk4(lambda s: self._deriv(s, action), state, self.dt)
    return jnp.stack([jnp.cos(q1), jnp.sin(q1), jnp.cos(q2), jnp.sin(q2), v1, v2,
                      obs[6], obs[7]])

  def dynamics(self, obs, action, t=0):
    return over_leading_dims(self._single_dynamics, obs, action)

  def tip_position(self, obs):
    c1, s1, c2, s2 = obs[..., 0], obs[..., 1], obs[..., 2], obs[..., 3]
    c12, s12 = c1 * c2 - s1 * s2, s1 * c2 + c1 * s2
    return jnp.stack([self.l1 * c1 + self.l2 * c12, self.l1 * s1 + self.l2 * s12], -1)

  def reward_fn(self, obs, action, next_obs):
    del next_obs
    dist2 = jnp.sum((self.tip_position(obs) - obs[..., 6:8])**2, axis=-1)
    return -dist2 - self.control_cost * jnp.sum(action**2, axis=-1)


def _polar(degrees: float, radius: float) -> tuple:
  return (round(radius * float(np.cos(np.radians(degrees))), 4),
          round(radius * float(np.sin(np.radians(degrees))), 4))


# Guided policy search's conditions on this arm: four training goals in front of the
# shoulder, and four held-out goals between them (in angle; radii within the
# training goals' 1.35 to 1.61).
TRAIN_GOALS = ((1.2, 0.8), (1.4, -0.5), (0.9, -1.0), (1.6, 0.2))
HELD_OUT_GOALS = (_polar(-34.0, 1.42), _polar(-6.3, 1.55), _polar(20.4, 1.52), _polar(-12.0, 1.45))


def straight_starts(goals) -> jax.Array:
  """Observations [len(goals), 8] of the arm straight along x, at rest, one per goal."""
  goals = jnp.asarray(goals, jnp.float32)
  arm = jnp.array([1.0, 0.0, 1.0, 0.0, 0.0, 0.0], jnp.float32)
  return jnp.concatenate([jnp.broadcast_to(arm, (goals.shape[0], 6)), goals], axis=1)

"""A discrete-time linear system with quadratic cost, for checks against LQR.

x' = A x + B u; reward -(x'Qx + u'Ru) on the current state; actions unbounded;
start x ~ U(-1, 1)^n; 50 steps. The default is two double integrators (position
and velocity, dt = 0.1) driven by one force each.
"""

import jax
import jax.numpy as jnp
import numpy as np

from mbrl_jax.envs.base import Task, bounds

_DT = 0.1
_A = np.array([[1, _DT, 0, 0], [0, 1, 0, 0], [0, 0, 1, _DT], [0, 0, 0, 1]])
_B = np.array([[_DT**2 / 2, 0], [_DT, 0], [0, _DT**2 / 2], [0, _DT]])
_Q = np.diag([1.0, 0.1, 1.0, 0.1])
_R = 0.01 * np.eye(2)


class LinearQuadratic(Task):

  def __init__(self, A=_A, B=_B, Q=_Q, R=_R, episode_length: int = 50):
    A, B, Q, R = (np.asarray(m, np.float32) for m in (A, B, Q, R))
    n = A.shape[0] if A.ndim == 2 else -1
    m = B.shape[1] if B.ndim == 2 else -1
    expected = {'A': (n, n), 'B': (n, m), 'Q': (n, n), 'R': (m, m)}
    for name, mat in zip('ABQR', (A, B, Q, R)):
      if n < 1 or m < 1 or mat.shape != expected[name]:
        raise ValueError(f'linear_quadratic: {name} has shape {mat.shape}; need A (n, n), '
                         f'B (n, m), Q (n, n), R (m, m) with n, m >= 1.')
    self.A, self.B, self.Q, self.R = A, B, Q, R
    self.obs_size, self.act_size, self.episode_length = n, m, episode_length
    self.action_low, self.action_high = bounds(-np.inf, np.inf, m)

  def initial_obs(self, rng):
    return jax.random.uniform(rng, (self.obs_size,), minval=-1.0, maxval=1.0)

  def dynamics(self, obs, action, t=0):
    return obs @ self.A.T + action @ self.B.T

  def reward_fn(self, obs, action, next_obs):
    del next_obs
    return -(jnp.einsum('...i,ij,...j->...', obs, self.Q, obs)
             + jnp.einsum('...i,ij,...j->...', action, self.R, action))

"""Pure reward functions reward_fn(obs, action, next_obs) of the DM Control tasks whose
reward is a function of the observation (MuJoCo Playground's definitions, read off
its task modules; tests/envs/test_playground.py checks each function against the
env's own reward along random episodes).

The other tasks' rewards read simulator quantities that the observation does not
carry (CheetahRun: the torso subtree's linear velocity; the walkers: heights and
torso orientation), so agents learn them (config.model.learn_reward). No DM Control
task terminates: Playground's `done` flags only NaN states.
"""

from typing import Callable, Dict

import jax.numpy as jnp


def _tolerance():
  # Imported on use: playground is an optional dependency.
  from mujoco_playground._src.reward import tolerance
  return tolerance


def _cartpole_dense(env) -> Callable:
  del env
  tolerance = _tolerance()

  def reward_fn(obs, action, next_obs):
    del obs  # obs: [cart x, cos, sin, cart velocity, pole angular velocity]
    upright = (next_obs[..., 1] + 1) / 2
    centered = (1 + tolerance(next_obs[..., 0], margin=2)) / 2
    small_control = (4 + tolerance(action[..., 0], margin=1, value_at_margin=0,
                                   sigmoid='quadratic')) / 5
    small_velocity = (1 + tolerance(next_obs[..., 4], margin=5)) / 2
    return upright * centered * small_control * small_velocity
  return reward_fn


def _cartpole_sparse(env) -> Callable:
  tolerance = _tolerance()
  cart_range, cos_range = env._CART_RANGE, env._ANGLE_COSINE_RANGE

  def reward_fn(obs, action, next_obs):
    del obs, action
    return tolerance(next_obs[..., 0], cart_range) * tolerance(next_obs[..., 1], cos_range)
  return reward_fn


def _reacher(env) -> Callable:
  tolerance = _tolerance()
  radii = float(env._radii)  # target + finger radius

  def reward_fn(obs, action, next_obs):
    del obs, action  # obs: [2 joint angles, finger-to-target (x, y), 2 velocities]
    return tolerance(jnp.linalg.norm(next_obs[..., 2:4], axis=-1), (0.0, radii))
  return reward_fn


def _pendulum(env) -> Callable:
  del env
  tolerance = _tolerance()
  from mujoco_playground._src.dm_control_suite import pendulum
  cosine_bound = float(pendulum._COSINE_BOUND)  # within 8 degrees of upright

  def reward_fn(obs, action, next_obs):
    del obs, action  # obs: [pole xz, pole zz, angular velocity]
    return tolerance(next_obs[..., 1], (cosine_bound, 1.0))
  return reward_fn


# task name -> (Playground env -> reward_fn)
REWARD_FNS: Dict[str, Callable] = {
    'CartpoleBalance': _cartpole_dense,
    'CartpoleSwingup': _cartpole_dense,
    'CartpoleBalanceSparse': _cartpole_sparse,
    'CartpoleSwingupSparse': _cartpole_sparse,
    'ReacherEasy': _reacher,
    'ReacherHard': _reacher,
    'PendulumSwingup': _pendulum,
}

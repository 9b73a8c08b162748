"""Pure termination (and, where the observation carries it, reward) functions of
(obs, action, next_obs) for Brax envs, read off each env's own settings, so that
model-based agents can end imagined episodes as the simulator would (the MBPO
paper's code hand-writes the same for its MuJoCo tasks).

  hopper, walker2d   unhealthy: torso height or angle out of range (hopper also any
                     position or velocity entry beyond +-100; its observed velocities
                     are clipped at +-10, so that bound is checked on the positions)
  halfcheetah        never ends
  inverted_pendulum  |pole angle| > 0.2; reward 1 per step

`attach(env)` sets them on the brax env instance, where `base.pure_functions`
finds them. Envs not listed keep neither: their models learn what they need.
"""

import jax.numpy as jnp
from brax.envs import half_cheetah, hopper, inverted_pendulum, walker2d


def _inside(x, bounds):
  low, high = bounds
  return (x > low) & (x < high)


def _healthy_posture(env, next_obs):
  """Torso height and angle in the env's healthy ranges: obs holds (x,) z, angle, ..."""
  first = 0 if env._exclude_current_positions_from_observation else 1
  z, angle = next_obs[..., first], next_obs[..., first + 1]
  return _inside(z, env._healthy_z_range) & _inside(angle, env._healthy_angle_range)


def _never(obs, action, next_obs):
  del obs, action
  return jnp.zeros(next_obs.shape[:-1], next_obs.dtype)


def _unhealthy_termination(env, check_positions: bool):
  """Hopper's and Walker2d's: 1.0 where the next state is unhealthy."""
  if not env._terminate_when_unhealthy:
    return _never
  first = 0 if env._exclude_current_positions_from_observation else 1
  num_q = env.sys.q_size()

  def termination_fn(obs, action, next_obs):
    del obs, action
    healthy = _healthy_posture(env, next_obs)
    if check_positions:  # brax checks q[2:] and qd; observed qd are clipped inside it
      positions = next_obs[..., first + 1:first + num_q - 1]
      healthy &= jnp.all(_inside(positions, env._healthy_state_range), axis=-1)
    return jnp.where(healthy, 0.0, 1.0).astype(next_obs.dtype)
  return termination_fn


def _pendulum_termination(obs, action, next_obs):
  del obs, action
  return (jnp.abs(next_obs[..., 1]) > 0.2).astype(next_obs.dtype)


def _pendulum_reward(obs, action, next_obs):
  del obs, action
  return jnp.ones(next_obs.shape[:-1], next_obs.dtype)


def attach(env):
  """Sets `termination_fn` (and `reward_fn` where pure) on a brax env; returns it."""
  if isinstance(env, hopper.Hopper):
    env.termination_fn = _unhealthy_termination(env, check_positions=True)
  elif isinstance(env, walker2d.Walker2d):
    env.termination_fn = _unhealthy_termination(env, check_positions=False)
  elif isinstance(env, half_cheetah.Halfcheetah):
    env.termination_fn = _never
  elif isinstance(env, inverted_pendulum.InvertedPendulum):
    env.termination_fn, env.reward_fn = _pendulum_termination, _pendulum_reward
  return env

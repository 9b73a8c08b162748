"""The pure termination and reward functions of Brax envs (envs/brax_functions.py)
against the simulator's own done flags and rewards, along random-action rollouts."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mbrl_jax import envs
from mbrl_jax.envs.base import pure_functions


def random_rollout(name, steps, num=8, scale=1.0):
  """(obs, actions, next_obs, brax's done, brax's reward), [steps, num, ...], without
  resets (brax keeps stepping past a termination and recomputes done each step)."""
  env = envs.make(name, backend='positional', auto_reset=False)
  raw = env.unwrapped
  def step(state, key):
    action = scale * jax.random.uniform(key, (num, env.action_size), minval=-1, maxval=1)
    nxt = jax.vmap(raw.step)(state, action)
    return nxt, (state.obs, action, nxt.obs, nxt.done, nxt.reward)
  @jax.jit
  def run(key):
    reset_key, key = jax.random.split(key)
    state = jax.vmap(raw.reset)(jax.random.split(reset_key, num))
    return jax.lax.scan(step, state, jax.random.split(key, steps))[1]
  return env, run(jax.random.PRNGKey(0))


@pytest.mark.parametrize('name', ['brax/hopper', 'brax/inverted_pendulum'])
def test_termination_fn_is_the_simulators(name):
  env, (obs, action, next_obs, done, reward) = random_rollout(name, 60)
  reward_fn, termination_fn = pure_functions(env)
  ended = np.asarray(termination_fn(obs, action, next_obs))
  assert 0.05 < done.mean() < 0.95  # the random rollouts do end, not at once
  np.testing.assert_array_equal(ended, np.asarray(done))
  if name == 'brax/inverted_pendulum':
    np.testing.assert_array_equal(np.asarray(reward_fn(obs, action, next_obs)), reward)
  else:
    assert reward_fn is None  # hopper's forward reward reads positions not observed


def test_halfcheetah_never_ends_and_unlisted_envs_keep_none():
  env = envs.make('brax/halfcheetah', backend='positional')
  reward_fn, termination_fn = pure_functions(env)
  assert reward_fn is None
  np.testing.assert_array_equal(termination_fn(None, None, jnp.ones((3, 17))), np.zeros(3))
  assert pure_functions(envs.make('brax/ant', backend='positional')) == (None, None)

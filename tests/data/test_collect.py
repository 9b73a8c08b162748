"""Trajectory collection agrees with stepping the task by hand, and restarts
episodes where they end."""

import functools

import jax
import jax.numpy as jnp
import numpy as np

from mbrl_jax import data, envs


def linear_policy(params, obs, key):
  del key
  return jnp.tanh(obs @ params)


def test_transitions_agree_with_task_and_reset_at_episode_ends():
  env = envs.make('pendulum', episode_length=7)
  task = env.unwrapped
  num_envs, num_steps = 4, 20
  collect = jax.jit(data.collect, static_argnums=(0, 1, 5))
  state = data.reset(env, jax.random.key(0), num_envs)
  params = 0.5 * jnp.ones((3, 1))
  state, tr = collect(env, linear_policy, params, state, jax.random.key(1), num_steps)
  assert tr.obs.shape == (num_steps, num_envs, 3)
  assert tr.action.shape == (num_steps, num_envs, 1)
  for leaf in (tr.reward, tr.done, tr.truncation, tr.episode_return):
    assert leaf.shape == (num_steps, num_envs)
  np.testing.assert_allclose(tr.action, jnp.tanh(tr.obs @ params), rtol=1e-6)
  np.testing.assert_allclose(tr.next_obs, task.dynamics(tr.obs, tr.action), rtol=1e-5,
                             atol=1e-6)
  np.testing.assert_allclose(tr.reward, task.reward_fn(tr.obs, tr.action, tr.next_obs),
                             rtol=1e-5)
  # Episodes of 7 steps end at t = 6 and 13, by the time limit.
  ends = np.zeros(num_steps)
  ends[[6, 13]] = 1
  np.testing.assert_array_equal(tr.done, np.broadcast_to(ends[:, None], tr.done.shape))
  np.testing.assert_array_equal(tr.truncation, tr.done)
  # Within an episode each step starts where the last ended; after an end, anew.
  same = np.all(np.isclose(tr.obs[1:], tr.next_obs[:-1]), axis=-1)
  np.testing.assert_array_equal(same, ~tr.done[:-1].astype(bool))
  # The episode return is the running sum of rewards, restarted per episode.
  np.testing.assert_allclose(tr.episode_return[6], tr.reward[:7].sum(0), rtol=1e-5)
  np.testing.assert_allclose(tr.episode_return[13], tr.reward[7:14].sum(0), rtol=1e-5)
  np.testing.assert_allclose(tr.episode_return[16], tr.reward[14:17].sum(0), rtol=1e-5)
  # The returned env state continues the last transition.
  np.testing.assert_array_equal(state.obs, tr.next_obs[-1])


def test_random_policy_stays_in_bounds_and_same_key_same_data():
  env = envs.make('cartpole_swingup')
  policy = data.random_policy(env)
  run = jax.jit(functools.partial(data.collect, env, policy, None, num_steps=50))
  state = data.reset(env, jax.random.key(0), 8)
  _, a = run(state, jax.random.key(1))
  _, b = run(state, jax.random.key(1))
  _, c = run(state, jax.random.key(2))
  np.testing.assert_array_equal(a.obs, b.obs)
  assert not np.allclose(a.action, c.action)
  assert np.all(np.abs(a.action) <= 3.0)
  assert np.abs(a.action).max() > 2.5  # it covers the range, not only near zero
  low, high = data.action_bounds(envs.make('linear_quadratic'))
  np.testing.assert_array_equal(low, -1.0)  # unbounded tasks sample in [-1, 1]
  np.testing.assert_array_equal(high, 1.0)

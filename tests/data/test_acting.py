"""The acting primitive agrees with stepping the task by hand, restarts episodes
where they end, and its helpers (random phase, per-env keys, episode figures)
agree with hand computations."""

import functools

import jax
import jax.numpy as jnp
import numpy as np

from mbrl_jax.data import acting
from mbrl_jax import data, envs
from mbrl_jax.core.types import Transition


def linear_policy(params):
  return lambda obs, key: jnp.tanh(obs @ params)


def test_unroll_agrees_with_task_and_resets_at_episode_ends():
  env = envs.make('pendulum', episode_length=7)
  task = env.unwrapped
  num_envs, num_steps = 4, 20
  params = 0.5 * jnp.ones((3, 1))
  unroll = jax.jit(acting.unroll, static_argnums=(0, 2, 4))
  state = data.reset(env, jax.random.key(0), num_envs)
  state, experience = unroll(env, state, linear_policy(params), jax.random.key(1), num_steps)
  tr = experience.transition
  assert tr.obs.shape == (num_steps, num_envs, 3)
  assert tr.action.shape == (num_steps, num_envs, 1)
  for leaf in (tr.reward, tr.done, tr.truncation, experience.episode_return):
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
  np.testing.assert_allclose(experience.episode_return[6], tr.reward[:7].sum(0), rtol=1e-5)
  np.testing.assert_allclose(experience.episode_return[13], tr.reward[7:14].sum(0), rtol=1e-5)
  np.testing.assert_allclose(experience.episode_return[16], tr.reward[14:17].sum(0), rtol=1e-5)
  # The returned env state continues the last transition.
  np.testing.assert_array_equal(state.obs, tr.next_obs[-1])
  # The episode figures, by hand: 2 episodes ended in each env.
  metrics = acting.episode_metrics(experience)
  assert float(metrics['episodes']) == 2 * num_envs
  by_hand = (tr.reward[:7].sum(0).sum() + tr.reward[7:14].sum(0).sum()) / (2 * num_envs)
  np.testing.assert_allclose(metrics['episode_return'], by_hand, rtol=1e-5)
  np.testing.assert_allclose(acting.first_episode_return(experience), tr.reward[:7].sum(0),
                             rtol=1e-5)


def test_random_policy_stays_in_bounds_and_same_key_same_data():
  env = envs.make('cartpole_swingup')
  policy = acting.per_env(data.random_policy(env))
  run = jax.jit(functools.partial(acting.unroll, env, policy=policy, num_steps=50))
  state = data.reset(env, jax.random.key(0), 8)
  _, a = run(state, key=jax.random.key(1))
  _, b = run(state, key=jax.random.key(1))
  _, c = run(state, key=jax.random.key(2))
  a, b, c = a.transition, b.transition, c.transition
  np.testing.assert_array_equal(a.obs, b.obs)
  assert not np.allclose(a.action, c.action)
  assert np.all(np.abs(a.action) <= 3.0)
  assert np.abs(a.action).max() > 2.5  # it covers the range, not only near zero
  assert not np.allclose(a.action[:, 0], a.action[:, 1])  # one key per env
  low, high = data.action_bounds(envs.make('linear_quadratic'))
  np.testing.assert_array_equal(low, -1.0)  # unbounded tasks sample in [-1, 1]
  np.testing.assert_array_equal(high, 1.0)


def test_uniform_while_explores_only_while_told():
  constant = lambda obs, key: jnp.full((obs.shape[0], 2), 0.25)
  low, high = -jnp.ones(2), jnp.ones(2)
  obs, key = jnp.zeros((64, 3)), jax.random.key(0)
  np.testing.assert_array_equal(acting.uniform_while(constant, False, low, high)(obs, key),
                                0.25)
  random = acting.uniform_while(constant, True, low, high)(obs, key)
  assert np.all(np.abs(random) <= 1.0) and np.std(random) > 0.4  # U(-1, 1): std 0.577


def test_first_episode_return_stops_at_the_first_end():
  reward = jnp.array([[1.0, 1.0], [2.0, 2.0], [4.0, 4.0]])
  done = jnp.array([[0.0, 1.0], [1.0, 0.0], [0.0, 1.0]])
  zeros = jnp.zeros((3, 2, 1))
  experience = acting.Experience(Transition(zeros, zeros, reward, zeros, done, done),
                                 episode_return=jnp.cumsum(reward, 0),
                                 nonfinite=jnp.zeros((3, 2)))
  np.testing.assert_array_equal(acting.first_episode_return(experience), [3.0, 1.0])

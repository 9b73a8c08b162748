"""SAC learns pendulum swing-up far beyond a random policy within 7000 env steps; an
update with a NaN or inf loss is skipped and counted."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from brax.envs.base import Wrapper

from mbrl_jax import data, envs
from mbrl_jax.agents import sac
from mbrl_jax.agents.sac import losses
from mbrl_jax.data import replay
from tests.agents.test_mpc import best_random_return
from tests.helpers import assert_rejected, assert_trees_equal, train_two_seeds


def small_config(**overrides):
  config = sac.default_config()
  config.update(dict(hidden_sizes=(64, 64), learning_rate=1e-3, random_steps=1000,
                     buffer_capacity=20_000, steps_per_chunk=1000))
  config.update(overrides)
  return config


def test_sac_swings_up_pendulum_within_7000_steps():
  # Two seeds in one vmap: one seed's curve moves with XLA's float rounding (seed 0
  # alone reached -506 under one set of compiler flags); measured with seeds 0-3:
  # -170, -184, -306, -170 after 7000 steps, from -1664 to -1499 untrained.
  env = envs.make('pendulum')
  untrained, trained, metrics, state = train_two_seeds(sac.make(small_config(), env), env,
                                                       chunks=7, eval_episodes=10)
  # 1000 random steps, then 6000 with one update per step.
  np.testing.assert_array_equal(state.env_steps, [7000, 7000])
  assert np.isfinite(metrics['critic_loss']).all()
  best_random = best_random_return(env)
  assert (trained > -400).all() and -400 > best_random, (trained, best_random)
  assert (untrained < -700).all()  # the initial policy does not swing up either


@pytest.mark.parametrize('override,message', [
    (dict(batch_size=0), 'config.batch_size must be an integer >= 1'),
    (dict(tau=0.0), 'need 0 < tau <= 1'),
    (dict(steps_per_chunk=1001, num_envs=2), 'must be a multiple of config.num_envs'),
    (dict(hidden_sizes=(64, 0)), 'config.hidden_sizes must be positive integers'),
    (dict(target_entropy_per_action=0.7), 'config.target_entropy_per_action must be below log 2'),
])
def test_bad_config_values(override, message):
  assert_rejected(sac, small_config(**override), message)


# --- a NaN or inf loss is skipped and counted ----------------------------------------
def random_batches(env, num, size, key):
  """`num` batches of `size` transitions with random observations and actions."""
  k = jax.random.split(key, 4)
  low, high = data.action_bounds(env)
  shape = (num, size)
  obs = jax.random.normal(k[0], shape + (env.observation_size,))
  action = jax.random.uniform(k[1], shape + (env.action_size,), minval=low, maxval=high)
  zeros = jnp.zeros(shape)
  return data.Transition(obs=obs, action=action, reward=jax.random.normal(k[2], shape),
                         next_obs=obs + 0.1 * jax.random.normal(k[3], obs.shape), done=zeros,
                         truncation=zeros)


@pytest.mark.parametrize('bad', [np.nan, np.inf])
def test_update_with_a_nonfinite_loss_is_skipped_and_counted(bad):
  """Three updates, the middle batch holding one bad reward, vmapped over 2 seeds:
  the bad update is counted and changes nothing, so the run equals, bit for bit,
  the two clean updates with the same keys."""
  env = envs.make('pendulum')
  learner = sac.make_learner(small_config(hidden_sizes=(16,)), env)
  batches = random_batches(env, 3, 16, jax.random.PRNGKey(0))
  batches = batches.replace(reward=batches.reward.at[1, 5].set(bad))
  keys = jax.random.split(jax.random.PRNGKey(1), 3)

  def run(seed, batches, keys):
    def step(state, inputs):
      state, metrics = learner.update(state, *inputs)
      return state, metrics['skipped_updates']
    return jax.lax.scan(step, learner.init(seed), (batches, keys))

  run = jax.jit(jax.vmap(run, in_axes=(0, None, None)))
  seeds = jax.random.split(jax.random.PRNGKey(2), 2)
  state, skipped = run(seeds, batches, keys)
  np.testing.assert_array_equal(skipped, [[0.0, 1.0, 0.0]] * 2)
  assert all(np.isfinite(x).all() for x in jax.tree.leaves(state))
  clean = jax.tree.map(lambda x: x[jnp.array([0, 2])], (batches, keys))
  expected, clean_skipped = run(seeds, *clean)
  np.testing.assert_array_equal(clean_skipped, [[0.0, 0.0]] * 2)
  assert_trees_equal(state, expected)
  initial = jax.vmap(learner.init)(seeds)
  moved = jax.tree.map(lambda a, b: np.abs(np.asarray(a) - np.asarray(b)).max(),
                       state.params.q, initial.params.q)
  assert min(jax.tree.leaves(moved)) > 0  # the clean updates did apply


class NanReward(Wrapper):
  """Every reward is NaN."""

  def step(self, state, action):
    state = self.env.step(state, action)
    return state.replace(reward=jnp.full_like(state.reward, jnp.nan))


def test_agent_counts_every_update_on_nan_rewards_and_keeps_its_params():
  """NaN rewards make every critic loss NaN: each of the 40 - 20 + 1 updates of the
  learning phase (from env step 20 on) is skipped, per seed under vmap."""
  env = NanReward(envs.make('pendulum', episode_length=20))
  agent = sac.make(small_config(hidden_sizes=(16,), random_steps=20, batch_size=8,
                                buffer_capacity=100, steps_per_chunk=40), env)
  initial = jax.vmap(agent.init)(jax.random.split(jax.random.PRNGKey(0), 2))
  state, metrics = jax.jit(jax.vmap(agent.train_chunk))(initial)
  np.testing.assert_array_equal(metrics['skipped_updates'], [21.0, 21.0])
  np.testing.assert_array_equal(state.skipped_updates, [21, 21])
  assert_trees_equal((state.params, state.sac_opt), (initial.params, initial.sac_opt))
  assert all(np.isfinite(x).all() for x in jax.tree.leaves(state.params))


def test_the_temperature_loss_follows_the_target_entropy():
  # Closed form: d J / d log alpha = alpha * mean(-log pi - H_target).
  log_prob = jnp.array([-0.5, 0.25, 1.0])
  for target in (-3.0, 0.0, 2.0):
    grad = jax.grad(losses.alpha_loss)(jnp.log(2.0), log_prob, target)
    np.testing.assert_allclose(grad, 2.0 * np.mean(-np.asarray(log_prob) - target), rtol=1e-6)
  assert losses.target_entropy(sac.default_config(), 6) == -3.0  # brax's -0.5 |A|
  # In the agent: 20 updates after 20 random steps. The initial policy's entropy is
  # about 0.42 (the most any policy has on pendulum's one action: log 2 = 0.69): with
  # the target above it the temperature rises (measured 1.0049), far below it, it
  # falls (0.9937).
  env = envs.make('pendulum', episode_length=20)
  alphas = {}
  for target in (0.6, -5.0):
    config = sac.preset(size='tiny')
    config.target_entropy_per_action = target
    agent = sac.make(config, env)
    state = jax.jit(agent.init)(jax.random.PRNGKey(0))
    chunk = jax.jit(agent.train_chunk)
    for _ in range(2):
      state, metrics = chunk(state)
    alphas[target] = float(jnp.exp(state.params.log_alpha))
  assert alphas[0.6] > 1.0 > alphas[-5.0], alphas


def test_the_critic_bound_uses_the_largest_real_reward_and_the_entropy_bound():
  # The bound is the discounted sum of (c r_max + alpha |A| log 2) over an endless episode.
  bound = losses.soft_q_bound(-1.0, 0.5, 3, 0.99, 2.0)
  series = sum(0.99**t * (2.0 * -1.0 + 0.5 * 3 * np.log(2.0)) for t in range(20_000))
  np.testing.assert_allclose(bound, series, rtol=1e-5)
  # |A| log 2 bounds the entropy of SAC's tanh-Gaussian (Monte Carlo, 2 dims).
  from brax.training import distribution
  dist = distribution.NormalTanhDistribution(event_size=2)
  for scale in (-1.0, 0.0, 1.0, 3.0):  # the std is softplus(scale) + 0.001
    logits = jnp.tile(jnp.concatenate([jnp.zeros(2), jnp.full(2, scale)]), (20_000, 1))
    raw = dist.sample_no_postprocessing(logits, jax.random.PRNGKey(0))
    entropy = -float(dist.log_prob(logits, raw).mean())
    assert entropy < 2 * np.log(2.0), (scale, entropy)
  # Empty slots of the buffer (zeros) do not count as rewards.
  buffer = replay.make_replay_buffer(capacity=10, sample_batch_size=2)
  example = data.example_transition(envs.make('pendulum'))
  items = jax.tree.map(lambda x: jnp.stack([x] * 5), example)
  items = items.replace(reward=jnp.array([-5.0, -4.0, -3.0, -2.0, -1.0]))
  state = buffer.add(buffer.init(example), items)
  params = sac.SACParams(policy=None, q=None, target_q=None, log_alpha=jnp.log(0.5))
  config = sac.default_config()
  out = sac.critic_bound(config, 1, state, params, q_max=jnp.float32(-60.0))
  expected = (-1.0 + 0.5 * np.log(2.0)) / 0.01
  np.testing.assert_allclose(out['q_bound'], expected, rtol=1e-5)
  assert float(out['q_above_bound']) == 1.0  # -60 > -65.3
  out = sac.critic_bound(config, 1, state, params, q_max=jnp.float32(-70.0))
  assert float(out['q_above_bound']) == 0.0

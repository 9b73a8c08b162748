"""MPC with the true model controls the pendulum far better than chance."""

import jax
import numpy as np
import pytest

from mbrl_jax import data, envs
from mbrl_jax.agents import mpc
from mbrl_jax.data import replay
from mbrl_jax.evaluation import make_evaluator


def best_random_return(env, episodes=1000):
  """The best return of `episodes` random-policy episodes."""
  state = data.reset(env, jax.random.PRNGKey(0), episodes)
  collect = jax.jit(data.collect, static_argnums=(0, 1, 5))
  _, tr = collect(env, data.random_policy(env), None, state, jax.random.PRNGKey(1),
                  env.episode_length)
  return float(tr.episode_return[-1].max())


def test_mpc_swings_up_pendulum_beyond_any_random_episode():
  env = envs.make('pendulum')
  best_random = best_random_return(env)
  assert best_random < -500  # random torques never hold the pendulum up
  config = mpc.default_config()
  config.update(dict(horizon=15, population=100))
  agent = mpc.make(config, env)
  mean_return = float(jax.jit(make_evaluator(env, agent.make_policy, 10))(
      {}, jax.random.PRNGKey(2)))
  assert mean_return > -400 > best_random


def test_train_chunk_fills_buffer_with_real_transitions():
  env = envs.make('pendulum', episode_length=20)
  config = mpc.default_config()
  config.update(dict(horizon=5, population=16, steps_per_chunk=40, num_envs=2,
                     buffer_capacity=100))
  agent = mpc.make(config, env)
  state = agent.init(jax.random.PRNGKey(0))
  state, metrics = jax.jit(agent.train_chunk)(state)
  assert int(state.env_steps) == 40
  assert int(replay.size(state.buffer)) == 40
  tr = jax.tree.map(lambda x: x[:40], replay.items(state.buffer))
  np.testing.assert_allclose(tr.next_obs, env.unwrapped.dynamics(tr.obs, tr.action),
                             rtol=1e-5, atol=1e-6)
  assert float(metrics['episodes']) == 2  # two envs, one 20-step episode each
  np.testing.assert_allclose(metrics['episode_return'],
                             tr.episode_return[tr.done.astype(bool)].mean(), rtol=1e-6)


@pytest.mark.parametrize('override,message', [
    (dict(horizon=0), 'config.horizon must be an integer >= 1, got 0'),
    (dict(dynamics='simulated'), "config.dynamics must be one of 'true', 'learned'"),
    (dict(planner='bfgs'), "config.planner must be one of"),
    (dict(replan_every=7), 'must divide the steps per env of a chunk'),
    (dict(replan_every=40, horizon=30, steps_per_chunk=200), 'cannot exceed config.horizon'),
    (dict(dynamics='learned', propagation='tsinf', num_particles=3),
     'must be a multiple of config.model.num_elites'),
    (dict(steps_per_chunk=30, num_envs=4), 'must be a multiple of config.num_envs'),
    (dict(buffer_capacity=10), 'config.buffer_capacity must hold one chunk'),
])
def test_bad_config_values(override, message):
  config = mpc.default_config()
  config.update(override)
  with pytest.raises(ValueError, match=message):
    mpc.make(config, envs.make('pendulum'))


def test_brax_env_needs_a_model():
  with pytest.raises(ValueError, match="needs a JAX-native task"):
    mpc.make(mpc.default_config(), envs.make('brax/inverted_pendulum', backend='positional'))


def small_pets_config():
  """PETS scaled down for CI: 5 Gaussian members of 3 x 64, TSinf with 5 particles,
  CEM with population 100, 3 iterations, horizon 20; one random episode first."""
  config = mpc.preset('pets', angle_dims=(1,))
  config.update(dict(population=100, num_particles=5, horizon=20))
  config.cem.iterations = 3
  config.model.update(dict(width=64, num_layers=3, max_epochs=50))
  return config


def test_pets_learns_cartpole_swingup_within_four_episodes():
  env = envs.make('cartpole_swingup')
  best_random = best_random_return(env)
  assert best_random < 20  # 1000 random episodes: the pole is never held up
  agent = mpc.make(small_pets_config(), env)
  state = jax.jit(agent.init)(jax.random.PRNGKey(0))
  chunk = jax.jit(agent.train_chunk)
  returns = []
  for _ in range(5):  # one random episode, then four PETS episodes
    state, metrics = chunk(state)
    returns.append(float(metrics['episode_return']))
  assert returns[0] < 20  # the random-action episode
  assert max(returns[1:]) > 100 > best_random, returns
  assert np.isfinite(float(metrics['model_holdout_mse']))
  assert int(state.env_steps) == 1000


def small_version_config(version):
  config = mpc.preset(version)
  config.update(dict(population=200, random_steps=600))
  config.model.update(dict(width=64, num_layers=2, max_epochs=40))
  if version == '1.5':
    config.horizon = 15
  return config


@pytest.mark.parametrize('version', ['0.5', '1.0', '1.5'])
def test_lecture_versions_plan_execute_and_refit_as_described(version):
  """0.5 fits once after the random data and executes whole-episode open-loop
  plans; 1.0 refits after every episode; 1.5 replans every step and refits; on
  pendulum, MPC (1.5) controls far better than random torques (mean -1230)."""
  env = envs.make('pendulum')
  config = small_version_config(version)
  agent = mpc.make(config, env)
  state = jax.jit(agent.init)(jax.random.PRNGKey(0))
  chunk = jax.jit(agent.train_chunk)
  epochs = []
  for _ in range(5):  # 3 random episodes, then two with the model
    state, metrics = chunk(state)
    epochs.append(int(metrics['model_epochs']))
  assert int(replay.size(state.buffer)) == 1000
  assert epochs[:2] == [0, 0] and epochs[2] > 0  # first fit right after the random data
  assert (epochs[3] > 0 and epochs[4] > 0) == (version != '0.5')
  assert config.replan_every == (200 if version in ('0.5', '1.0') else 1)
  if version == '1.5':
    mean_return = float(jax.jit(agent.evaluate, static_argnums=2)(
        state.params, jax.random.PRNGKey(1), 4))
    assert mean_return > -400, mean_return


def test_ilqr_mpc_through_learned_model_swings_up_pendulum():
  """Version 'ilqr': iLQR through the learned model's mean, replanning every step
  and executing u = u_plan + K (x - x_plan); 3 random episodes, 2 with the model."""
  env = envs.make('pendulum')
  config = small_version_config('ilqr')
  agent = mpc.make(config, env)
  state = jax.jit(agent.init)(jax.random.PRNGKey(0))
  chunk = jax.jit(agent.train_chunk)
  for _ in range(5):
    state, metrics = chunk(state)
  mean_return = float(jax.jit(agent.evaluate, static_argnums=2)(
      state.params, jax.random.PRNGKey(1), 4))
  assert mean_return > -300, mean_return

"""MPC with the true model controls the pendulum far better than chance."""

import jax
import numpy as np
import pytest

from mbrl_jax import data, envs
from mbrl_jax.agents import mpc
from mbrl_jax.evaluation import make_evaluator


def test_mpc_swings_up_pendulum_beyond_any_random_episode():
  env = envs.make('pendulum')
  # The best of 1000 random-policy episodes.
  state = data.reset(env, jax.random.PRNGKey(0), 1000)
  collect = jax.jit(data.collect, static_argnums=(0, 1, 5))
  _, tr = collect(env, data.random_policy(env), None, state, jax.random.PRNGKey(1), 200)
  best_random = float(tr.episode_return[-1].max())
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
  from mbrl_jax.data import replay
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

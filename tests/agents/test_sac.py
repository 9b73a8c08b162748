"""SAC learns pendulum swing-up far beyond a random policy within 7000 env steps."""

import jax
import numpy as np
import pytest

from mbrl_jax import envs
from mbrl_jax.agents import sac
from mbrl_jax.evaluation import make_evaluator
from tests.agents.test_mpc import best_random_return


def small_config(**overrides):
  config = sac.default_config()
  config.update(dict(hidden_sizes=(64, 64), learning_rate=1e-3, random_steps=1000,
                     buffer_capacity=20_000, steps_per_chunk=1000))
  config.update(overrides)
  return config


def test_sac_swings_up_pendulum_within_7000_steps():
  env = envs.make('pendulum')
  agent = sac.make(small_config(), env)
  state = jax.jit(agent.init)(jax.random.PRNGKey(0))
  chunk = jax.jit(agent.train_chunk)
  evaluate = jax.jit(make_evaluator(env, agent.make_policy, 10))
  untrained = float(evaluate(state.params, jax.random.PRNGKey(1)))
  for _ in range(7):  # 1000 random steps, then 6000 with one update per step
    state, metrics = chunk(state)
  assert int(state.env_steps) == 7000
  assert np.isfinite(float(metrics['critic_loss']))
  trained = float(evaluate(state.params, jax.random.PRNGKey(1)))
  best_random = best_random_return(env)
  assert trained > -400 > best_random, (trained, best_random)
  assert untrained < -700  # the initial policy does not swing up either


@pytest.mark.parametrize('override,message', [
    (dict(batch_size=0), 'config.batch_size must be an integer >= 1'),
    (dict(tau=0.0), 'need 0 < tau <= 1'),
    (dict(steps_per_chunk=1001, num_envs=2), 'must be a multiple of config.num_envs'),
    (dict(hidden_sizes=(64, 0)), 'config.hidden_sizes must be positive integers'),
])
def test_bad_config_values(override, message):
  with pytest.raises(ValueError, match=message):
    sac.make(small_config(**override), envs.make('pendulum'))

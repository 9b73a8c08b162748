"""PETS (CEM through a learned ensemble, scoring plans with the task's pure reward)
learns MuJoCo Playground's DM Control cart-pole swing-up beyond the best of 200 random
episodes."""

import jax
import numpy as np

from mbrl_jax import envs
from mbrl_jax.agents import mpc
from tests.helpers import random_returns


def test_pets_learns_dm_control_cartpole_swingup():
  # 800 env steps (8 s) with each action repeated 4 times: 200 decisions an episode.
  env = envs.make('dmc/CartpoleSwingup', episode_length=800, action_repeat=4)
  best_random = float(random_returns(env, 200).max())
  config = mpc.preset('pets')  # one random episode, then PETS
  config.update(dict(population=100, num_particles=5, horizon=20))
  config.cem.iterations = 3
  config.model.update(dict(width=64, num_layers=3, max_epochs=50))
  agent = mpc.make(config, env)
  state = jax.jit(agent.init)(jax.random.PRNGKey(0))
  chunk = jax.jit(agent.train_chunk)
  returns = []
  for _ in range(8):
    state, metrics = chunk(state)
    returns.append(float(metrics['episode_return']))
  assert returns[0] <= best_random + 1e-3  # the random-action episode
  assert max(returns[1:]) > best_random + 50, (returns, best_random)
  assert np.isfinite(float(metrics['model_holdout_mse']))

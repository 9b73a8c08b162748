"""Every agent that refits an ensemble (MPC/PETS, pathwise through a model, model-based
PG; MBPO in test_mbpo.py) reports the model steps skipped for a non-finite loss and
keeps the model's params finite. NaN rewards with a learned reward make the model's
reward target NaN, so every minibatch step of a refit is skipped."""

import jax
import numpy as np
import pytest

from mbrl_jax import envs
from mbrl_jax.agents import model_pg, mpc, pathwise
from tests.agents.test_sac import NanReward
from tests.helpers import assert_trees_equal

TINY_MODEL = dict(num_members=2, num_elites=2, width=8, num_layers=2, batch_size=8,
                  patience=2, max_epochs=10, learn_reward=True)


def mpc_config():
  config = mpc.preset('mpc')
  config.update(dict(population=20, horizon=5, random_steps=20, steps_per_chunk=20))
  config.model.update(TINY_MODEL)
  return config


def pathwise_config():
  config = pathwise.preset('model')
  config.update(dict(steps_per_chunk=20, random_steps=20, horizon=5, updates_per_chunk=2,
                     hidden_sizes=(8,), num_starts=8))
  config.model.update(TINY_MODEL)
  return config


def model_pg_config():
  config = model_pg.default_config()
  config.update(dict(steps_per_chunk=20, random_steps=20, horizon=5, num_starts=8,
                     updates_per_chunk=2, hidden_sizes=(8,)))
  config.model.update(TINY_MODEL)
  return config


@pytest.mark.parametrize('module,make_config', [
    (mpc, mpc_config), (pathwise, pathwise_config), (model_pg, model_pg_config)],
    ids=['mpc', 'pathwise', 'model_pg'])
def test_nan_model_targets_are_skipped_counted_and_leave_the_model_as_it_was(module,
                                                                            make_config):
  """20 real steps (16 train, 4 holdout): 2 minibatches an epoch, `patience` = 2
  epochs without holdout improvement, so 4 skipped steps in the refit, per seed."""
  env = NanReward(envs.make('pendulum', episode_length=20))
  agent = module.make(make_config(), env)
  initial = jax.vmap(agent.init)(jax.random.split(jax.random.PRNGKey(0), 2))
  state, metrics = jax.jit(jax.vmap(agent.train_chunk))(initial)
  np.testing.assert_array_equal(metrics['model_skipped_updates'], [4, 4])
  model = lambda s: s.params.model.params
  assert_trees_equal(model(state), model(initial))
  assert all(np.isfinite(np.asarray(x)).all() for x in jax.tree.leaves(model(state)))

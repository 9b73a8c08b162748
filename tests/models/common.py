"""Shared data and a trained pendulum model for the model tests."""

import functools

import jax
import jax.numpy as jnp

from mbrl_jax.data import acting
from mbrl_jax import data, envs, models

CAPACITY = 4096


def small_config(**overrides):
  config = models.default_config()
  config.update(dict(num_members=4, num_elites=2, num_layers=2, width=64, max_epochs=60,
                     batch_size=128))
  config.update(overrides)
  return config


def padded(transitions, capacity=CAPACITY):
  """Flatten [T, N] transitions into a fixed-size dataset with a validity mask."""
  flat = jax.tree.map(lambda x: x.reshape((-1,) + x.shape[2:]), transitions)
  n = flat.obs.shape[0]
  assert n <= capacity
  pad = jax.tree.map(lambda x: jnp.concatenate([x, jnp.zeros((capacity - n,) + x.shape[1:],
                                                               x.dtype)]), flat)
  return pad, jnp.arange(capacity) < n


@functools.lru_cache(maxsize=None)
def pendulum_data(num_envs=20, steps=150, seed=0):
  env = envs.make('pendulum')
  state = data.reset(env, jax.random.PRNGKey(seed), num_envs)
  unroll = jax.jit(acting.unroll, static_argnums=(0, 2, 4))
  _, experience = unroll(env, state, acting.per_env(data.random_policy(env)),
                         jax.random.PRNGKey(seed + 1), steps)
  return experience.transition


@functools.lru_cache(maxsize=None)
def trained_pendulum_model(kind='gaussian', members=4, elites=2):
  ensemble = models.Ensemble(small_config(kind=kind, num_members=members, num_elites=elites),
                             3, 1)
  trainer = models.Trainer(ensemble)
  dataset, mask = padded(pendulum_data())
  state, metrics = jax.jit(trainer.fit)(trainer.init(jax.random.PRNGKey(0)), dataset, mask,
                                        jax.random.PRNGKey(1))
  return ensemble, trainer, state, metrics, dataset, mask

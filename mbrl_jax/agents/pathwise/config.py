"""Pathwise's configuration: the defaults, the presets and their checks."""

import ml_collections

from mbrl_jax import models
from mbrl_jax.agents import actor_critic, model_based
from mbrl_jax.core.checks import check, check_choice, check_positive, check_preset

DYNAMICS = ('env', 'model')
PRESETS = ('env', 'model', 'env_value', 'model_value')  # the first is the default
SIZES = ('cpu', 'tiny')  # 'cpu': the pendulum tests' and experiments' sizes


def default_config() -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.dynamics = 'env'           # 'env': the env's own step; 'model': a learned ensemble
  config.horizon = 20               # steps differentiated through per update
  config.discount = 0.99
  config.reward_scaling = 1.0       # rewards are multiplied by this in the losses
  config.hidden_sizes = (32, 32)
  config.activation = 'elu'         # smooth activations keep the pathwise gradient smooth
  config.std_scale = 1.0            # multiplies the policy's std (brax's var_scale)
  config.learning_rate = 3e-3
  config.max_grad_norm = 1.0        # clip_by_global_norm; <= 0: no clipping
  config.num_envs = 32              # env: envs differentiated through; model: collecting envs
  config.steps_per_chunk = 6400     # real env steps (all envs) per train_chunk
  # 'model' only.
  config.updates_per_chunk = 50     # policy updates through the model per chunk
  config.num_starts = 256           # imagined start states per update (model_pg's name)
  config.random_steps = 0           # uniform random actions (all envs) before the policy acts
  config.buffer_capacity = 100_000
  config.propagation = 'ts1'
  config.model = models.default_config()
  # A learned value at the end of the window (SHAC-style short-horizon actor-critic).
  config.value_bootstrap = False
  config.value = ml_collections.ConfigDict(dict(
      hidden_sizes=(64, 64), learning_rate=1e-3, lambda_=0.95, updates=4, tau=0.2))
  return config


def preset(name: str = 'env', size: str = 'cpu') -> ml_collections.ConfigDict:
  """'env' (through the env), 'model' (through a learned ensemble), and each with
  '_value' (a critic at the end of the window); size 'cpu' as in the pendulum tests
  and experiments/pathwise_model_vs_env.py, or 'tiny'."""
  check_preset('pathwise', name, size, PRESETS, SIZES)
  config = default_config()
  if name.startswith('model'):
    config.update(dict(dynamics='model', num_envs=1, steps_per_chunk=200, random_steps=200,
                       updates_per_chunk=100, num_starts=256))
    config.model.update(dict(num_members=4, num_elites=4, width=64, num_layers=3,
                             max_epochs=50))
  if name.endswith('_value'):
    config.reward_scaling = 0.1  # pendulum-sized rewards: value targets of order 1 to 10
  config.value_bootstrap = name.endswith('_value')
  if size == 'tiny':
    config.update(dict(horizon=5, steps_per_chunk=20, hidden_sizes=(8,)))
    config.value.hidden_sizes = (8,)
    if name.startswith('model'):
      config.update(dict(random_steps=20, updates_per_chunk=2, num_starts=8,
                         buffer_capacity=400))
      config.model.update(model_based.TINY_MODEL)
    else:
      config.num_envs = 2
  return config


def validate(config, env):
  check_choice(config, 'dynamics', DYNAMICS)
  check_positive(config, 'horizon', 'num_envs', 'steps_per_chunk', 'updates_per_chunk',
                 'num_starts', 'buffer_capacity')
  actor_critic.validate(config)
  if config.value_bootstrap:
    v = config.value
    check(0 <= v.lambda_ <= 1 and 0 < v.tau <= 1 and v.learning_rate > 0
          and isinstance(v.updates, int) and v.updates >= 1,
          f'config.value needs 0 <= lambda_ <= 1, 0 < tau <= 1, learning_rate > 0 and '
          f'updates >= 1, got {v.to_dict()}.')
  if config.dynamics == 'env':
    window = config.num_envs * config.horizon
    check(config.steps_per_chunk % window == 0,
          f'config.steps_per_chunk ({config.steps_per_chunk}) must be a multiple of '
          f'num_envs * horizon ({window}): each update uses one window of every env.')
    return
  model_based.validate(config, env, 'pathwise through a model', starts='num_starts',
                       starts_from_buffer=True)

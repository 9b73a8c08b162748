"""model_pg's configuration: the defaults, the presets and their checks."""

import ml_collections

from mbrl_jax import models
from mbrl_jax.agents import actor_critic, model_based
from mbrl_jax.core.checks import check, check_choice, check_positive, check_preset

ALGORITHMS = ('reinforce', 'ppo')
PRESETS = ('ppo', 'reinforce')  # the algorithm; the first is the default
SIZES = ('cpu', 'tiny')
BASELINES = ('value', 'mean')


def default_config() -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.algorithm = 'ppo'
  config.hidden_sizes = (64, 64)
  config.activation = 'tanh'
  config.std_scale = 1.0              # multiplies the policy's std (brax's var_scale)
  config.learning_rate = 1e-3         # policy
  config.value_learning_rate = 1e-3
  config.max_grad_norm = 0.5          # clip_by_global_norm; <= 0: no clipping
  config.discount = 0.99
  config.reward_scaling = 0.1         # rewards are multiplied by this in the losses (the
                                      # value's targets stay of order 1 to 10 on pendulum)
  config.gae_lambda = 0.95            # ppo
  config.normalize_advantage = True
  config.num_envs = 1                 # real envs collecting (per seed)
  config.steps_per_chunk = 200        # real env steps (all envs) per train_chunk
  config.random_steps = 0             # uniform random actions (all envs) first
  config.buffer_capacity = 100_000
  config.model = models.default_config()
  config.model.update(dict(num_members=4, num_elites=4, width=64, num_layers=3, max_epochs=50))
  config.propagation = 'ts1'
  config.num_starts = 512             # imagined trajectories per update
  config.horizon = 20                 # imagined steps per trajectory
  config.updates_per_chunk = 20       # imagine + update, per chunk
  config.ppo = ml_collections.ConfigDict(dict(epochs=8, num_minibatches=4, clip_epsilon=0.2,
                                              entropy_cost=0.0))
  config.reinforce = ml_collections.ConfigDict(dict(baseline='value', value_updates=4))
  return config


def preset(name: str = 'ppo', size: str = 'cpu') -> ml_collections.ConfigDict:
  """'ppo' (the default config) or 'reinforce' (REINFORCE with a baseline), at size
  'cpu' (the defaults) or 'tiny'."""
  check_preset('model_pg', name, size, PRESETS, SIZES)
  config = default_config()
  config.algorithm = name
  if size == 'tiny':
    config.update(dict(steps_per_chunk=20, random_steps=20, horizon=5, num_starts=16,
                       updates_per_chunk=2, hidden_sizes=(8,), buffer_capacity=400))
    config.ppo.update(dict(epochs=2, num_minibatches=2))
    config.reinforce.value_updates = 2
    config.model.update(model_based.TINY_MODEL)
  return config


def validate(config, env):
  check_choice(config, 'algorithm', ALGORITHMS)
  check_positive(config, 'num_envs', 'steps_per_chunk', 'buffer_capacity', 'num_starts',
                 'horizon', 'updates_per_chunk')
  actor_critic.validate(config)
  check(0 <= config.gae_lambda <= 1 and config.value_learning_rate > 0,
        f'need 0 <= gae_lambda <= 1 and value_learning_rate > 0, got gae_lambda='
        f'{config.gae_lambda}, value_learning_rate={config.value_learning_rate}.')
  model_based.validate(config, env, 'model_pg', starts='num_starts', starts_from_buffer=True)
  if config.algorithm == 'ppo':
    p = config.ppo
    check(isinstance(p.epochs, int) and p.epochs >= 1 and isinstance(p.num_minibatches, int)
          and p.num_minibatches >= 1 and p.clip_epsilon > 0 and p.entropy_cost >= 0,
          f'config.ppo needs epochs >= 1, num_minibatches >= 1, clip_epsilon > 0 and '
          f'entropy_cost >= 0, got {p.to_dict()}.')
    samples = config.num_starts * config.horizon
    check(samples % p.num_minibatches == 0,
          f'config.ppo.num_minibatches ({p.num_minibatches}) must divide the imagined '
          f'samples per update (num_starts * horizon = {samples}).')
  else:
    check(config.reinforce.baseline in BASELINES,
          f'config.reinforce.baseline must be one of {", ".join(map(repr, BASELINES))}; '
          f'got {config.reinforce.baseline!r}.')
    check(isinstance(config.reinforce.value_updates, int) and config.reinforce.value_updates >= 1,
          f'config.reinforce.value_updates must be an integer >= 1, got '
          f'{config.reinforce.value_updates!r}.')

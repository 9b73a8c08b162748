"""SAC's configuration: the defaults, the presets and their checks."""

import math

import ml_collections

from mbrl_jax.core.checks import check, check_positive, check_preset

PRESETS = ('sac',)                 # the algorithm's variants; the first is the default
SIZES = ('paper', 'cpu', 'tiny')   # hardware sizes; the first is the default
# SAC at CPU size: what the 'cpu' sizes of sac and mbpo share, so curves compare like
# with like.
CPU = dict(hidden_sizes=(128, 128), learning_rate=1e-3, random_steps=500,
           buffer_capacity=100_000, steps_per_chunk=500)
# Seconds on a CPU (20-step episodes), for tests and smoke runs.
TINY = dict(hidden_sizes=(8, 8), batch_size=16, buffer_capacity=400, random_steps=20,
            steps_per_chunk=20)


def default_config() -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.hidden_sizes = (256, 256)
  config.learning_rate = 3e-4
  config.discount = 0.99
  config.reward_scaling = 1.0
  config.tau = 0.005                 # Polyak rate of the target critics
  config.batch_size = 256
  config.buffer_capacity = 1_000_000
  config.random_steps = 1000         # uniform random actions (all envs) before learning
  config.updates_per_step = 1        # gradient steps per env step (all envs)
  # The temperature's entropy target over |A|: brax's -0.5; the SAC paper's -1; the MBPO
  # paper's code sets it per task (Hopper -1/3, HalfCheetah -0.5, as -1 and -3 in all).
  config.target_entropy_per_action = -0.5
  config.num_envs = 1
  config.steps_per_chunk = 1000      # real env steps (all envs) per train_chunk
  return config


def preset(name: str = 'sac', size: str = 'paper') -> ml_collections.ConfigDict:
  """SAC at size 'paper' (the SAC paper's settings: 2 x 256, lr 3e-4), 'cpu' (sized
  for a 2-core CPU, the SAC half of MBPO's 'cpu' size; experiments/mbpo_vs_sac.sh)
  or 'tiny'."""
  check_preset('sac', name, size, PRESETS, SIZES)
  config = default_config()
  config.update({'paper': {}, 'cpu': CPU, 'tiny': TINY}[size])
  return config


def validate(config):
  check_positive(config, 'batch_size', 'buffer_capacity', 'updates_per_step', 'num_envs',
                 'steps_per_chunk')
  check(isinstance(config.random_steps, int) and config.random_steps >= 0,
        f'config.random_steps must be an integer >= 0, got {config.random_steps!r}.')
  check(config.steps_per_chunk % config.num_envs == 0,
        f'config.steps_per_chunk ({config.steps_per_chunk}) must be a multiple of '
        f'config.num_envs ({config.num_envs}).')
  check(config.batch_size <= config.buffer_capacity,
        f'config.batch_size ({config.batch_size}) must not exceed config.buffer_capacity.')
  check(0 < config.tau <= 1 and 0 <= config.discount <= 1 and config.learning_rate > 0,
        f'need 0 < tau <= 1, 0 <= discount <= 1 and learning_rate > 0, got tau={config.tau}, '
        f'discount={config.discount}, learning_rate={config.learning_rate}.')
  check(config.target_entropy_per_action < math.log(2.0),
        'config.target_entropy_per_action must be below log 2 (the entropy of a uniform '
        f'action), got {config.target_entropy_per_action}.')
  check(all(isinstance(h, int) and h >= 1 for h in config.hidden_sizes),
        f'config.hidden_sizes must be positive integers, got {tuple(config.hidden_sizes)}.')

"""MBPO's configuration: the paper's defaults, the presets and their checks."""

import ml_collections

from mbrl_jax import models
from mbrl_jax.agents import sac
from mbrl_jax.agents.model_based import TINY_MODEL
from mbrl_jax.core.checks import check, check_positive, check_preset
from mbrl_jax.envs.base import pure_functions

PRESETS = ('mbpo',)                # the algorithm's variants; the first is the default
SIZES = sac.SIZES                  # 'paper', 'cpu', 'tiny'


def default_config() -> ml_collections.ConfigDict:
  """The MBPO paper's settings (its SAC: 2 x 256, lr 3e-4, batch 256, tau 5e-3)."""
  config = sac.default_config()
  config.random_steps = 5000          # the paper's init_exploration_steps
  config.updates_per_step = 20        # G
  config.real_ratio = 0.05
  config.refit_every = 250          # real steps between refits and rollout batches
  config.rollouts_per_step = 400      # model rollouts per real step (100k per refit)
  config.rollout_schedule = (20, 100, 1, 15)  # start epoch, end epoch, min len, max len
  config.epoch_length = 1000
  config.model_retain_epochs = 1
  config.mve_horizon = 0              # > 0: MVE critic targets over this many model steps
  config.model = models.default_config()
  config.model.learn_reward = True    # as in MBPO; False uses the task's reward_fn
  return config


def preset(name: str = 'mbpo', size: str = 'paper') -> ml_collections.ConfigDict:
  """MBPO at size 'paper' (the MBPO paper's settings: 7 x 4 x 200 model, 400 rollouts
  and 20 updates per step), 'cpu' (scaled to a 2-core CPU, its SAC exactly sac's
  'cpu'; the learning curves of experiments/mbpo_vs_sac.sh) or 'tiny'."""
  check_preset('mbpo', name, size, PRESETS, SIZES)
  config = default_config()
  if size == 'cpu':
    config.update(dict(sac.CPU, refit_every=250, rollouts_per_step=100, updates_per_step=10,
                       rollout_schedule=(0, 1, 1, 1)))
    config.model.update(num_layers=3, width=128, max_epochs=50)
  elif size == 'tiny':
    config.update(dict(sac.TINY, refit_every=20, rollouts_per_step=2, updates_per_step=1,
                       rollout_schedule=(0, 1, 1, 2), epoch_length=40))
    config.model.update(TINY_MODEL)
  return config


def validate(config, env):
  sac.validate(config)
  check_positive(config, 'refit_every', 'rollouts_per_step', 'epoch_length',
                 'model_retain_epochs')
  check(isinstance(config.mve_horizon, int) and config.mve_horizon >= 0,
        f'config.mve_horizon must be an integer >= 0, got {config.mve_horizon!r}.')
  check(0.0 <= config.real_ratio <= 1.0,
        f'config.real_ratio must be in [0, 1], got {config.real_ratio}.')
  schedule = tuple(config.rollout_schedule)
  check(len(schedule) == 4 and all(isinstance(v, int) for v in schedule)
        and 1 <= schedule[2] <= schedule[3] and 0 <= schedule[0] <= schedule[1],
        'config.rollout_schedule must be integers (start epoch, end epoch, min length, '
        f'max length) with start <= end and 1 <= min <= max, got {schedule}.')
  check(config.steps_per_chunk % config.refit_every == 0,
        f'config.steps_per_chunk ({config.steps_per_chunk}) must be a multiple of '
        f'config.refit_every ({config.refit_every}).')
  check(config.refit_every % config.num_envs == 0,
        f'config.refit_every ({config.refit_every}) must be a multiple of '
        f'config.num_envs ({config.num_envs}).')
  num_rollouts = config.rollouts_per_step * config.refit_every
  check(num_rollouts % config.model.num_elites == 0,
        f'rollouts_per_step * refit_every ({num_rollouts}) must be a multiple of '
        f'config.model.num_elites ({config.model.num_elites}).')
  check(config.model.learn_reward or pure_functions(env)[0] is not None,
        f'{type(env.unwrapped).__name__} has no reward function: set '
        'config.model.learn_reward=True.')

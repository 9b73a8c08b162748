"""GPS's configuration: the defaults (every field of both variants), the presets (the
variants, each at sizes 'cpu' and 'tiny') and their checks."""

import ml_collections

from mbrl_jax.agents.gps import badmm, mdgps
from mbrl_jax.core.checks import check, check_choice, check_positive, check_preset

PRESETS = ('mdgps', 'badmm')  # the variants; the first is the default
SIZES = ('cpu', 'tiny')
VARIANTS = {'mdgps': mdgps, 'badmm': badmm}


def default_config() -> ml_collections.ConfigDict:
  """MDGPS's settings; the BADMM fields (multipliers, nu) are read by 'badmm' only."""
  config = badmm.default_config()  # every field of both variants
  config.update(mdgps.default_config())
  config.variant = 'mdgps'
  config.num_conditions = 4       # initial states, each with its own local controller
  config.condition_seed = 0       # the key the initial states are drawn with
  return config


def preset(name: str = 'mdgps', size: str = 'cpu') -> ml_collections.ConfigDict:
  """'mdgps': mirror-descent GPS; 'badmm': BADMM GPS with per-step multipliers (both
  off-policy), at size 'cpu' (sized for point_mass) or 'tiny'."""
  check_preset('gps', name, size, PRESETS, SIZES)
  config = default_config()
  if name == 'badmm':
    config.update(badmm.default_config())
    config.variant = 'badmm'
  if size == 'tiny':
    config.update(dict(num_conditions=2, num_samples=1, sgd_steps=10, batch_size=8,
                       hidden_sizes=(8,), inner_iterations=1))
  return config


def validate(config, env):
  # The env needs a JAX-native task: lqr_flm.cost_fn checks that where it is used.
  del env
  check_positive(config, 'num_conditions', 'num_samples', 'sgd_steps', 'batch_size')
  check_choice(config, 'variant', PRESETS)
  check(0 < config.epsilon and 0 < config.epsilon_range[0] <= config.epsilon_range[1],
        f'need epsilon > 0 and 0 < epsilon_range[0] <= epsilon_range[1], got '
        f'{config.epsilon} and {tuple(config.epsilon_range)}.')

"""What every network here shares: the activations by name and the affine map between
a squashed action in [-1, 1] and the env's bounds [low, high].

brax.training's networks take a normalizer's params first; we feed raw observations,
so they get `NO_NORMALIZER`.
"""

import flax.linen as nn

from mbrl_jax.core.checks import check_choice

ACTIVATIONS = {'silu': nn.silu, 'relu': nn.relu, 'tanh': nn.tanh, 'elu': nn.elu,
               'gelu': nn.gelu}
NO_NORMALIZER = ()


def check_activation(config) -> str:
  """config.activation, which must name one of ACTIVATIONS."""
  check_choice(config, 'activation', tuple(ACTIVATIONS))
  return config.activation


def to_bounds(squashed, low, high):
  """[-1, 1] -> [low, high]."""
  return low + (squashed + 1.0) * (high - low) / 2.0


def from_bounds(action, low, high):
  """[low, high] -> [-1, 1]."""
  return 2.0 * (action - low) / (high - low) - 1.0

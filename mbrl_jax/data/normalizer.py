"""Running mean and variance as pure updates, for model inputs and targets.

A thin layer over brax.training.acme.running_statistics (Welford updates with
optional per-item weights), fixed to the use we make of it: flat vectors, a
validity mask for fixed-size buffers, and a floor on the standard deviation so
that a constant feature normalizes to zero instead of dividing by zero.
"""

from typing import Optional

import jax
import jax.numpy as jnp
from brax.training.acme import running_statistics

NormalizerState = running_statistics.RunningStatisticsState


def init(size: int) -> NormalizerState:
  return running_statistics.init_state(jnp.zeros((size,), jnp.float32))


def update(state: NormalizerState, batch: jax.Array,
           mask: Optional[jax.Array] = None, std_min: float = 1e-6) -> NormalizerState:
  """Adds `batch` [..., size] (items where `mask` [...] is true) to the statistics."""
  weights = None if mask is None else mask.astype(jnp.float32)
  return running_statistics.update(state, batch, weights=weights, std_min_value=std_min)


def normalize(state: NormalizerState, x: jax.Array) -> jax.Array:
  return (x - state.mean) / state.std


def denormalize(state: NormalizerState, x: jax.Array) -> jax.Array:
  return x * state.std + state.mean

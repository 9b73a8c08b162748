"""A FIFO replay buffer on flashbax's item buffer.

flashbax writes into a circular array (an insert costs the size of the batch, not
of the buffer, unlike brax's UniformSamplingQueue which rolls the whole array once
full) and samples uniformly, with replacement, among the items it holds. Its state
is a plain pytree of arrays, so it lives inside a TrainState, under jit, and in a
checkpoint. We add the two things model training needs: the number of items held
and a mask of which slots are valid, so a fixed-shape model fit can use them all.
"""

import chex
import flashbax
import jax
import jax.numpy as jnp
from flashbax.buffers.trajectory_buffer import TrajectoryBuffer, TrajectoryBufferState

BufferState = TrajectoryBufferState


def make_replay_buffer(capacity: int, sample_batch_size: int) -> TrajectoryBuffer:
  """Buffer functions: init(example item), add(state, items[n, ...]), sample(state, key).

  `add` takes a batch of items with a leading axis (at most `capacity` of them);
  `sample(state, key).experience` is a batch of `sample_batch_size` items.
  """
  if capacity < 1 or not 1 <= sample_batch_size <= capacity:
    raise ValueError(f'replay buffer needs capacity >= 1 and 1 <= sample_batch_size <= '
                     f'capacity, got capacity={capacity}, sample_batch_size={sample_batch_size}.')
  return flashbax.make_item_buffer(max_length=capacity, min_length=1,
                                   sample_batch_size=sample_batch_size,
                                   add_sequences=True, add_batches=False)


def capacity(state: BufferState) -> int:
  return jax.tree.leaves(state.experience)[0].shape[1]


def size(state: BufferState) -> jax.Array:
  """Number of items held."""
  return jnp.where(state.is_full, capacity(state), state.current_index)


def valid_mask(state: BufferState) -> jax.Array:
  """[capacity] bool: which slots hold an item."""
  return jnp.arange(capacity(state)) < size(state)


def items(state: BufferState) -> chex.ArrayTree:
  """All slots, leading axis `capacity`; only those in `valid_mask` are data."""
  return jax.tree.map(lambda x: x[0], state.experience)

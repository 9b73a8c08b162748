"""MBPO's model data: the pool of branched rollouts and the rollout-length schedule."""

import flax
import jax
import jax.numpy as jnp

from mbrl_jax import data


@flax.struct.dataclass
class ModelPool:
  """The last K rollout batches, each compacted (valid transitions first)."""
  transitions: data.Transition   # [K, B, ...]
  counts: jax.Array              # [K] valid transitions per batch
  next_slot: jax.Array


def add_to_pool(pool: ModelPool, transitions, count) -> ModelPool:
  """Overwrites the oldest batch with `transitions`, whose first `count` are valid."""
  slot = pool.next_slot
  return ModelPool(
      transitions=jax.tree.map(lambda p, x: p.at[slot].set(x), pool.transitions, transitions),
      counts=pool.counts.at[slot].set(count), next_slot=(slot + 1) % pool.counts.shape[0])


def sample_pool(pool: ModelPool, key, n):
  """n transitions drawn uniformly, with replacement, from the valid ones."""
  total = jnp.maximum(pool.counts.sum(), 1)
  u = jax.random.randint(key, (n,), 0, total)
  ends = jnp.cumsum(pool.counts)
  batch = jnp.searchsorted(ends, u, side='right')
  offset = u - (ends[batch] - pool.counts[batch])
  return jax.tree.map(lambda x: x[batch, offset], pool.transitions)


def rollout_length(schedule, env_steps, epoch_length, random_steps=0):
  """The MBPO schedule: min_len before start, max_len after end, linear between.
  Epochs count from the end of the random phase, as in the paper's code (its epoch
  counter starts after the initial exploration steps)."""
  start, end, min_len, max_len = schedule
  epoch = jnp.maximum(env_steps - random_steps, 0) // epoch_length
  frac = jnp.clip((epoch - start) / max(end - start, 1), 0.0, 1.0)
  return (min_len + frac * (max_len - min_len)).astype(jnp.int32)

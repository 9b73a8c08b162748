"""Replay buffer: FIFO overwrite, uniform sampling, jit, checkpoint round trip."""

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp
import pytest
from scipy import stats

from mbrl_jax.data import replay


def items(start, n):
  ids = jnp.arange(start, start + n, dtype=jnp.float32)
  return {'id': ids, 'obs': jnp.stack([ids, -ids], axis=-1)}


def test_fifo_overwrite_order_and_mask():
  buf = replay.make_replay_buffer(capacity=5, sample_batch_size=2)
  state = buf.init(jax.tree.map(lambda x: x[0], items(0, 1)))
  add = jax.jit(buf.add)
  assert int(replay.size(state)) == 0
  state = add(state, items(0, 3))
  assert int(replay.size(state)) == 3
  np.testing.assert_array_equal(replay.valid_mask(state), [1, 1, 1, 0, 0])
  state = add(state, items(3, 4))  # 7 items in 5 slots: 0 and 1 are overwritten
  assert int(replay.size(state)) == 5
  np.testing.assert_array_equal(replay.valid_mask(state), [1, 1, 1, 1, 1])
  np.testing.assert_array_equal(replay.items(state)['id'], [5, 6, 2, 3, 4])
  np.testing.assert_array_equal(replay.items(state)['obs'][:, 1], [-5, -6, -2, -3, -4])
  state = add(state, items(7, 2))
  np.testing.assert_array_equal(replay.items(state)['id'], [5, 6, 7, 8, 4])


def test_sampling_is_uniform_over_items_held_chi_square():
  capacity, batch = 40, 40
  buf = replay.make_replay_buffer(capacity, batch)
  state = buf.init(jax.tree.map(lambda x: x[0], items(0, 1)))
  state = buf.add(state, items(0, 30))
  state = buf.add(state, items(30, 30))  # holds 20..59
  sample = jax.jit(lambda s, k: buf.sample(s, k).experience['id'])
  ids = np.concatenate([sample(state, k) for k in jax.random.split(jax.random.key(0), 500)])
  assert ids.min() >= 20 and ids.max() <= 59  # never an overwritten item
  counts = np.bincount(ids.astype(int) - 20, minlength=capacity)
  chi2 = stats.chisquare(counts)
  assert chi2.pvalue > 1e-3, chi2
  # A partly filled buffer samples only the items held.
  part = buf.add(buf.init(jax.tree.map(lambda x: x[0], items(0, 1))), items(100, 7))
  ids = np.concatenate([sample(part, k) for k in jax.random.split(jax.random.key(1), 10)])
  assert set(ids.astype(int)) == set(range(100, 107))


def test_insert_and_sample_inside_one_jitted_scan():
  buf = replay.make_replay_buffer(capacity=16, sample_batch_size=4)

  @jax.jit
  def fill_and_sample(state, key):
    def body(state, t):
      state = buf.add(state, items(0, 3) | {'id': t * 3 + jnp.arange(3.0)})
      return state, buf.sample(state, jax.random.fold_in(key, t)).experience['id']
    return jax.lax.scan(body, state, jnp.arange(10))

  state = buf.init(jax.tree.map(lambda x: x[0], items(0, 1)))
  state, sampled = fill_and_sample(state, jax.random.key(0))
  assert sampled.shape == (10, 4)
  assert int(replay.size(state)) == 16
  held = set(np.asarray(replay.items(state)['id']).astype(int))
  assert held == set(range(14, 30))
  assert np.all(sampled[-1] >= 14)


def test_checkpoint_round_trip_continues_identically(tmp_path):
  buf = replay.make_replay_buffer(capacity=8, sample_batch_size=3)
  state = buf.init(jax.tree.map(lambda x: x[0], items(0, 1)))
  state = buf.add(buf.add(state, items(0, 6)), items(6, 5))  # wrapped around
  ckpt = ocp.StandardCheckpointer()
  ckpt.save(tmp_path / 'buffer', state)
  ckpt.wait_until_finished()
  restored = ckpt.restore(tmp_path / 'buffer', jax.tree.map(ocp.utils.to_shape_dtype_struct, state))
  jax.tree.map(np.testing.assert_array_equal, restored, state)
  key = jax.random.key(5)
  a = buf.sample(buf.add(state, items(50, 2)), key).experience
  b = buf.sample(buf.add(restored, items(50, 2)), key).experience
  jax.tree.map(np.testing.assert_array_equal, a, b)


def test_bad_sizes_are_refused():
  with pytest.raises(ValueError, match='capacity'):
    replay.make_replay_buffer(capacity=0, sample_batch_size=1)
  with pytest.raises(ValueError, match='sample_batch_size'):
    replay.make_replay_buffer(capacity=4, sample_batch_size=5)

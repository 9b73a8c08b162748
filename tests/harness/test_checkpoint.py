"""Checkpointer round trips of states that hold zero-size arrays, which Orbax alone
refuses to save (MJX's data of a DM Control task has several)."""

import jax
import jax.numpy as jnp
import numpy as np

from mbrl_jax.harness import checkpoint


def test_zero_size_arrays_save_and_restore_with_their_shapes(tmp_path):
  state = {'params': jnp.arange(6.0).reshape(2, 3), 'act': jnp.zeros((4, 0), jnp.float32),
           'data': {'efc': jnp.zeros((0,), jnp.int32), 'qpos': jnp.ones(3)}}
  saver = checkpoint.Checkpointer(str(tmp_path))
  saver.save(1, state, {'note': 'x'})
  abstract = jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype), state)
  step, restored, meta = checkpoint.Checkpointer(str(tmp_path), read_only=True).restore_latest(
      abstract)
  assert step == 1 and meta['note'] == 'x'
  assert jax.tree.structure(restored) == jax.tree.structure(state)
  for got, want in zip(jax.tree.leaves(restored), jax.tree.leaves(state)):
    assert got.shape == want.shape and got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)
  assert checkpoint.state_digest(restored) == checkpoint.state_digest(state)

"""Running mean/variance against numpy over the same (masked) data."""

import jax
import jax.numpy as jnp
import numpy as np

from mbrl_jax.data import normalizer


def test_running_statistics_match_numpy_with_masks():
  rng = np.random.default_rng(0)
  state = normalizer.init(3)
  update = jax.jit(normalizer.update)
  seen = []
  for i in range(5):
    batch = rng.normal(loc=[1.0, -2.0, 5.0], scale=[0.5, 3.0, 0.01], size=(64, 3))
    mask = rng.random(64) < 0.7
    state = update(state, jnp.asarray(batch, jnp.float32), jnp.asarray(mask))
    seen.append(batch[mask])
  seen = np.concatenate(seen)
  np.testing.assert_allclose(state.mean, seen.mean(0), rtol=1e-4, atol=1e-5)
  np.testing.assert_allclose(state.std, seen.std(0), rtol=1e-3)
  x = jnp.asarray(seen[:10], jnp.float32)
  z = normalizer.normalize(state, x)
  np.testing.assert_allclose(z, (seen[:10] - seen.mean(0)) / seen.std(0), rtol=1e-3, atol=1e-3)
  np.testing.assert_allclose(normalizer.denormalize(state, z), x, rtol=1e-5, atol=1e-5)


def test_constant_feature_normalizes_to_zero_not_nan():
  state = normalizer.update(normalizer.init(2), jnp.ones((10, 2)))
  z = normalizer.normalize(state, jnp.ones((4, 2)))
  assert np.all(np.isfinite(z)) and np.allclose(z, 0.0)

"""Running brax.training's own train() loops (apg, ppo) on this package's envs, for the
comparisons in experiments/ (our agents never call them).

brax 0.14.2's train loops call `jax.device_put_replicated`, which jax 0.10 removed;
`restore_device_put_replicated` defines it again as stacking one copy per device
(then `jax.pmap` runs over that axis, as before). It changes the `jax` module for the
whole process, so only scripts that run brax's loops call it.

`wrap_env` is the `wrap_env_fn` to give them: brax's episode limit, then this
package's auto-reset (a fresh random start after every episode, where brax's own
replays each env's first start), then vmap.
"""

import jax
import jax.numpy as jnp
from brax.envs.wrappers.training import EpisodeWrapper, VmapWrapper

from mbrl_jax.envs.wrappers import AutoResetWrapper


def restore_device_put_replicated() -> None:
  """Defines jax.device_put_replicated (removed in jax 0.10) when it is missing."""
  if not hasattr(jax, 'device_put_replicated'):
    jax.device_put_replicated = lambda x, devices: jax.tree.map(
        lambda a: jax.device_put(jnp.stack([a] * len(devices))), x)


def wrap_env(env, episode_length, action_repeat, randomization_fn=None):
  """brax.training's wrap_env_fn: episode limit, our auto-reset, vmap."""
  del randomization_fn
  return VmapWrapper(AutoResetWrapper(EpisodeWrapper(env, episode_length, action_repeat)))

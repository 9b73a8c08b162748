"""A task seen through a camera: the observation is (image, joint state), the full
state stays inside.

`PixelObservation` wraps a JAX-native task whose state a renderer can draw (the
two-link arm: `rendering.render`). Its observation is one flat vector, the image
[H, W, 3] raveled, then the robot's own joint state (the state's first
`joint_size` entries: for the arm cos/sin of both angles and both velocities), so
every buffer, wrapper and network that takes a vector still works; `split` gives
(image, joints) back. The target's position is in the image only. The full state
is kept in `state.info['state']`: the simulator steps it, and guided policy search's
local controllers (which see the full state) read it there. `task_of` returns None
for a wrapped env, so nothing mistakes the pixels for the state.
"""

import jax
import jax.numpy as jnp
from brax.envs.base import State, Wrapper

from mbrl_jax.envs import rendering


class PixelObservation(Wrapper):
  """obs = [image.ravel(), state[:joint_size]]; info['state'] = the full state."""

  observes_pixels = True  # task_of: the observation is not the task's state

  def __init__(self, env, config: rendering.RenderConfig = rendering.RenderConfig(),
               joint_size: int = 6):
    super().__init__(env)
    self.config, self.joint_size = config, joint_size

  def observe(self, state_obs: jax.Array) -> jax.Array:
    """The observation of full states [..., n]: [..., H * W * 3 + joint_size]."""
    flat = state_obs.reshape((-1, state_obs.shape[-1]))
    images = rendering.render_batch(flat, self.config).reshape((flat.shape[0], -1))
    obs = jnp.concatenate([images, flat[:, :self.joint_size]], -1)
    return obs.reshape(state_obs.shape[:-1] + (obs.shape[-1],))

  def split(self, obs: jax.Array):
    """(image [..., H, W, 3], joints [..., joint_size]) of observations."""
    return split(obs, self.config, self.joint_size)

  def reset(self, rng: jax.Array) -> State:
    state = self.env.reset(rng)
    return state.replace(obs=self.observe(state.obs), info={**state.info, 'state': state.obs})

  def step(self, state: State, action: jax.Array) -> State:
    inner = self.env.step(state.replace(obs=state.info['state']), action)
    return inner.replace(obs=self.observe(inner.obs), info={**inner.info, 'state': inner.obs})

  @property
  def observation_size(self) -> int:
    return self.config.height * self.config.width * 3 + self.joint_size


def split(obs: jax.Array, config: rendering.RenderConfig, joint_size: int = 6):
  """(image [..., H, W, 3], joints [..., joint_size]) of flat observations."""
  pixels = config.height * config.width * 3
  image = obs[..., :pixels].reshape(obs.shape[:-1] + (config.height, config.width, 3))
  return image, obs[..., pixels:pixels + joint_size]

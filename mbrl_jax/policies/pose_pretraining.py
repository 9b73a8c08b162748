"""Stage 1 of the visuomotor training procedure: pretrain the conv layers on pose
estimation, predicting the target's position from an image of the arm scene.

Scenes are drawn as the two-link arm's observations: both joint angles uniform on
[-pi, pi) (the arm anywhere, so the net cannot learn a fixed arm), the target at a
radius uniform on [0.5, 1.8] and an angle uniform on [-pi, pi) (the task's goal
distribution). Images are rendered on the fly from a fixed set of scenes (each
minibatch re-rendered: rendering is cheap next to the conv net, and a scene set
keeps memory at 8 floats per example). The loss is the mean squared error of the
predicted (x, y); the error reported is the Euclidean distance, in the arm's units
(each link is 1 long).
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from mbrl_jax.envs import rendering
from mbrl_jax.core.guards import apply_if_finite
from mbrl_jax.policies import visuomotor as vm


def sample_scenes(key, num: int) -> jax.Array:
  """num random arm-and-target scenes as arm observations [num, 8] (at rest)."""
  kq, kr, ka = jax.random.split(key, 3)
  q = jax.random.uniform(kq, (num, 2), minval=-jnp.pi, maxval=jnp.pi)
  radius = jax.random.uniform(kr, (num,), minval=0.5, maxval=1.8)
  angle = jax.random.uniform(ka, (num,), minval=-jnp.pi, maxval=jnp.pi)
  goal = radius[:, None] * jnp.stack([jnp.cos(angle), jnp.sin(angle)], -1)
  angles = jnp.stack([jnp.cos(q[:, 0]), jnp.sin(q[:, 0]), jnp.cos(q[:, 1]), jnp.sin(q[:, 1])], -1)
  return jnp.concatenate([angles, jnp.zeros((num, 2)), goal], -1)


class PoseTraining(NamedTuple):
  params: dict
  losses: jax.Array      # [steps] each minibatch's loss before its step
  skipped: jax.Array     # steps not applied (non-finite loss or gradient)


def pretrain(net: vm.PoseNet, scenes, key, steps: int, batch_size: int = 64,
             learning_rate: float = 1e-3,
             config: rendering.RenderConfig = rendering.RenderConfig()) -> PoseTraining:
  """`steps` Adam steps of the pose net on minibatches of the scenes [N, 8] (rendered
  with `config`), regressing the targets' positions scenes[:, 6:8]. jit it with net,
  steps, batch_size and config static (or close over them)."""
  init_key, key = jax.random.split(key)
  params = net.init(init_key, jnp.zeros((1, config.height, config.width, 3)))
  optimizer = optax.adam(learning_rate)

  def loss_fn(params, batch):
    predicted = net.apply(params, rendering.render_batch(batch, config))
    return jnp.mean(jnp.sum((predicted - batch[:, 6:8])**2, -1))

  def step(carry, step_key):
    params, opt_state, skipped = carry
    batch = scenes[jax.random.randint(step_key, (batch_size,), 0, scenes.shape[0])]
    loss, grad = jax.value_and_grad(loss_fn)(params, batch)
    params, opt_state, skip, _ = apply_if_finite(optimizer, params, opt_state, grad, loss)
    return (params, opt_state, skipped + skip), loss

  (params, _, skipped), losses = jax.lax.scan(
      step, (params, optimizer.init(params), jnp.zeros(())), jax.random.split(key, steps))
  return PoseTraining(params, losses, skipped)


def position_errors(net: vm.PoseNet, params, scenes,
                    config: rendering.RenderConfig = rendering.RenderConfig(),
                    chunk: int = 250) -> jax.Array:
  """Distance [N] from each scene's predicted target position to the true one, the
  scenes rendered `chunk` at a time (to bound memory; N must be a multiple)."""
  if scenes.shape[0] % chunk:
    raise ValueError(f'the number of scenes ({scenes.shape[0]}) must be a multiple of '
                     f'chunk ({chunk}).')

  def one_chunk(batch):
    predicted = net.apply(params, rendering.render_batch(batch, config))
    return jnp.linalg.norm(predicted - batch[:, 6:8], axis=-1)
  errors = jax.lax.map(one_chunk, scenes.reshape((-1, chunk, scenes.shape[-1])))
  return errors.reshape(-1)

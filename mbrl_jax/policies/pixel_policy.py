"""Global policies that see pixels, as guided policy search uses them: flax modules of
the full state x [..., n] that render what the camera sees and act on (image, joint
state) only, so the target reaches them through the image alone. GPS's S-step,
linearisation (a Jacobian through the renderer: the anti-aliased image moves
smoothly with the state) and evaluation all call them on states.

The talk's three ways to train them, which differ in what the S-step may change:
  end_to_end       the whole VisuomotorPolicy, its vision started from the pose net;
  pose_features    the same network with the conv trunk frozen at the pose net's;
  pose_prediction  the pose net, frozen, predicts the target's position, and an MLP
                   of (joints, predicted position) is trained.
"""

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from mbrl_jax.envs import rendering
from mbrl_jax.policies import visuomotor as vm

VARIANTS = ('end_to_end', 'pose_features', 'pose_prediction')


def render_states(x, config: rendering.RenderConfig):
  """Images [..., H, W, 3] of arm states [..., n]."""
  flat = x.reshape((-1, x.shape[-1]))
  images = rendering.render_batch(flat, config)
  return images.reshape(x.shape[:-1] + images.shape[1:])


# The visuomotor network's settings at GPS's CI scale (smaller than the paper's).
NETWORK = dict(channels=(16, 8, 8), kernel_sizes=(5, 3, 3), strides=(2, 1, 1),
               head='spatial_softmax', hidden_sizes=(40, 40))


class PixelPolicy(nn.Module):
  """x [..., n] -> action [..., m]: `net`(render(x), x[..., :joint_size])."""
  net: vm.VisuomotorPolicy
  render_config: rendering.RenderConfig
  joint_size: int = 6

  def __call__(self, x):
    return self.net(render_states(x, self.render_config), x[..., :self.joint_size])


class PosePredictionPolicy(nn.Module):
  """x [..., n] -> action [..., m]: an MLP of (joints, the target position that
  `pose`, a PoseNet, predicts from render(x))."""
  pose: vm.PoseNet
  render_config: rendering.RenderConfig
  action_size: int
  joint_size: int = 6
  hidden_sizes: Sequence[int] = (40, 40)

  def setup(self):
    self.hidden = [nn.Dense(width) for width in self.hidden_sizes]
    self.out = nn.Dense(self.action_size)

  def __call__(self, x):
    h = jnp.concatenate([x[..., :self.joint_size],
                         self.pose(render_states(x, self.render_config))], -1)
    for layer in self.hidden:
      h = nn.relu(layer(h))
    return self.out(h)


def make(variant: str, action_size: int, render_config: rendering.RenderConfig, **network):
  """The global policy's module for a variant (VARIANTS), and the params paths its
  optimizer must leave alone; `network` overrides NETWORK's settings."""
  if variant not in VARIANTS:
    raise ValueError(f'unknown variant {variant!r}; valid: {", ".join(VARIANTS)}')
  unknown = set(network) - set(NETWORK)
  if unknown:
    raise ValueError(f'unknown network settings {sorted(unknown)}; valid: {", ".join(NETWORK)}')
  network = {**NETWORK, **network}
  if variant == 'pose_prediction':
    hidden_sizes = network.pop('hidden_sizes')
    return PosePredictionPolicy(vm.PoseNet(2, **network), render_config, action_size,
                                hidden_sizes=hidden_sizes), (('pose',),)
  frozen = (('net', 'vision', 'trunk'),) if variant == 'pose_features' else ()
  return PixelPolicy(vm.VisuomotorPolicy(action_size, **network), render_config), frozen


def with_pretrained(variant: str, params, pose_params):
  """The policy's params with the pretrained pose net put in: its vision (trunk and
  head) for end_to_end and pose_features, the whole pose net for pose_prediction."""
  inner = dict(params['params'])
  if variant == 'pose_prediction':
    inner['pose'] = pose_params['params']
  else:
    inner['net'] = vm.copy_pretrained(pose_params, {'params': inner['net']})['params']
  return {**params, 'params': inner}


def optimizer(learning_rate: float, frozen_paths) -> optax.GradientTransformation:
  """Adam on every parameter but those under the `frozen_paths` (tuples of names under
  'params'), which get zero updates."""
  def labels(params):
    def label(path, _):
      names = tuple(getattr(k, 'key', getattr(k, 'name', None)) for k in path)[1:]
      return 'frozen' if any(names[:len(p)] == tuple(p) for p in frozen_paths) else 'train'
    return jax.tree_util.tree_map_with_path(label, params)
  return optax.multi_transform({'train': optax.adam(learning_rate),
                                'frozen': optax.set_to_zero()}, labels)

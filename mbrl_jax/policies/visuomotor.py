"""Visuomotor policies of Levine, Finn, Darrell & Abbeel, "End-to-End Training of Deep
Visuomotor Policies" (JMLR 2016), sized for a CPU and small (e.g. 64x64 RGB) images.

  image [..., H, W, 3] -> ConvTrunk (conv 7x7/2, conv 5x5, conv 5x5, each + ReLU,
  'VALID' as in the paper: 64 -> 29 -> 25 -> 21) -> head -> concat joint state
  [..., J] -> Dense 40 -> ReLU -> Dense 40 -> ReLU -> Dense action_size (torques).

The paper's head is the spatial softmax: per channel c a softmax over all positions,
s_cij = exp(a_cij / alpha) / sum_i'j' exp(a_ci'j' / alpha) with one learned temperature
alpha, reduced to its expected image position (f_cx, f_cy), a "feature point". The other
heads are the paper's comparisons (HEADS). PoseNet is the pose CNN used to pretrain the
trunk; it names its trunk and head as the policy does, so their params copy over.

Coordinates (`pixel_grid`): x is the column, increasing left to right; y is the row,
increasing top to bottom (image row order, so y = -1 is the top edge). Pixel centres
sit at -1 + (2k + 1) / W (columns) and -1 + (2k + 1) / H (rows), so the image's outer
edges are -1 and +1, feature points lie strictly inside (-1, 1), and a uniform map
gives exactly (0, 0). (The GPS code's (k - W/2) / W is a shifted, halved version.)
Feature points are interleaved [x_0, y_0, x_1, y_1, ...]; reshape(..., C, 2) gives
each channel's (x, y).
"""

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

HEADS = ('spatial_softmax', 'softmax_fc', 'fc', 'maxpool_fc')


def check_head(head: str):
  if head not in HEADS:
    raise ValueError(f'unknown head {head!r}; valid heads: {", ".join(HEADS)}')


def pixel_grid(height: int, width: int, dtype=jnp.float32):
  """The normalised coordinates of the pixel centres: x [W] (columns), y [H] (rows)."""
  x = -1.0 + (2.0 * jnp.arange(width, dtype=dtype) + 1.0) / width
  y = -1.0 + (2.0 * jnp.arange(height, dtype=dtype) + 1.0) / height
  return x, y


def spatial_softmax(features, temperature):
  """Per channel, the softmax of features [..., H, W, C] / temperature over all H*W
  positions: s [..., H, W, C], each channel summing to 1."""
  shape = features.shape
  flat = features.reshape(shape[:-3] + (shape[-3] * shape[-2], shape[-1]))
  return jax.nn.softmax(flat / temperature, axis=-2).reshape(shape)


def expected_positions(features, temperature):
  """The feature points of features [..., H, W, C]: per channel the expected (x, y)
  under its spatial softmax, interleaved into [..., 2C] (see the module docstring)."""
  s = spatial_softmax(features, temperature)
  x, y = pixel_grid(features.shape[-3], features.shape[-2], s.dtype)
  fx = jnp.einsum('...ijc,j->...c', s, x)
  fy = jnp.einsum('...ijc,i->...c', s, y)
  return jnp.stack([fx, fy], -1).reshape(fx.shape[:-1] + (-1,))


def to_pixels(points, height: int, width: int):
  """Normalised interleaved points [..., 2K] -> pixel coordinates (column, row), where
  pixel (i, j)'s centre is (j, i): the inverse of pixel_grid's k -> -1 + (2k + 1) / W.
  A point's pixel is round() of these. Pixel sizes are those of the map the points were
  taken from (the trunk's output, not the input image, whose scale differs)."""
  size = jnp.tile(jnp.asarray([width, height], points.dtype), points.shape[-1] // 2)
  return ((points + 1.0) * size - 1.0) / 2.0


class SpatialSoftmax(nn.Module):
  """Feature maps [..., H, W, C] -> feature points [..., 2C], with one learned
  temperature alpha = exp(log_temperature) (starts at 1; the log keeps it positive)."""

  def setup(self):
    self.log_temperature = self.param('log_temperature', nn.initializers.zeros, ())

  def __call__(self, features):
    return expected_positions(features, jnp.exp(self.log_temperature))

  def probabilities(self, features):
    """The per-channel softmax s [..., H, W, C] itself (the 'softmax_fc' head's input)."""
    return spatial_softmax(features, jnp.exp(self.log_temperature))


class ConvTrunk(nn.Module):
  """image [..., H, W, 3] -> ReLU feature maps [..., H', W', channels[-1]]. Images are
  taken as floats as given (e.g. scaled to [0, 1]); 'VALID' padding, as in the paper,
  keeps border activations from seeing zero padding that would bias feature points."""
  channels: Sequence[int] = (32, 16, 16)  # the paper: (64, 32, 32)
  kernel_sizes: Sequence[int] = (7, 5, 5)
  strides: Sequence[int] = (2, 1, 1)

  @nn.compact
  def __call__(self, image):
    x = image
    for width, kernel, stride in zip(self.channels, self.kernel_sizes, self.strides):
      x = nn.relu(nn.Conv(width, (kernel, kernel), (stride, stride), padding='VALID')(x))
    return x


class Head(nn.Module):
  """Feature maps [..., H, W, C] -> a vector [..., 2C], the same width for every head
  so the comparisons differ only in how positions are read out:
    spatial_softmax  feature points (no weights but the temperature)
    softmax_fc       the spatial softmax's probabilities, flattened, then Dense
    fc               the feature maps flattened, then Dense
    maxpool_fc       2x2 max-pool (stride 2), flattened, then Dense"""
  head: str = 'spatial_softmax'

  def __post_init__(self):
    check_head(self.head)
    super().__post_init__()

  @nn.compact
  def __call__(self, features):
    width = 2 * features.shape[-1]
    flatten = lambda x: x.reshape(x.shape[:-3] + (-1,))
    if self.head == 'spatial_softmax':
      return SpatialSoftmax()(features)
    if self.head == 'softmax_fc':
      return nn.Dense(width)(flatten(SpatialSoftmax().probabilities(features)))
    if self.head == 'maxpool_fc':
      features = nn.max_pool(features, (2, 2), (2, 2))
    return nn.Dense(width)(flatten(features))


class ImageFeatures(nn.Module):
  """image [..., H, W, 3] -> the head's vector [..., 2C]: the conv trunk and the head,
  the part the pose CNN and the policy share (their 'vision' params)."""
  channels: Sequence[int] = (32, 16, 16)
  kernel_sizes: Sequence[int] = (7, 5, 5)
  strides: Sequence[int] = (2, 1, 1)
  head: str = 'spatial_softmax'

  def setup(self):
    self.trunk = ConvTrunk(self.channels, self.kernel_sizes, self.strides)
    self.readout = Head(self.head, name='head')

  def feature_maps(self, image):
    return self.trunk(image)

  def __call__(self, image):
    return self.readout(self.trunk(image))


class VisuomotorPolicy(nn.Module):
  """(image [..., H, W, 3], joint_state [..., J]) -> action [..., action_size] (torques).

  `features` gives the head's output (the feature points for 'spatial_softmax') and
  `feature_maps` the trunk's, both through apply(..., method=...):
    points = policy.apply(params, image, method=VisuomotorPolicy.features)

  A PoseNet's pretrained trunk (and head) go in by copying the 'vision' params
  subtrees of the same name (the shapes match when channels, kernels, strides and
  head do):
    pose_params = PoseNet(head=h).init(key, image)  # ... then pretrain on positions
    params = VisuomotorPolicy(action_size, head=h).init(key, image, joint_state)
    params = copy_pretrained(pose_params, params)   # 'trunk' and 'head'
  """
  action_size: int
  channels: Sequence[int] = (32, 16, 16)
  kernel_sizes: Sequence[int] = (7, 5, 5)
  strides: Sequence[int] = (2, 1, 1)
  head: str = 'spatial_softmax'
  hidden_sizes: Sequence[int] = (40, 40)

  def __post_init__(self):
    check_head(self.head)
    super().__post_init__()

  def setup(self):
    self.vision = ImageFeatures(self.channels, self.kernel_sizes, self.strides, self.head)
    self.hidden = [nn.Dense(width) for width in self.hidden_sizes]
    self.out = nn.Dense(self.action_size)

  def feature_maps(self, image):
    return self.vision.feature_maps(image)

  def features(self, image):
    return self.vision(image)

  def __call__(self, image, joint_state):
    x = jnp.concatenate([self.features(image), joint_state], -1)
    for layer in self.hidden:
      x = nn.relu(layer(x))
    return self.out(x)


class PoseNet(nn.Module):
  """The pose CNN for pretraining: image [..., H, W, 3] -> target position
  [..., target_size] (e.g. an object's 2-D or 3-D position), linear from the head.
  Its 'vision' params have the names and shapes of VisuomotorPolicy's."""
  target_size: int = 3
  channels: Sequence[int] = (32, 16, 16)
  kernel_sizes: Sequence[int] = (7, 5, 5)
  strides: Sequence[int] = (2, 1, 1)
  head: str = 'spatial_softmax'

  def __post_init__(self):
    check_head(self.head)
    super().__post_init__()

  def setup(self):
    self.vision = ImageFeatures(self.channels, self.kernel_sizes, self.strides, self.head)
    self.out = nn.Dense(self.target_size)

  def feature_maps(self, image):
    return self.vision.feature_maps(image)

  def features(self, image):
    return self.vision(image)

  def __call__(self, image):
    return self.out(self.features(image))


def copy_pretrained(source, target, parts: Sequence[str] = ('trunk', 'head')):
  """target's variables with the 'vision' subtrees `parts` of source's params put in:
  e.g. a pretrained PoseNet's trunk (and head: its temperature, or its Dense) into a
  VisuomotorPolicy's params. Pure: neither input is changed."""
  vision = dict(target['params']['vision'])
  for part in parts:
    vision[part] = source['params']['vision'][part]
  return {**target, 'params': {**target['params'], 'vision': vision}}


def points_in_image(points, feature_shape, kernel_sizes: Sequence[int] = (7, 5, 5),
                    strides: Sequence[int] = (2, 1, 1)):
  """Feature points [..., 2K] (normalised over the trunk's output map of feature_shape
  (H', W')) -> input-image pixel coordinates (column, row) [..., K, 2], each the centre
  of the receptive field of the map position (pixel (i, j)'s centre is (j, i)): through
  each 'VALID' conv backwards, input = output * stride + (kernel - 1) / 2."""
  cols_rows = to_pixels(points, *feature_shape).reshape(points.shape[:-1] + (-1, 2))
  for kernel, stride in reversed(list(zip(kernel_sizes, strides))):
    cols_rows = cols_rows * stride + (kernel - 1) / 2
  return cols_rows

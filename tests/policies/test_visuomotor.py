"""The spatial softmax against hand-computed pixel positions and central finite
differences (float64), and the visuomotor networks' shapes, head names and trunk sharing."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mbrl_jax.policies import visuomotor as vm

H, W = 5, 7  # not square, so a swapped x and y shows


def one_hot_maps(pixels, magnitude=50.0):
  """[H, W, C] maps, channel c hot at pixels[c] = (row, column)."""
  maps = np.zeros((H, W, len(pixels)))
  for c, (i, j) in enumerate(pixels):
    maps[i, j, c] = magnitude
  return jnp.asarray(maps, jnp.float32)


def centre(i, j):
  return -1.0 + (2 * j + 1) / W, -1.0 + (2 * i + 1) / H


def test_one_hot_gives_the_pixel_centre():
  pixels = [(0, 0), (0, W - 1), (H - 1, 0), (H - 1, W - 1), (2, 3), (1, 5)]
  points = vm.expected_positions(one_hot_maps(pixels), 0.1).reshape(-1, 2)
  np.testing.assert_allclose(points, [centre(i, j) for i, j in pixels], atol=1e-4)
  np.testing.assert_allclose(vm.to_pixels(points.reshape(-1), H, W).reshape(-1, 2),
                             [(j, i) for i, j in pixels], atol=1e-3)


def test_moving_the_hot_pixel_moves_the_point_one_step():
  base = vm.expected_positions(one_hot_maps([(2, 3)]), 0.1)
  right = vm.expected_positions(one_hot_maps([(2, 4)]), 0.1)
  down = vm.expected_positions(one_hot_maps([(3, 3)]), 0.1)
  np.testing.assert_allclose(right - base, [2 / W, 0.0], atol=1e-5)
  np.testing.assert_allclose(down - base, [0.0, 2 / H], atol=1e-5)


def test_uniform_maps_give_the_centre():
  maps = jnp.full((3, H, W, 4), 2.5)
  np.testing.assert_allclose(vm.expected_positions(maps, 0.7), np.zeros((3, 8)), atol=1e-6)


def central_difference(f, x, eps=1e-6):
  x = np.asarray(x, np.float64)
  grad = np.zeros_like(x)
  for k in np.ndindex(x.shape):
    step = np.zeros_like(x)
    step[k] = eps
    grad[k] = (f(jnp.asarray(x + step)) - f(jnp.asarray(x - step))) / (2 * eps)
  return grad


def test_gradients_match_finite_differences():
  rng = np.random.default_rng(0)
  with jax.enable_x64(True):
    maps = jnp.asarray(rng.normal(size=(4, 5, 3)))
    weights = jnp.asarray(rng.normal(size=(6,)))
    temperature = jnp.asarray(0.8)
    loss = lambda maps, t: jnp.sum(weights * vm.expected_positions(maps, t))
    for arg, x in ((0, maps), (1, temperature)):
      grad = np.asarray(jax.grad(loss, arg)(maps, temperature))
      f = (lambda m: loss(m, temperature)) if arg == 0 else (lambda t: loss(maps, t))
      fd = central_difference(f, x)
      assert np.linalg.norm(grad) > 1e-3
      assert np.linalg.norm(grad - fd) / np.linalg.norm(grad) < 1e-5

    # The module's learned temperature alpha = exp(log_temperature): d/dlog = alpha d/dalpha.
    module = vm.SpatialSoftmax()
    params = module.init(jax.random.key(0), maps)
    assert params['params']['log_temperature'] == 0.0  # alpha starts at 1
    params = {'params': {'log_temperature': jnp.asarray(0.3)}}
    g = jax.grad(lambda p: jnp.sum(weights * module.apply(p, maps)))(params)
    alpha = jnp.exp(0.3)
    np.testing.assert_allclose(g['params']['log_temperature'],
                               alpha * jax.grad(loss, 1)(maps, alpha), rtol=1e-10)


@pytest.mark.parametrize('head', vm.HEADS)
def test_heads_build_with_the_right_shapes(head):
  policy = vm.VisuomotorPolicy(action_size=2, head=head)
  image, joints = jnp.ones((2, 64, 64, 3)), jnp.ones((2, 6))
  params = policy.init(jax.random.key(0), image, joints)
  action = policy.apply(params, image, joints)
  assert action.shape == (2, 2) and np.all(np.isfinite(action))
  points = policy.apply(params, image, method=vm.VisuomotorPolicy.features)
  assert points.shape == (2, 32)
  pose = vm.PoseNet(target_size=3, head=head)
  assert pose.apply(pose.init(jax.random.key(1), image), image).shape == (2, 3)


def test_unknown_head_raises():
  with pytest.raises(ValueError, match='spatial_softmax, softmax_fc, fc, maxpool_fc'):
    vm.VisuomotorPolicy(action_size=2, head='conv')
  with pytest.raises(ValueError):
    vm.PoseNet(head='attention')


def test_pretrained_trunk_copies_into_the_policy():
  image = jax.random.uniform(jax.random.key(2), (2, 64, 64, 3))
  pose = vm.PoseNet(target_size=2)
  policy = vm.VisuomotorPolicy(action_size=2)
  pose_params = pose.init(jax.random.key(3), image)
  policy_params = policy.init(jax.random.key(4), image, jnp.zeros((2, 6)))
  copied = vm.copy_pretrained(pose_params, policy_params)
  for method in ('feature_maps', 'features'):
    ours = policy.apply(copied, image, method=getattr(vm.VisuomotorPolicy, method))
    theirs = pose.apply(pose_params, image, method=getattr(vm.PoseNet, method))
    np.testing.assert_array_equal(ours, theirs)
  # Different inits differ, so the equality above is the copy's doing.
  before = policy.apply(policy_params, image, method=vm.VisuomotorPolicy.feature_maps)
  assert not np.allclose(before, pose.apply(pose_params, image, method=vm.PoseNet.feature_maps))
  # The policy's own layers are untouched.
  assert copied['params']['out'] is policy_params['params']['out']


def test_feature_points_map_back_to_their_receptive_field_centres():
  """A one-hot map at (i, j) of the trunk's output maps to the centre of the input
  pixels that position sees: those where the gradient of that output through the
  trunk's convolutions (all-ones kernels, no ReLU cut) is non-zero."""
  kernels, strides = (5, 3, 3), (2, 1, 1)
  image = jnp.ones((1, 32, 32, 1))

  def trunk(x):
    for k, s in zip(kernels, strides):
      x = jax.lax.conv_general_dilated(x, jnp.ones((k, k, 1, 1)), (s, s), 'VALID',
                                       dimension_numbers=('NHWC', 'HWIO', 'NHWC'))
    return x

  out_h, out_w = trunk(image).shape[1:3]
  for i, j in [(0, 0), (3, 7), (out_h - 1, out_w - 1)]:
    grad = np.asarray(jax.grad(lambda x: trunk(x)[0, i, j, 0])(image))[0, :, :, 0]
    rows, cols = np.nonzero(grad)
    onehot = jnp.zeros((out_h, out_w, 1)).at[i, j, 0].set(50.0)
    point = vm.expected_positions(onehot, 1.0)
    col, row = np.asarray(vm.points_in_image(point, (out_h, out_w), kernels, strides))[0]
    np.testing.assert_allclose([col, row], [(cols.min() + cols.max()) / 2,
                                            (rows.min() + rows.max()) / 2], atol=1e-3)

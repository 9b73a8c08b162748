"""The two-link arm renderer: geometry (target centroid, arm tip, pixel <-> world), sub-pixel
smoothness of the anti-aliasing, vmap against a loop, distractors, output range and type."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mbrl_jax.envs import rendering
from mbrl_jax.envs.two_link_arm import TwoLinkArm

CONFIG = rendering.RenderConfig()
PIXEL = 4.4 / 64  # world units per pixel of the default config
DISTRACTORS = (
    rendering.Distractor('square', (-1.6, 1.6), 0.25, (0.2, 0.8, 0.2)),
    rendering.Distractor('triangle', (1.6, -1.6), 0.3, (0.2, 0.3, 0.9)),
    rendering.Distractor('disc', (-1.6, -1.6), 0.2, (0.9, 0.8, 0.1)),
)
render = jax.jit(rendering.render, static_argnames='config')
render_batch = jax.jit(rendering.render_batch, static_argnames='config')


def arm_obs(q1, q2, goal):
  return jnp.array([np.cos(q1), np.sin(q1), np.cos(q2), np.sin(q2), 0.0, 0.0, *goal],
                   jnp.float32)


def target_centroid(goals, config=CONFIG):
  """Intensity-weighted centroids (column, row) [N, 2] of the target discs alone: the
  difference from a render whose target has the background's colour, the arm pointing away
  (towards -x when the goal is on the right, +x otherwise)."""
  goals = np.asarray(goals, np.float32)
  obs = jnp.stack([arm_obs(np.pi if g[0] > 0 else 0.0, 0.0, g) for g in goals])
  hidden = config._replace(target_colour=config.background)
  weight = np.abs(np.asarray(render_batch(obs, config) - render_batch(obs, hidden))).sum(-1)
  rows, cols = np.mgrid[:config.height, :config.width] + 0.5  # pixel centres
  total = weight.sum((1, 2))
  return np.stack([(weight * cols).sum((1, 2)) / total, (weight * rows).sum((1, 2)) / total], -1)


def test_target_centroid_at_goal_pixel():
  # Goals on a pixel edge (y = 0 is row 32.0), at a pixel centre (x = 0.5 PIXEL is column
  # 32.5) and at arbitrary fractions; clear of the shoulder, within radius 1.8.
  goals = [(0.5, 0.0), (0.5 * PIXEL, 0.5 + 0.5 * PIXEL), (1.2, 0.8), (-0.9, -1.0),
           (1.7, 0.1), (0.333, -1.234), (-1.27, 1.03), (0.0, 1.8)]
  centroids = target_centroid(goals)
  expected = np.asarray(rendering.world_to_pixel(np.asarray(goals, np.float32)))
  # Sampling the 1-pixel ramp at pixel centres biases the centroid by at most ~0.035 px.
  np.testing.assert_allclose(centroids, expected, atol=0.06)


def test_sub_pixel_moves_move_the_centroid_smoothly():
  steps = np.arange(8) * 0.1  # up to 0.7 pixel, in tenths
  for direction in [(1.0, 0.0), (0.0, 1.0), (0.6, 0.8)]:
    goals = np.array([0.37, -0.52]) + np.outer(steps * PIXEL, direction)
    centroids = target_centroid(goals)
    moved = np.linalg.norm(centroids - centroids[0], axis=-1)
    assert np.all(np.diff(moved) > 0.05), moved  # monotonic, no steps of zero
    expected = np.asarray(rendering.world_to_pixel(goals.astype(np.float32)))
    np.testing.assert_allclose(centroids, expected, atol=0.06)
  # A 0.3 pixel move moves the centroid by about 0.3 pixel.
  shift = np.diff(target_centroid([(0.2, 0.4), (0.2 + 0.3 * PIXEL, 0.4)]), axis=0)
  np.testing.assert_allclose(shift, [[0.3, 0.0]], atol=0.07)


def test_vmap_equals_loop_of_single_renders():
  config = CONFIG._replace(distractors=DISTRACTORS)
  rng = np.random.default_rng(0)
  q, goals = rng.uniform(-np.pi, np.pi, (5, 2)), rng.uniform(-1.8, 1.8, (5, 2))
  obs = jnp.stack([arm_obs(q1, q2, g) for (q1, q2), g in zip(q, goals)])
  batch = render_batch(obs, config)
  loop = np.stack([render(o, config) for o in obs])
  np.testing.assert_allclose(batch, loop, atol=1e-6)


def arm_coverage(image, config=CONFIG):
  """Per-pixel fraction of the arm's colour over the background, [H, W]."""
  bg, arm = np.asarray(config.background), np.asarray(config.arm_colour)
  return ((np.asarray(image) - bg) @ (arm - bg)) / np.sum((arm - bg)**2)


def test_arm_tip_covers_its_pixel():
  task = TwoLinkArm()
  rng = np.random.default_rng(0)
  qs = rng.uniform(-np.pi, np.pi, (6, 2))
  obs = jnp.stack([arm_obs(q1, q2, (0.0, 0.0)) for q1, q2 in qs])
  obs = obs.at[:, 6:].set(-task.tip_position(obs))  # the target opposite the tip
  tips = np.asarray(rendering.world_to_pixel(task.tip_position(obs)))
  images = render_batch(obs, CONFIG)
  for image, (col, row) in zip(images, tips):
    # At worst the pixel centre is 0.71 px from the tip, inside the 0.87 px round end.
    assert arm_coverage(image)[int(row), int(col)] > 0.6
  # Tips put exactly at pixel centres (by inverse kinematics) are fully covered.
  for col, row in [(50, 20), (13, 40), (32, 5)]:
    x, y = np.asarray(rendering.pixel_to_world(np.array([col + 0.5, row + 0.5]), CONFIG))
    q2 = np.arccos(np.clip((x * x + y * y - 2) / 2, -1, 1))
    q1 = np.arctan2(y, x) - np.arctan2(np.sin(q2), 1 + np.cos(q2))
    obs = arm_obs(q1, q2, (-x, -y))
    np.testing.assert_allclose(task.tip_position(obs), [x, y], atol=1e-5)
    assert arm_coverage(render(obs, CONFIG))[row, col] > 0.99


def test_world_pixel_round_trip_and_convention():
  xy = np.random.default_rng(1).uniform(-2.2, 2.2, (100, 2)).astype(np.float32)
  back = rendering.pixel_to_world(rendering.world_to_pixel(xy, CONFIG), CONFIG)
  np.testing.assert_allclose(back, xy, atol=1e-5)
  # Corners of the extent map to image corners; y up, so the top-left is (x_min, y_max).
  np.testing.assert_allclose(rendering.world_to_pixel([[-2.2, 2.2], [2.2, -2.2]], CONFIG),
                             [[0, 0], [64, 64]], atol=1e-4)
  centres = rendering.pixel_centres(CONFIG)
  np.testing.assert_allclose(rendering.world_to_pixel(centres[3, 7], CONFIG), [7.5, 3.5],
                             atol=1e-4)


def test_distractors_appear_and_leave_the_target_alone():
  config = CONFIG._replace(distractors=DISTRACTORS)
  obs = arm_obs(0.3, 0.5, (-0.8, 0.6))
  image = np.asarray(render(obs, config))
  for d in DISTRACTORS:
    present = np.all(np.abs(image - np.asarray(d.colour)) < 1e-3, axis=-1)
    assert present.sum() >= 4, d.shape
    assert not np.any(np.all(np.abs(np.asarray(render(obs, CONFIG)) - d.colour) < 1e-3, -1))
  goals = [(-0.8, 0.6), (0.41, 0.93), (1.1, -0.3)]
  np.testing.assert_allclose(target_centroid(goals, config), target_centroid(goals), atol=1e-4)
  with pytest.raises(ValueError, match='shape'):
    render(obs, CONFIG._replace(
        distractors=(rendering.Distractor('star', (0, 0), 0.2, (1, 1, 1)),)))


def test_output_range_shape_and_dtype():
  config = CONFIG._replace(distractors=DISTRACTORS)
  image = render(arm_obs(1.0, -2.0, (1.0, 1.0)), config)
  assert image.shape == (64, 64, 3) and image.dtype == jnp.float32
  assert float(image.min()) >= 0.0 and float(image.max()) <= 1.0
  assert np.all(np.isfinite(image))
  small = render(arm_obs(1.0, -2.0, (1.0, 1.0)), config._replace(height=32, width=48))
  assert small.shape == (32, 48, 3)


def test_jitter_colours_varies_and_stays_in_range():
  image = render(arm_obs(0.2, 0.4, (1.0, -1.0)), CONFIG._replace(distractors=DISTRACTORS))
  keys = jax.random.split(jax.random.key(0), 3)
  jittered = jax.jit(jax.vmap(rendering.jitter_colours, (0, None)))(keys, image)
  assert jittered.shape == (3, 64, 64, 3) and jittered.dtype == jnp.float32
  assert float(jittered.min()) >= 0.0 and float(jittered.max()) <= 1.0
  assert not np.allclose(jittered[0], jittered[1])
  assert float(jnp.abs(jittered - image).max()) < 0.5  # variation, not a new picture

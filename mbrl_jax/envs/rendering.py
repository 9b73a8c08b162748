"""A pure-JAX, anti-aliased renderer of the planar two-link arm task (pixels for visuomotor
policies).

What is drawn, back to front over a plain background: the distractors (squares, triangles
and discs, in the order given), the target disc at (goal_x, goal_y), then the arm on top: two
capsules shoulder -> elbow -> tip (unit links, as in `two_link_arm.TwoLinkArm`; the elbow is
(cos q1, sin q1)) and an optional shoulder disc, drawn as one shape (the union of their signed
distances) so the joints show no seams. Everything comes from the observation
(cos q1, sin q1, cos q2, sin q2, q1_dot, q2_dot, goal_x, goal_y) and a static `RenderConfig`.

Coordinates: the image shows the world rectangle `extent` = (x_min, x_max, y_min, y_max),
y up, so image row 0 is the top (y_max) and column 0 the left (x_min). Continuous pixel
coordinates (column, row) put the top-left corner of the image at (0, 0), so pixel [r, c]
covers [c, c + 1) x [r, r + 1) and its centre is at (c + 0.5, r + 0.5); `world_to_pixel` and
`pixel_to_world` convert between the two, and floor() of a pixel coordinate is the index of the
pixel that holds the point. An intensity-weighted centroid over pixel centres, sum w (i + 0.5)
/ sum w, is directly comparable with `world_to_pixel`.

Anti-aliasing: each pixel centre gets the signed distance (negative inside) to each shape,
turned into a coverage clip(0.5 - sdf / pixel_size, 0, 1), a linear ramp one pixel wide
centred on the edge; shapes are alpha-composited with it (image += coverage (colour - image)).
Sub-pixel moves thus change pixels continuously and centroids move smoothly, not in steps.

dm-pix is used only by `jitter_colours`, an optional visual-variation (domain randomisation)
step applied to rendered images: its random brightness, contrast, saturation and hue
adjustments. Rendering itself is plain jnp.

`render` takes one observation; `render_batch` is `jax.vmap` of it over a leading axis. The
config is static (a hashable NamedTuple of Python numbers, tuples and strings): close over it,
or pass it to `jax.jit(render, static_argnames='config')`.
"""

from typing import NamedTuple, Tuple

import dm_pix as pix
import jax
import jax.numpy as jnp
import numpy as np

RGB = Tuple[float, float, float]
SHAPES = ('square', 'triangle', 'disc')


class Distractor(NamedTuple):
  """A static object in the scene. size: the disc's radius, the square's half-side (axis
  aligned), the equilateral triangle's circumradius (apex straight up from the centre)."""
  shape: str
  centre: Tuple[float, float]
  size: float
  colour: RGB


class RenderConfig(NamedTuple):
  height: int = 64
  width: int = 64
  extent: Tuple[float, float, float, float] = (-2.2, 2.2, -2.2, 2.2)  # x_min, x_max, y_min, y_max
  background: RGB = (0.1, 0.1, 0.1)
  arm_colour: RGB = (0.9, 0.9, 0.9)
  link_width: float = 0.12  # world units; the capsules' radius is half this
  shoulder_radius: float = 0.1  # 0: no shoulder disc
  target_colour: RGB = (0.9, 0.2, 0.2)
  target_radius: float = 0.12
  distractors: Tuple[Distractor, ...] = ()


def _pixel_sizes(config: RenderConfig):
  x_min, x_max, y_min, y_max = config.extent
  return (x_max - x_min) / config.width, (y_max - y_min) / config.height


def world_to_pixel(xy, config: RenderConfig = RenderConfig()) -> jax.Array:
  """World points [..., 2] (x, y) -> continuous pixel coordinates [..., 2] (column, row),
  pixel centres at integer + 0.5 (see the module docstring)."""
  xy = jnp.asarray(xy, jnp.float32)
  x_min, _, _, y_max = config.extent
  sx, sy = _pixel_sizes(config)
  return jnp.stack([(xy[..., 0] - x_min) / sx, (y_max - xy[..., 1]) / sy], -1)


def pixel_to_world(colrow, config: RenderConfig = RenderConfig()) -> jax.Array:
  """Inverse of `world_to_pixel`: (column, row) [..., 2] -> world (x, y) [..., 2]."""
  colrow = jnp.asarray(colrow, jnp.float32)
  x_min, _, _, y_max = config.extent
  sx, sy = _pixel_sizes(config)
  return jnp.stack([x_min + colrow[..., 0] * sx, y_max - colrow[..., 1] * sy], -1)


def pixel_centres(config: RenderConfig = RenderConfig()) -> jax.Array:
  """World coordinates [H, W, 2] of every pixel centre."""
  cols, rows = np.meshgrid(np.arange(config.width) + 0.5, np.arange(config.height) + 0.5)
  return pixel_to_world(np.stack([cols, rows], -1).astype(np.float32), config)


# Signed distances (negative inside) from points p [..., 2].

def sdf_disc(p, centre, radius):
  return jnp.linalg.norm(p - jnp.asarray(centre), axis=-1) - radius


def sdf_capsule(p, a, b, radius):
  """A segment a -> b thickened by `radius` (round ends)."""
  pa, ba = p - a, b - a
  # max(): a zero-length segment is a disc, not a NaN.
  h = jnp.clip(jnp.sum(pa * ba, -1) / jnp.maximum(jnp.sum(ba * ba), 1e-12), 0.0, 1.0)
  return jnp.linalg.norm(pa - h[..., None] * ba, axis=-1) - radius


def sdf_square(p, centre, half_side):
  d = jnp.abs(p - jnp.asarray(centre)) - half_side
  outside = jnp.linalg.norm(jnp.maximum(d, 0.0), axis=-1)
  return outside + jnp.minimum(jnp.max(d, -1), 0.0)


def sdf_triangle(p, centre, circumradius):
  """Equilateral triangle, apex up (Inigo Quilez's exact distance, folded by symmetry)."""
  k = np.sqrt(3.0)
  r = circumradius * k / 2  # half the side
  q = p - jnp.asarray(centre)
  x, y = jnp.abs(q[..., 0]) - r, q[..., 1] + r / k
  # Fold the point across the right edge's normal onto the bottom edge's side.
  fold = x + k * y > 0
  x, y = jnp.where(fold, (x - k * y) / 2, x), jnp.where(fold, (-k * x - y) / 2, y)
  x = x - jnp.clip(x, -2 * r, 0.0)
  return -jnp.sqrt(x * x + y * y) * jnp.sign(y)


_SDFS = {'square': sdf_square, 'triangle': sdf_triangle, 'disc': sdf_disc}


def arm_points(obs) -> Tuple[jax.Array, jax.Array]:
  """(elbow, tip) world positions of a single observation, unit links as in TwoLinkArm."""
  c1, s1, c2, s2 = obs[0], obs[1], obs[2], obs[3]
  elbow = jnp.stack([c1, s1])
  return elbow, elbow + jnp.stack([c1 * c2 - s1 * s2, s1 * c2 + c1 * s2])


def render(obs, config: RenderConfig = RenderConfig()) -> jax.Array:
  """One observation [8] -> image [H, W, 3] float32 in [0, 1]."""
  obs = jnp.asarray(obs, jnp.float32)
  p = pixel_centres(config)
  sx, sy = _pixel_sizes(config)
  pixel = float(np.sqrt(sx * sy))  # one pixel's width, for the anti-aliasing ramp
  image = jnp.broadcast_to(jnp.asarray(config.background, jnp.float32),
                           (config.height, config.width, 3))

  def paint(image, sdf, colour):
    coverage = jnp.clip(0.5 - sdf / pixel, 0.0, 1.0)[..., None]
    return image + coverage * (jnp.asarray(colour, jnp.float32) - image)

  for d in config.distractors:  # a loop over a few static objects, not over pixels
    if d.shape not in _SDFS:
      raise ValueError(f'Distractor shape must be one of {SHAPES}, got {d.shape!r}.')
    image = paint(image, _SDFS[d.shape](p, d.centre, d.size), d.colour)
  image = paint(image, sdf_disc(p, obs[6:8], config.target_radius), config.target_colour)
  elbow, tip = arm_points(obs)
  shoulder, radius = jnp.zeros(2), config.link_width / 2
  arm = jnp.minimum(sdf_capsule(p, shoulder, elbow, radius), sdf_capsule(p, elbow, tip, radius))
  if config.shoulder_radius > 0:
    arm = jnp.minimum(arm, sdf_disc(p, shoulder, config.shoulder_radius))
  image = paint(image, arm, config.arm_colour)
  # Convex combinations of colours in [0, 1] stay there; clip guards colours given outside.
  return jnp.clip(image, 0.0, 1.0)


def render_batch(obs, config: RenderConfig = RenderConfig()) -> jax.Array:
  """Observations [B, 8] -> images [B, H, W, 3]: `jax.vmap` of `render`."""
  return jax.vmap(lambda o: render(o, config))(obs)


def jitter_colours(key, image, brightness: float = 0.1, contrast: float = 0.2,
                   saturation: float = 0.2, hue: float = 0.05) -> jax.Array:
  """Random visual variation of one image [H, W, 3] (dm-pix's random brightness delta in
  [-b, b), contrast and saturation factors in [1 - c, 1 + c), hue shift in [-h, h)), clipped
  to [0, 1]. vmap over keys and images for a batch."""
  kb, kc, ks, kh = jax.random.split(key, 4)
  image = pix.random_brightness(kb, image, brightness)
  image = pix.random_contrast(kc, image, 1 - contrast, 1 + contrast)
  image = pix.random_saturation(ks, jnp.clip(image, 0.0, 1.0), 1 - saturation, 1 + saturation)
  image = pix.random_hue(kh, jnp.clip(image, 0.0, 1.0), hue)
  return jnp.clip(image, 0.0, 1.0)

"""GPS's pixel policies (policies.pixel_policy): they act on the rendered state,
freeze what their variant says, and take the pretrained pose net's params."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mbrl_jax.policies import pixel_policy as vp
from mbrl_jax.envs import rendering, two_link_arm
from mbrl_jax.policies import visuomotor as vm

SMALL = rendering.RenderConfig(height=32, width=32, link_width=0.2, target_radius=0.2)
NET = dict(channels=(8, 4, 4))
STATES = two_link_arm.straight_starts(two_link_arm.TRAIN_GOALS)


def test_pixel_policy_acts_on_the_rendered_state():
  """The action is the inner network's on (render(x), x[:6]); moving only the target
  (the goal entries of the state) changes the action, through the pixels."""
  net, _ = vp.make('end_to_end', 2, SMALL, **NET)
  params = net.init(jax.random.PRNGKey(0), STATES)
  action = net.apply(params, STATES)
  inner = vm.VisuomotorPolicy(2, channels=(8, 4, 4), kernel_sizes=(5, 3, 3))
  direct = inner.apply({'params': params['params']['net']}, rendering.render_batch(STATES, SMALL),
                       STATES[:, :6])
  np.testing.assert_allclose(action, direct, rtol=1e-5, atol=1e-6)
  moved = STATES.at[:, 6].add(0.3)
  assert np.abs(np.asarray(net.apply(params, moved) - action)).max() > 1e-4


@pytest.mark.parametrize('variant', vp.VARIANTS)
def test_frozen_parts_stay_and_the_rest_learns(variant):
  """Three Adam steps on a regression: the params under the variant's frozen paths
  are unchanged, every other leaf moves; the pose net's params go where they belong."""
  net, frozen = vp.make(variant, 2, SMALL, **NET)
  params = net.init(jax.random.PRNGKey(1), STATES)
  pose = vm.PoseNet(2, channels=(8, 4, 4), kernel_sizes=(5, 3, 3))
  pose_params = pose.init(jax.random.PRNGKey(2), jnp.zeros((1, 32, 32, 3)))
  params = vp.with_pretrained(variant, params, pose_params)
  vision = params['params']['pose'] if variant == 'pose_prediction' else (
      params['params']['net']['vision'])
  source = pose_params['params'] if variant == 'pose_prediction' else (
      pose_params['params']['vision'])
  for a, b in zip(jax.tree.leaves(vision), jax.tree.leaves(source)):
    np.testing.assert_array_equal(a, b)
  optimizer = vp.optimizer(1e-2, frozen)
  opt_state = optimizer.init(params)
  loss = lambda p: jnp.sum((net.apply(p, STATES) - 1.0)**2)
  new = params
  for _ in range(3):
    updates, opt_state = optimizer.update(jax.grad(loss)(new), opt_state, new)
    new = jax.tree.map(lambda p, u: p + u, new, updates)
  flat_old = dict(jax.tree_util.tree_flatten_with_path(params)[0])
  for path, leaf in jax.tree_util.tree_flatten_with_path(new)[0]:
    names = tuple(getattr(k, 'key', None) for k in path)[1:]
    is_frozen = any(names[:len(p)] == tuple(p) for p in frozen)
    same = np.array_equal(np.asarray(leaf), np.asarray(flat_old[path]))
    assert same == is_frozen, (variant, names)
  assert frozen or variant == 'end_to_end'


def test_unknown_variant_is_a_one_line_error():
  with pytest.raises(ValueError, match='unknown variant'):
    vp.make('pixels', 2, SMALL)

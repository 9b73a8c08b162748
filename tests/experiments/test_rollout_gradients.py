"""Return gradients through a rollout and call timing (experiments/common.py), on a
one-dimensional env whose returns and gradients are worked out by hand."""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from tests.helpers import experiment

common = experiment('common')


class State(NamedTuple):
  obs: jax.Array
  reward: jax.Array
  done: jax.Array
  t: jax.Array


class Integrator:
  """obs starts at 1 (whatever the key), obs' = obs + a, reward = a; done from the
  `done_at`-th step on."""

  def __init__(self, done_at=100):
    self.done_at = done_at

  def reset(self, key):
    del key
    return State(jnp.ones(1), jnp.float32(0.0), jnp.float32(0.0), jnp.int32(0))

  def step(self, state, action):
    t = state.t + 1
    return State(state.obs + action, action[0], (t >= self.done_at).astype(jnp.float32), t)


def params(w, b):
  return {'w': jnp.full((1, 1), w, jnp.float32), 'b': jnp.full((1,), b, jnp.float32)}


SEEDS = jnp.array([0, 1], jnp.uint32)


def test_linear_action_is_tanh_of_the_affine_map():
  p = {'w': jnp.array([[1.0, 0.0], [0.0, 2.0]]), 'b': jnp.array([0.0, 0.5])}
  np.testing.assert_allclose(common.linear_action(p, jnp.array([0.5, 0.25])),
                             np.tanh([0.5, 1.0]), rtol=1e-6)


def test_init_linear_policy_scales_a_standard_normal_by_the_obs_size():
  key = jax.random.key(3)
  p = common.init_linear_policy(key, obs_size=4, act_size=2, scale=0.1)
  np.testing.assert_allclose(p['w'], 0.1 * jax.random.normal(key, (2, 4)) / 2.0, rtol=1e-6)
  np.testing.assert_array_equal(p['b'], np.zeros(2))


def test_return_and_its_gradient_per_seed():
  # w = 0 and tanh(b) = 0.5: a = 0.5 every step, obs_t = 1, 1.5, 2. Return 1.5;
  # dR/db = 3 (1 - 0.25) = 2.25; dR/dw = (1 - 0.25) (1 + 1.5 + 2) = 3.375.
  fn = common.make_grad_fn(Integrator(), horizon=3, probe=False)
  values, grads = fn(params(0.0, np.arctanh(0.5)), SEEDS)
  assert values.shape == (2, 1) and grads['w'].shape == (2, 1, 1, 1)
  np.testing.assert_allclose(values, [[1.5], [1.5]], rtol=1e-5)
  np.testing.assert_allclose(grads['b'][:, 0, 0], [2.25, 2.25], rtol=1e-5)
  np.testing.assert_allclose(grads['w'][:, 0, 0, 0], [3.375, 3.375], rtol=1e-5)


def test_steps_after_the_first_done_do_not_count_and_the_probe_follows_the_obs():
  # w = b = 0: a = 0, obs stays 1. Done on the 2nd of 4 steps: 2 steps count, so
  # dR/db = dR/dw = 2. Probe sum_t obs_{t+1}^2 = 2, obs_{t+1} = 1 + sum_{s<=t} a_s:
  # dP/db = sum_t 2 (t + 1) = 2 (1 + 2) = 6, and dP/dw the same (d a_s/dw = obs_s = 1).
  fn = common.make_grad_fn(Integrator(done_at=2), horizon=4, probe=True)
  values, grads = fn(params(0.0, 0.0), SEEDS)
  np.testing.assert_allclose(values, [[0.0, 2.0]] * 2, atol=1e-6)
  np.testing.assert_allclose(grads['b'][..., 0], [[2.0, 6.0]] * 2, rtol=1e-5)
  np.testing.assert_allclose(grads['w'][..., 0, 0], [[2.0, 6.0]] * 2, rtol=1e-5)


def test_flat_gradients_join_the_leaves_in_tree_order():
  grads = {'w': np.array([[[[3, 4]]], [[[5, 6]]]]), 'b': np.array([[[1]], [[2]]])}
  flat = common.flat_gradients(grads)  # 'b' before 'w'
  np.testing.assert_array_equal(flat, [[[1, 3, 4]], [[2, 5, 6]]])


def test_first_and_second_call_seconds_calls_twice_and_keeps_the_first_output():
  calls = []

  def fn(x):
    calls.append(x)
    return jnp.asarray(len(calls))

  out, first, second = common.first_and_second_call_seconds(fn, 7)
  assert calls == [7, 7] and int(out) == 1
  assert first >= 0 and second >= 0


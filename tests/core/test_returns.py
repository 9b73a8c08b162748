"""Return arithmetic (mbrl_jax.returns) against sums written out by hand or unrolled
in NumPy loops."""

import jax.numpy as jnp
import numpy as np
import pytest

from mbrl_jax import estimators
from mbrl_jax.core import returns


def test_alive_mask_counts_the_terminating_step_and_nothing_after():
  dones = jnp.array([[0.0, 0.0, 1.0], [0.0, 1.0, 1.0], [0.0, 1.0, 1.0], [1.0, 1.0, 1.0]])
  np.testing.assert_array_equal(returns.alive_mask(dones),
                                [[1, 1, 1], [1, 1, 0], [1, 0, 0], [1, 0, 0]])


def test_window_return_matches_a_hand_computation():
  """A 4-step window of one env whose episode ends by the time limit after step 1:
  segment 1 = r0 + g r1 + g^2 V(true s2); segment 2 = r2 + g r3 + g^2 V(s4)."""
  g = 0.9
  r = np.array([1.0, 2.0, 3.0, 4.0])
  v_next = np.array([10.0, 20.0, 30.0, 40.0])  # V of each step's true next obs
  done = np.array([0.0, 1.0, 0.0, 0.0])
  trunc = np.array([0.0, 1.0, 0.0, 0.0])
  expected = (1 + g * 2 + g**2 * 20) + (3 + g * 4 + g**2 * 50)
  col = lambda x: jnp.asarray(x, jnp.float32)[:, None]
  out = returns.window_return(col(r), col(v_next), col(done), col(trunc), jnp.array([50.0]), g)
  np.testing.assert_allclose(out, [expected], rtol=1e-6)
  # A termination instead: no value after it.
  out = returns.window_return(col(r), col(v_next), col(done), col(0 * trunc),
                              jnp.array([50.0]), g)
  np.testing.assert_allclose(out, [(1 + g * 2) + (3 + g * 4 + g**2 * 50)], rtol=1e-6)
  # Without values: the discounted rewards of each segment.
  zero = col(np.zeros(4))
  out = returns.window_return(col(r), zero, col(done), col(trunc), jnp.zeros(1), g)
  np.testing.assert_allclose(out, [(1 + g * 2) + (3 + g * 4)], rtol=1e-6)


@pytest.mark.parametrize('lam', [0.0, 0.5, 1.0])
def test_lambda_returns_match_the_recursive_definition(lam):
  g, T = 0.95, 6
  rng = np.random.default_rng(0)
  r, v = rng.normal(size=(T, 2)), rng.normal(size=(T, 2))
  done = np.zeros((T, 2))
  done[2, 1] = 1.0
  trunc = done.copy()  # a time-limit end: bootstrap from the true next obs only
  got = returns.lambda_returns(*(jnp.asarray(x, jnp.float32) for x in (r, v, done, trunc)),
                              g, lam)
  want = np.zeros((T, 2))
  for n in range(2):
    nxt = v[T - 1, n]
    for t in reversed(range(T)):
      if done[t, n]:
        want[t, n] = r[t, n] + g * v[t, n]
      else:
        want[t, n] = r[t, n] + g * ((1 - lam) * v[t, n] + lam * nxt)
      nxt = want[t, n]
  np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
  if lam == 1.0:  # Monte Carlo within each segment, bootstrapped at the ends
    np.testing.assert_allclose(got[0, 0], sum(g**k * r[k, 0] for k in range(T)) + g**T * v[-1, 0],
                               rtol=1e-5)


def test_gae_matches_a_hand_computation():
  """Two trajectories of 3 steps: one runs to the window's end (bootstrapped), one
  terminates at step 1 (nothing after it counts)."""
  g, lam = 0.9, 0.8
  r = np.array([[1.0, 2.0], [0.5, 1.0], [2.0, 0.0]])
  v = np.array([[3.0, 1.0], [2.0, 0.5], [1.0, 4.0]])
  boot = np.array([4.0, 9.0])
  dones = np.array([[0.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
  adv, targets = returns.gae(*(jnp.asarray(x, jnp.float32) for x in (r, v, boot, dones)),
                             g, lam)
  # Column 0: deltas and the backward sum A_t = d_t + g lam A_{t+1}.
  d = [r[0, 0] + g * v[1, 0] - v[0, 0], r[1, 0] + g * v[2, 0] - v[1, 0], r[2, 0] + g * boot[0]
       - v[2, 0]]
  a2 = d[2]
  a1 = d[1] + g * lam * a2
  a0 = d[0] + g * lam * a1
  np.testing.assert_allclose(adv[:, 0], [a0, a1, a2], rtol=1e-5)
  np.testing.assert_allclose(targets[:, 0], np.array([a0, a1, a2]) + v[:, 0], rtol=1e-5)
  # Column 1 terminates at step 1: A_1 = r_1 - V(s_1), A_0 = d_0 + g lam A_1.
  a1 = r[1, 1] - v[1, 1]
  a0 = r[0, 1] + g * v[1, 1] - v[0, 1] + g * lam * a1
  np.testing.assert_allclose(adv[:2, 1], [a0, a1], rtol=1e-5)


def test_reward_to_go():
  r = jnp.array([[1.0], [2.0], [3.0]])
  np.testing.assert_allclose(returns.reward_to_go(r, 0.5)[:, 0],
                             [1 + 0.5 * 2 + 0.25 * 3, 2 + 0.5 * 3, 3], rtol=1e-6)
  # With the value after the window (10): each return gains 0.5^(T - t) * 10.
  np.testing.assert_allclose(returns.reward_to_go(r, 0.5, jnp.array([10.0]))[:, 0],
                             [2.75 + 1.25, 3.5 + 2.5, 3 + 5.0], rtol=1e-6)




def test_estimators_reward_to_go_is_the_batch_major_undiscounted_sum():
  r = jnp.array([[1.0, 2.0, 3.0], [0.0, -1.0, 4.0]])  # [N, H]
  np.testing.assert_allclose(estimators.reward_to_go(r), [[6, 5, 3], [3, 3, 4]])


def test_mve_targets_equal_the_unrolled_sum():
  rng = np.random.default_rng(0)
  horizon, batch, gamma = 4, 6, 0.9
  rewards = rng.normal(size=(horizon + 1, batch))
  bonus = rng.normal(size=(horizon + 1, batch))
  terminals = (rng.uniform(size=(horizon + 1, batch)) < 0.2).astype(float)
  end_value = rng.normal(size=batch)
  got = returns.mve_targets(jnp.asarray(rewards), jnp.asarray(terminals), jnp.asarray(bonus),
                            jnp.asarray(end_value), gamma)
  # y_i = sum_{k=i}^{H} g^{k-i} c_{i..k-1} r_k + sum_{k=i+1}^{H} g^{k-i} c_{i..k-1} bonus_k
  #       + g^{H+1-i} c_{i..H} end_value, with c the product of (1 - d) so far.
  for i in range(horizon + 1):
    cont, expected = 1.0, np.zeros(batch)
    for k in range(i, horizon + 1):
      expected += gamma**(k - i) * cont * (rewards[k] + (bonus[k] if k > i else 0.0))
      cont = cont * (1.0 - terminals[k])
    expected += gamma**(horizon + 1 - i) * cont * end_value
    np.testing.assert_allclose(np.asarray(got[i]), expected, rtol=1e-5, atol=1e-5)

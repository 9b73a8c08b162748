"""BADMM GPS (agents.gps.badmm): the C-step's augmented cost and its solution, the
dual step, and the whole loop on the point mass, judged by the neural policy alone."""

import jax
import jax.numpy as jnp
import numpy as np

from mbrl_jax import envs
from mbrl_jax.agents.gps import badmm
from mbrl_jax.planners.lqr_flm import QuadraticCost
from mbrl_jax.models.linear_gaussian import LinearDynamics
from mbrl_jax.policies import linear_gaussian as lg
from tests.agents.test_gps import train_on_point_mass

T, N_X, N_U = 5, 3, 2


def random_controller(rng, scale=1.0):
  cov = []
  for _ in range(T):
    a = rng.normal(size=(N_U, N_U))
    cov.append(a @ a.T + 0.5 * np.eye(N_U))
  f32 = lambda a: jnp.asarray(a, jnp.float32)
  return lg.LinearGaussianController(
      f32(scale * rng.normal(size=(T, N_U, N_X))), f32(rng.normal(size=(T, N_U))),
      f32(np.array(cov)), f32(rng.normal(size=(T, N_X))), f32(rng.normal(size=(T, N_U))))


def zero_cost():
  return QuadraticCost(jnp.zeros((T, N_X + N_U, N_X + N_U)), jnp.zeros((T, N_X + N_U)),
                       jnp.zeros((N_X, N_X)), jnp.zeros(N_X))


def test_augmented_cost_is_the_multiplier_term_plus_nu_times_minus_log_pi_bar():
  """At 20 random (x, u) per step, 1/2 z'Hz + h'z of the augmentation (of a zero
  cost) minus the direct -lambda_t'u - nu_t log pi_bar(u|x) is the same constant
  (the log-normaliser); with nu = 0 the u-gradient is -lambda_t everywhere."""
  rng = np.random.default_rng(0)
  pi_bar = random_controller(rng)
  lam = jnp.asarray(rng.normal(size=(T, N_U)), jnp.float32)
  nu = jnp.asarray([0.1, 0.5, 1.0, 2.0, 3.0], jnp.float32)
  aug = badmm.augmented_cost(zero_cost(), pi_bar, lam, nu)
  Z = jnp.asarray(rng.normal(size=(20, T, N_X + N_U)), jnp.float32)
  quadratic = jnp.einsum('nti,tij,ntj->nt', Z, aug.H, Z) / 2 + jnp.einsum('ti,nti->nt', aug.h, Z)
  log_pi = jax.vmap(jax.vmap(lg.log_prob, (None, 0, 0, 0)), (None, 0, 0, None))(
      pi_bar, Z[..., :N_X], Z[..., N_X:], jnp.arange(T))
  direct = -(lam * Z[..., N_X:]).sum(-1) - nu * log_pi
  gap = np.asarray(quadratic - direct)
  np.testing.assert_allclose(gap, np.broadcast_to(gap[:1], gap.shape), atol=2e-4)
  only_lam = badmm.augmented_cost(zero_cost(), pi_bar, lam, jnp.zeros(T))
  grad_u = jnp.einsum('tuj,ntj->ntu', only_lam.H[:, N_X:], Z) + only_lam.h[:, N_X:]
  np.testing.assert_allclose(grad_u, np.broadcast_to(-lam, grad_u.shape), atol=1e-6)


def test_c_step_solve_with_no_cost_is_the_geometric_mixture():
  """With a zero cost, lambda = 0 and actions that do not move the state (B = 0),
  the C-step's Lagrangian nu_t KL(p || pi_bar) + eta KL(p || p_old) is minimised per
  step by p proportional to pi_bar^(nu_t / (nu_t + eta)) p_old^(eta / (nu_t + eta)):
  precision (nu_t P_pi + eta P_old) / (nu_t + eta), mean its precision-weighted
  mean. Time-varying nu_t checks the per-step entropy weight nu_t + eta."""
  rng = np.random.default_rng(1)
  pi_bar, prev = random_controller(rng), random_controller(rng)
  dynamics = LinearDynamics(jnp.broadcast_to(jnp.eye(N_X), (T, N_X, N_X)),
                            jnp.zeros((T, N_X, N_U)), jnp.zeros((T, N_X)),
                            jnp.broadcast_to(jnp.eye(N_X), (T, N_X, N_X)))
  nu, eta = jnp.asarray([0.1, 0.5, 1.0, 2.0, 3.0], jnp.float32), 0.7
  aug = badmm.augmented_cost(zero_cost(), pi_bar, jnp.zeros((T, N_U)), nu)
  p, ok = badmm.c_step_solve(dynamics, aug, prev, nu, eta)
  assert bool(ok)
  P_pi, P_old = jnp.linalg.inv(pi_bar.cov), jnp.linalg.inv(prev.cov)
  w = (nu / (nu + eta))[:, None, None]
  precision = w * P_pi + (1 - w) * P_old
  np.testing.assert_allclose(jnp.linalg.inv(p.cov), precision, rtol=1e-4, atol=1e-4)
  x = jnp.asarray(rng.normal(size=(T, N_X)), jnp.float32)
  mean = lambda c: jax.vmap(lg.mean_action, (None, 0, 0))(c, x, jnp.arange(T))
  expected = jnp.linalg.solve(precision, (w * P_pi) @ mean(pi_bar)[..., None]
                              + ((1 - w) * P_old) @ mean(prev)[..., None])[..., 0]
  np.testing.assert_allclose(mean(p), expected, rtol=1e-4, atol=1e-4)


def test_dual_step_moves_lambda_along_the_mean_mismatch():
  """Two sampled states, one step: E_pi[u] - E_p[u] = mean((1, 0) - (0, 0.5), (3, 1)
  - (0, 0.5)) = (2, 0); lambda (0.1, -0.1) + rate 0.5 * nu 2 * (2, 0) = (2.1, -0.1).
  The S-step then regresses pi onto mu_p - Sigma_p lambda / nu: away from the
  direction lambda rewards, with weight nu Sigma_p^-1. nu doubles above the KL
  target, halves below a tenth of it."""
  lam, nu = jnp.array([[0.1, -0.1]]), jnp.array([2.0])
  policy_mean = jnp.array([[[1.0, 0.0]], [[3.0, 1.0]]])  # [N=2, T=1, m=2]
  controller_mean = jnp.array([[[0.0, 0.5]], [[0.0, 0.5]]])
  new = badmm.dual_step(lam, nu, policy_mean, controller_mean, 0.5)
  np.testing.assert_allclose(new, [[2.1, -0.1]], rtol=1e-6)
  controller = lg.LinearGaussianController(jnp.zeros((1, 2, 1)), jnp.zeros((1, 2)),
                                           jnp.diag(jnp.array([0.5, 2.0]))[None],
                                           jnp.zeros((1, 1)), jnp.array([[0.0, 0.5]]))
  target, precision = badmm.s_step_targets(controller, jnp.zeros((2, 1, 1)), new, nu)
  np.testing.assert_allclose(target[0, 0], [0.0 - 0.5 * 2.1 / 2, 0.5 + 2.0 * 0.1 / 2], rtol=1e-6)
  np.testing.assert_allclose(precision[0], np.diag([4.0, 1.0]), rtol=1e-6)
  adapted = badmm.adapt_nu(jnp.ones(3), jnp.array([0.5, 0.05, 0.001]), 0.1, 2.0, 0.5, 1e-3, 1e3)
  np.testing.assert_allclose(adapted, [2.0, 1.0, 0.5])


def test_badmm_policy_brings_the_point_mass_to_its_goal_from_new_starts():
  """BADMM (the local controllers sampled), the 4 training starts of test_gps.py, 5
  samples per condition, 6 iterations of 2 inner (C, S, dual) steps; then the MLP's
  mean alone, run deterministically for the 100 steps. 'Reaches': final position
  within 0.1 of the goal (the origin).

  Measured (seed 0), max final distance, training starts / held-out starts:
    1 iteration   0.30 / 0.48
    2 iterations  1.76 / 0.75   (epsilon jumps 1 -> 10; the policy lags the p_i)
    3 iterations  0.105 / 0.136
    4 iterations  0.024 / 0.028
    5 iterations  0.007 / 0.005
    6 iterations  0.006 / 0.009
    8 iterations  0.006 / 0.006
  (MDGPS, test_gps.py: 0.119 / 0.070 after 3, 0.009 / 0.008 after 6.) The samples'
  mean cost per condition: 158, 111, 148, 120 at the first iteration; 27, 20, 27, 19
  at the third; 15.3, 10.6, 16.5, 10.3 at the sixth; the deterministic policy's
  after the sixth 14.0, 9.7, 15.5, 9.3 (MDGPS's within 0.1 of these). Seeds 1 to 3:
  max over both sets 0.075, 0.23, 3.27 after 3; 0.085, 1.70, 0.018 after 4; 0.012,
  3.09 (one held-out start), 0.021 after 5; 0.004, 0.008, 0.010 after 6. Seed 0
  with nu_init 0.1 (not 0.01): 0.002 / 0.002 after 8; nu_init 1: 0.053 / 0.111
  (the KL anchor to pi_bar outweighs the weak late-step cost curvature). With
  dual_rate 0 (no multipliers) seed 0 is 0.007 / 0.010 after 6: on this task the KL
  penalty and the S-step do most of the work (|lambda| stays about 0.1 over the 100
  steps).
  """
  untrained, trained, held_out, costs, train_cost = train_on_point_mass(
      badmm.build(envs.make('point_mass'), badmm.default_config()), 6)
  assert (trained < 0.1).all() and (held_out < 0.1).all(), (trained, held_out)
  assert (untrained[0] > 1).all() and (untrained[1] > 1).all(), untrained
  assert (costs[-1] < 0.2 * costs[0]).all() and (train_cost < 20).all(), (costs, train_cost)

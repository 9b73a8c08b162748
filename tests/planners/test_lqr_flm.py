"""LQR-FLM's controller step: its limits in eta (the old controller; plain LQR), the
KL of the dual search against epsilon, and its expansion of the cost against
planners.lqr on the same quadratic problem."""

import jax
import jax.numpy as jnp
import numpy as np

from mbrl_jax import envs
from mbrl_jax.planners import lqr_flm
from mbrl_jax.envs import two_link_arm
from mbrl_jax.models.linear_gaussian import LinearDynamics
from mbrl_jax.planners import lqr
from mbrl_jax.policies import linear_gaussian as lg

T, N_X, N_U = 10, 4, 2


def problem(seed=0):
  """A random stable linear-Gaussian system, a quadratic cost (terminal x10) and a
  noisy open-loop controller to start from."""
  rng = np.random.default_rng(seed)
  A = np.eye(N_X) + 0.1 * rng.normal(size=(T, N_X, N_X))
  B = 0.3 * rng.normal(size=(T, N_X, N_U))
  c = 0.05 * rng.normal(size=(T, N_X))
  cov = np.broadcast_to(0.01 * np.eye(N_X), (T, N_X, N_X))
  dynamics = LinearDynamics(*(jnp.asarray(a, jnp.float32) for a in (A, B, c, cov)))
  Qx, Ru = np.diag([1.0, 2.0, 0.5, 1.0]), 0.1 * np.eye(N_U)

  def cost(x, u, t):
    weight = jnp.where(t == T, 10.0, 1.0)
    return weight * 0.5 * x @ Qx @ x + 0.5 * u @ Ru @ u

  prev = lg.open_loop(jnp.asarray(0.2 * rng.normal(size=(T, N_U)), jnp.float32),
                      0.5 * jnp.eye(N_U), N_X)
  mu0, sigma0 = jnp.asarray(rng.uniform(-1, 1, N_X), jnp.float32), 0.01 * jnp.eye(N_X)
  return dynamics, cost, prev, mu0, sigma0, (Qx, Ru)


def offsets(controller):
  """The action at x = 0 for every t: the controller's affine term."""
  return jax.vmap(lg.mean_action, (None, None, 0))(controller, jnp.zeros(N_X), jnp.arange(T))


def test_the_expanded_cost_gives_planners_lqr_gains():
  """The cost is quadratic, so the expansion is exact: plain_lqr equals planners.lqr
  on Q, R (terminal 10 Q) with the dynamics' offsets."""
  dynamics, cost, prev, mu0, sigma0, (Qx, Ru) = problem()
  quadratic = lqr_flm.quadratic_cost(cost, lg.trajectory_marginals(prev, dynamics, mu0, sigma0))
  K, k, _ = lqr_flm.plain_lqr(dynamics, quadratic)
  Q = np.concatenate([np.broadcast_to(Qx, (T, N_X, N_X)), 10 * Qx[None]])
  want = lqr(dynamics.A, dynamics.B, Q, np.broadcast_to(Ru, (T, N_U, N_U)), dynamics.c)
  np.testing.assert_allclose(K, want.K, rtol=1e-4, atol=1e-5)
  np.testing.assert_allclose(k, want.k, rtol=1e-4, atol=1e-5)


def test_large_eta_returns_the_previous_controller():
  dynamics, cost, prev, mu0, sigma0, _ = problem()
  quadratic = lqr_flm.quadratic_cost(cost, lg.trajectory_marginals(prev, dynamics, mu0, sigma0))
  new, ok = lqr_flm.solve(dynamics, quadratic, prev, 1e9)
  assert bool(ok)
  np.testing.assert_allclose(new.K, prev.K, atol=1e-5)
  np.testing.assert_allclose(offsets(new), offsets(prev), atol=1e-5)
  np.testing.assert_allclose(new.cov, prev.cov, rtol=1e-4, atol=1e-7)
  assert float(lg.trajectory_kl(new, prev, dynamics, mu0, sigma0)) < 1e-6


def test_small_eta_gives_plain_lqr_with_covariance_eta_over_quu():
  """c / eta dominates: the gains of LQR on c, and cov = (Q_uu / eta)^{-1}, the
  max-entropy solution of the scaled cost."""
  dynamics, cost, prev, mu0, sigma0, _ = problem()
  quadratic = lqr_flm.quadratic_cost(cost, lg.trajectory_marginals(prev, dynamics, mu0, sigma0))
  eta = 1e-5
  new, ok = lqr_flm.solve(dynamics, quadratic, prev, eta)
  K, k, Quu = lqr_flm.plain_lqr(dynamics, quadratic)
  assert bool(ok)
  np.testing.assert_allclose(new.K, K, rtol=1e-3, atol=1e-4)
  np.testing.assert_allclose(offsets(new), k, rtol=1e-3, atol=1e-4)
  np.testing.assert_allclose(new.cov / eta, np.linalg.inv(Quu), rtol=1e-2)


def test_kl_falls_with_eta():
  dynamics, cost, prev, mu0, sigma0, _ = problem()
  quadratic = lqr_flm.quadratic_cost(cost, lg.trajectory_marginals(prev, dynamics, mu0, sigma0))
  kls = [float(lg.trajectory_kl(lqr_flm.solve(dynamics, quadratic, prev, eta)[0], prev,
                                dynamics, mu0, sigma0)) for eta in (1e-2, 1e-1, 1.0, 10.0)]
  assert all(a > b for a, b in zip(kls, kls[1:])), kls


def test_dual_search_meets_epsilon_and_a_larger_step_improves_more():
  """KL within 10% of epsilon (measured: 0.49999994, 2.0, 8.0, eta 41.8, 8.58, 0.736);
  the predicted cost falls below the old controller's (114.4 -> 49.5, 22.0, 5.6;
  plain LQR 2.1), and further with a larger epsilon."""
  dynamics, cost, prev, mu0, sigma0, _ = problem()
  step = jax.jit(lqr_flm.update, static_argnums=(1,))
  quadratic = lqr_flm.quadratic_cost(cost, lg.trajectory_marginals(prev, dynamics, mu0, sigma0))
  before = float(lqr_flm.expected_cost(prev, dynamics, quadratic, mu0, sigma0))
  costs = []
  for epsilon in (0.5, 2.0, 8.0):
    result = step(dynamics, cost, prev, epsilon, mu0, sigma0)
    assert abs(float(result.kl) - epsilon) < 0.1 * epsilon, (epsilon, float(result.kl))
    costs.append(float(lqr_flm.expected_cost(result.controller, dynamics, quadratic, mu0,
                                             sigma0)))
  assert before > costs[0] > costs[1] > costs[2], (before, costs)


def test_update_without_a_finite_step_keeps_the_old_controller():
  """Dynamics that blow the old controller's marginals up to inf (A = 1e20 I) leave
  no eta with a finite solution: update returns the old controller, KL 0, eta inf,
  failed; the same problem with the stable dynamics does not fail."""
  dynamics, cost, prev, mu0, sigma0, _ = problem()
  assert not bool(lqr_flm.failed(lqr_flm.update(dynamics, cost, prev, 1.0, mu0, sigma0)))
  exploding = dynamics.replace(A=jnp.broadcast_to(1e20 * jnp.eye(N_X), dynamics.A.shape))
  result = lqr_flm.update(exploding, cost, prev, 1.0, mu0, sigma0)
  assert bool(lqr_flm.failed(result)) and float(result.kl) == 0.0 and np.isinf(float(result.eta))
  for new, old in zip(jax.tree.leaves(result.controller), jax.tree.leaves(prev)):
    np.testing.assert_array_equal(new, old)


def test_update_vmaps_over_conditions():
  dynamics, cost, prev, _, sigma0, _ = problem()
  starts = jnp.asarray([[0.5, -0.5, 0.2, 0.0], [-1.0, 0.3, 0.0, 0.4]], jnp.float32)
  step = lambda mu0: lqr_flm.update(dynamics, cost, prev, 1.0, mu0, sigma0)
  batched = jax.jit(jax.vmap(step))(starts)
  for i in range(2):
    one = jax.jit(step)(starts[i])
    np.testing.assert_allclose(batched.kl[i], one.kl, rtol=1e-4)
    np.testing.assert_allclose(batched.controller.K[i], one.controller.K, rtol=1e-3, atol=1e-5)


# --- the loop on the env -----------------------------------------------------------------
def run(env_name, starts, iterations, num_clusters, init_std=0.5):
  """LQR-FLM from a noisy zero open-loop controller, 5 samples per condition, all
  conditions in one vmap: (conditions, the last iteration's metrics, final samples)."""
  env = envs.make(env_name)
  n = env.observation_size
  sigma0 = 1e-4 * jnp.eye(n)
  init = lg.open_loop(jnp.zeros((env.episode_length, env.action_size)),
                      init_std**2 * jnp.eye(env.action_size), n)
  conditions = jax.vmap(lambda _: lqr_flm.initial_condition(init, 1.0))(jnp.arange(len(starts)))
  iteration = jax.jit(jax.vmap(lqr_flm.make_iteration(env, 5, sigma0, num_clusters)))
  key = jax.random.PRNGKey(0)
  for _ in range(iterations):
    key, step_key = jax.random.split(key)
    conditions, metrics = iteration(conditions, starts, jax.random.split(step_key, len(starts)))
  final = jax.vmap(lambda c, x0: lqr_flm.sample(env, c, x0, sigma0, jax.random.PRNGKey(5), 5))(
      conditions.controller, starts)
  return conditions, metrics, final


POINT_MASS_STARTS = jnp.array([[0.8, 0.6, 0, 0], [-0.7, 0.5, 0, 0], [0.5, -0.9, 0, 0],
                               [-0.6, -0.6, 0, 0]], jnp.float32)


def test_lqr_flm_brings_the_point_mass_to_its_goal_in_six_iterations():
  """'Reaches': the mean final position of 5 samples within 0.1 of the goal (the
  origin) from every start. Measured (seed 0): sample costs 133, 84, 160, 89 at the
  first iteration, 15.2, 10.8, 16.9, 10.8 at the sixth; final distances then 0.052
  to 0.056 (0.038 to 0.046 after 8). With plain OLS (5 samples for 7 regressors per
  step) the same budget ends 0.50 to 1.1 from the goal at costs 46 to 79: the GMM
  prior is what makes 5 samples enough."""
  _, metrics, final = run('point_mass', POINT_MASS_STARTS, 6, num_clusters=1)
  distance = np.linalg.norm(np.asarray(final.X[:, :, -1, :2]).mean(1), axis=-1)
  assert (distance < 0.1).all(), distance
  assert (np.asarray(metrics['cost']) < 20).all(), metrics['cost']
  _, ols_metrics, ols_final = run('point_mass', POINT_MASS_STARTS, 6, num_clusters=0)
  ols_distance = np.linalg.norm(np.asarray(ols_final.X[:, :, -1, :2]).mean(1), axis=-1)
  assert (ols_distance > 0.1).all(), ols_distance
  assert np.asarray(ols_final.cost).mean() > 2 * np.asarray(final.cost).mean()


def test_samples_start_from_an_env_state_as_given():
  """A start that is an env state (how Brax conditions are given) is every sample's
  first observation, unperturbed; an observation start gets the sigma0 noise."""
  from mbrl_jax import data
  env = envs.make('two_link_arm')
  state = jax.tree.map(lambda a: a[0], data.reset(env, jax.random.PRNGKey(3), 1))
  controller = lg.open_loop(jnp.zeros((env.episode_length, 2)), 0.1 * jnp.eye(2), 8)
  sigma0 = 0.01 * jnp.eye(8)
  from_state = lqr_flm.sample(env, controller, state, sigma0, jax.random.PRNGKey(0), 5)
  np.testing.assert_array_equal(from_state.X[:, 0], np.tile(state.obs, (5, 1)))
  assert np.abs(np.diff(np.asarray(from_state.X[:, -1]), axis=0)).max() > 1e-3  # u noise
  from_obs = lqr_flm.sample(env, controller, state.obs, sigma0, jax.random.PRNGKey(0), 5)
  assert 0.02 < np.abs(np.asarray(from_obs.X[:, 0] - state.obs)).max() < 0.5


def arm_tip(X):
  """The two-link arm's tip (unit links) from its observation (cos q1, sin q1, cos q2,
  sin q2, ...)."""
  c1, s1, c2, s2 = X[..., 0], X[..., 1], X[..., 2], X[..., 3]
  return np.stack([c1 + c1 * c2 - s1 * s2, s1 + s1 * c2 + c1 * s2], -1)


def test_lqr_flm_brings_the_two_link_arm_tip_to_each_goal():
  """Four goals (in the observation), the arm straight at the start; 'reaches': the
  mean final tip within 0.1 of the goal. Measured (4-cluster prior, seed 0; in the
  order of the goals): 0.125, 0.199, 0.542, 0.244 after 3 iterations; 0.051, 0.049,
  0.078, 0.053 after 10; 0.046, 0.041, 0.067, 0.048 after 12. A goal behind the
  arm, (-0.6, 1.3), is not reached in 20 (0.32: a local optimum of the local models)."""
  goals = np.array(two_link_arm.TRAIN_GOALS, np.float32)
  starts = two_link_arm.straight_starts(goals)
  _, metrics, final = run('two_link_arm', starts, 12, num_clusters=4, init_std=0.1**0.5)
  distance = np.linalg.norm(arm_tip(np.asarray(final.X[:, :, -1])).mean(1) - goals, axis=-1)
  assert (distance < 0.1).all(), distance

"""Gradient estimators against the closed-form gradient of a linear-quadratic task, and
total propagation's variance against its two parts, measured over independent batches;
the benchmark's pieces (experiments/bench_estimators.py) against the estimators and hand computations."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mbrl_jax import envs, models
from mbrl_jax import estimators as est
from tests.helpers import experiment

bench = experiment('bench_estimators')

# A small LQ system with a large gradient relative to the estimators' noise.
A = np.array([[1.0, 0.2], [-0.3, 0.9]])
B = np.array([[0.5, 0.0], [0.2, 1.0]])
K0 = np.array([[-0.2, 0.1], [0.0, -0.3]])
STD = np.array([0.5, 0.5])
START_MOMENT = np.eye(2) / 3.0  # E[x0 x0'] of U(-1, 1)^2


@pytest.fixture(autouse=True)
def x64():
  with jax.enable_x64(True):
    yield


def lq_problem():
  task = envs.LinearQuadratic(A=A, B=B, Q=np.eye(2), R=0.5 * np.eye(2))
  start = lambda k: jax.random.uniform(k, (2,), jnp.float64, -1.0, 1.0)
  return task, est.Problem(est.linear_policy, jnp.asarray(STD), est.task_step_fn(task), start)


def analytic(task, horizon, K=K0):
  return np.asarray(jax.grad(est.lq_expected_return, argnums=1)(
      task, jnp.asarray(K), jnp.asarray(STD), horizon, jnp.asarray(START_MOMENT))).ravel()


def sigma_point_noise(horizon):
  """2d points z = +-sqrt(d) e_i over (x0 / sqrt(1/3), eps): their mean of z z' is exactly
  the identity, so the mean of any quadratic function of (x0, eps) is its expectation."""
  d = 2 + 2 * horizon
  z = np.sqrt(d) * np.concatenate([np.eye(d), -np.eye(d)])
  return est.Noise(jnp.asarray(z[:, :2] * np.sqrt(1.0 / 3.0)),
                   jnp.asarray(z[:, 2:].reshape(2 * d, horizon, 2)),
                   jnp.zeros((2 * d, horizon, 2), jnp.uint32))


def test_closed_form_return_matches_rollouts():
  # The LQ return is a quadratic form in (x0, eps): its exact mean is the mean over
  # the sigma points, computed by plain rollouts, independently of the closed form.
  task, problem = lq_problem()
  for horizon in (1, 4):
    returns = est.rollouts(problem, {'K': jnp.asarray(K0)}, sigma_point_noise(horizon)).returns
    closed = est.lq_expected_return(task, jnp.asarray(K0), jnp.asarray(STD), horizon,
                                    jnp.asarray(START_MOMENT))
    np.testing.assert_allclose(float(returns.mean()), float(closed), rtol=1e-12)


def test_pathwise_equals_analytic_gradient():
  # The pathwise gradient is quadratic in (x0, eps) too, so its mean over the sigma
  # points is its expectation: it must equal the analytic gradient to rounding.
  task, problem = lq_problem()
  horizon = 4
  grads, _ = jax.jit(lambda p, noise: est.pathwise_grads(problem, p, noise))(
      {'K': jnp.asarray(K0)}, sigma_point_noise(horizon))
  exact = analytic(task, horizon)
  np.testing.assert_allclose(np.asarray(est.flatten(grads).mean(0)), exact, rtol=1e-10,
                             atol=1e-12)
  assert np.abs(exact).min() > 0.1  # a gradient worth comparing
  # And random draws agree within their standard errors.
  n = 4096
  sample = jax.jit(lambda k: est.flatten(est.pathwise_samples(problem, {'K': jnp.asarray(K0)},
                                                               k, n, horizon)))
  samples = np.asarray(sample(jax.random.PRNGKey(0)))
  z = (samples.mean(0) - exact) / (samples.std(0, ddof=1) / np.sqrt(n))
  assert np.abs(z).max() < 4.0, z


def test_likelihood_ratio_agrees_within_confidence_interval():
  task, problem = lq_problem()
  horizon, n = 3, 16384
  sample = jax.jit(lambda k: est.flatten(est.likelihood_ratio_samples(
      problem, {'K': jnp.asarray(K0)}, k, n, horizon)))
  samples = np.asarray(sample(jax.random.PRNGKey(1)))
  se = samples.std(0, ddof=1) / np.sqrt(n)
  exact = analytic(task, horizon)
  z = (samples.mean(0) - exact) / se
  assert np.abs(z).max() < 4.0, z
  # The interval is tight enough to reject a gradient 20% off.
  assert np.abs((samples.mean(0) - 1.2 * exact) / se).max() > 4.0


def sine_map_problem():
  """A scalar map s' = sin(3 s + a), reward -(s' - 0.5)^2: chaotic (slope 3), so the
  pathwise variance grows exponentially with the horizon and the LR one does not."""
  def step(obs, action, key):
    del key
    nxt = jnp.sin(3.0 * obs + action)
    return nxt, -jnp.sum((nxt - 0.5)**2)
  start = lambda k: 0.1 * jax.random.normal(k, (1,), jnp.float64)
  mean = lambda p, obs: p['w'] @ obs + p['b']
  params = {'w': jnp.array([[0.3]]), 'b': jnp.array([0.1])}
  return est.Problem(mean, jnp.array([0.5]), step, start), params


def batch_variances(problem, params, horizon, batches=300, n=32):
  """Trace of the covariance, over independent batches, of each batch's estimate:
  pathwise, likelihood ratio, combined (whole gradient), combined (per step)."""
  def one(key):
    noise = est.sample_noise(problem, key, n, horizon)
    pw, traj = est.pathwise_grads(problem, params, noise)
    lr = est.likelihood_ratio_grads(problem, params, traj)
    tp, _ = est.combine(pw, lr)
    tp_step, _ = est.total_propagation_per_step_grads(problem, params, noise)
    return jnp.stack([est.flatten(g).mean(0) for g in (pw, lr, tp, tp_step)])
  means = jax.jit(jax.vmap(one))(jax.random.split(jax.random.PRNGKey(horizon), batches))
  return dict(zip(('pw', 'lr', 'tp', 'tp_step'),
                  np.var(np.asarray(means), axis=0, ddof=1).sum(-1)))


@pytest.mark.parametrize('case', ['lq_pathwise_wins', 'sine_balanced', 'sine_lr_wins'])
def test_total_propagation_variance_at_most_the_smaller(case):
  if case == 'lq_pathwise_wins':
    _, problem = lq_problem()
    params, horizon = {'K': jnp.asarray(K0)}, 2
  else:
    problem, params = sine_map_problem()
    horizon = 2 if case == 'sine_balanced' else 6
  var = batch_variances(problem, params, horizon)
  smaller = min(var['pw'], var['lr'])
  ratio = max(var['pw'], var['lr']) / smaller
  # The case is what its name says ...
  if case == 'sine_balanced':
    assert ratio < 4, var
  else:
    assert ratio > 5, var
    assert (var['pw'] < var['lr']) == (case == 'lq_pathwise_wins'), var
  # ... and neither combination is worse than the better part (20%: the sampling error
  # of variances from 300 batches and of the weights estimated from 32 trajectories).
  assert var['tp'] <= 1.2 * smaller, var
  assert var['tp_step'] <= 1.2 * smaller, var
  if case == 'sine_balanced':  # comparable parts: a clear gain
    assert var['tp'] < 0.8 * smaller, var


def test_mixing_weight_is_the_variance_optimum():
  key_a, key_b = jax.random.split(jax.random.PRNGKey(2))
  a = jax.random.normal(key_a, (5000, 3))
  b = 3.0 * jax.random.normal(key_b, (5000, 3))  # independent, 9x the variance
  assert abs(float(est.mixing_weight(a, b, use_covariance=False)) - 0.9) < 0.01
  assert abs(float(est.mixing_weight(a, b)) - 0.9) < 0.01
  # Perfectly correlated with twice the spread: the better one alone.
  assert float(est.mixing_weight(a, 2 * a)) == pytest.approx(1.0)
  assert float(est.mixing_weight(a, 2 * a, use_covariance=False)) == pytest.approx(0.8)


def test_per_step_total_propagation_reduces_to_its_parts():
  problem, params = sine_map_problem()
  noise = est.sample_noise(problem, jax.random.PRNGKey(3), 16, 5)

  @jax.jit
  def run(noise):
    pw, traj = est.pathwise_grads(problem, params, noise)
    lr = est.likelihood_ratio_grads(problem, params, traj)
    per_step = lambda w: est.total_propagation_per_step_grads(problem, params, noise,
                                                             fixed_weight=w)[0]
    _, weights = est.total_propagation_per_step_grads(problem, params, noise)
    return [est.flatten(g) for g in (per_step(1.0), pw, per_step(0.0), lr)], weights

  (only_pw, pw, only_lr, lr), weights = run(noise)
  for got, want in ((only_pw, pw), (only_lr, lr)):
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-10, atol=1e-12)
  assert weights.shape == (5,) and np.all((weights >= 0) & (weights <= 1))


def test_num_steps_truncates_exactly():
  problem, params = sine_map_problem()
  noise = est.sample_noise(problem, jax.random.PRNGKey(4), 8, 6)
  short = est.Noise(noise.start_obs, noise.eps[:, :3], noise.keys[:, :3])

  @jax.jit
  def all_three(noise, num_steps):
    pw, traj = est.pathwise_grads(problem, params, noise, num_steps)
    tp, _ = est.total_propagation_per_step_grads(problem, params, noise, num_steps)
    lr = est.likelihood_ratio_grads(problem, params, traj)
    return [est.flatten(g) for g in (pw, tp, lr)]

  # A traced num_steps = 3 over 6 steps of noise, against 3 steps of noise.
  for got, want in zip(all_three(noise, 3), jax.jit(all_three, static_argnums=1)(short, None)):
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-12, atol=1e-14)


def test_pathwise_through_a_model_matches_finite_differences():
  config = models.default_config()
  config.update({'kind': 'deterministic', 'num_members': 1, 'num_elites': 1, 'num_layers': 1,
                 'width': 8})
  ensemble = models.Ensemble(config, 2, 2)
  model = ensemble.init(jax.random.PRNGKey(5))
  task, problem = lq_problem()
  step = est.model_step_fn(ensemble, model, task.reward_fn, sample=False)
  problem = problem._replace(step_fn=step)
  noise = est.sample_noise(problem, jax.random.PRNGKey(6), 2, 3)
  grads, _ = jax.jit(lambda p: est.pathwise_grads(problem, p, noise))({'K': jnp.asarray(K0)})
  ret = jax.jit(jax.vmap(lambda K: est.rollouts(problem, {'K': K}, noise).returns[0]))
  h = 1e-6
  steps = np.zeros((4, 2, 2))
  steps[0, 0, 0], steps[1, 0, 0], steps[2, 1, 0], steps[3, 1, 0] = h, -h, h, -h
  returns = np.asarray(ret(jnp.asarray(K0) + steps))
  fd = [(returns[0] - returns[1]) / (2 * h), (returns[2] - returns[3]) / (2 * h)]
  np.testing.assert_allclose([grads['K'][0, 0, 0], grads['K'][0, 1, 0]], fd, rtol=1e-5)


def test_bad_inputs_raise():
  _, problem = lq_problem()
  params, key = {'K': jnp.asarray(K0)}, jax.random.PRNGKey(0)
  with pytest.raises(ValueError, match='horizon'):
    est.pathwise_samples(problem, params, key, 8, 0)
  with pytest.raises(ValueError, match='num_samples'):
    est.likelihood_ratio_samples(problem, params, key, 1, 5)
  with pytest.raises(ValueError, match='num_samples'):
    est.total_propagation(problem, params, key, 1, 5)
  with pytest.raises(ValueError, match='act_size'):
    est.sample_noise(problem._replace(std=0.5), key, 8, 5)
  noise = est.sample_noise(problem, key, 8, 5)
  with pytest.raises(ValueError, match='disagree'):
    est.pathwise_grads(problem, params, noise._replace(keys=noise.keys[:, :4]))
  with pytest.raises(ValueError, match='horizon'):
    est.lq_expected_return(None, jnp.asarray(K0), 0.5, 0, jnp.eye(2))


# --- the benchmark's pieces (experiments/bench_estimators.py) ---------------------------------------
def test_cosine_of_known_vectors():
  a = np.array([[1.0, 0.0], [1.0, 1.0], [3.0, 4.0], [0.0, 0.0]])
  b = np.array([[0.0, 2.0], [-2.0, -2.0], [4.0, 3.0], [1.0, 0.0]])
  want = [0.0, -1.0, 24.0 / 25.0, np.nan]
  np.testing.assert_allclose(est.cosine(a, b), want, rtol=1e-15)
  np.testing.assert_allclose(np.asarray(jax.jit(est.cosine)(jnp.asarray(a), jnp.asarray(b))),
                             want, rtol=1e-15)
  assert est.cosine(a[2], b[2]) == pytest.approx(0.96, rel=1e-15)  # one pair: a scalar
  with jax.enable_x64(False):  # NumPy statistics keep float64 without x64 (float32: 1e-7 off)
    got = est.cosine(np.array([1.0, 1e-3]), np.array([1.0, 0.3]))
    want = (1 + 3e-4) / np.sqrt(1 + 1e-6) / np.sqrt(1.09)
    assert got.dtype == np.float64 and got == pytest.approx(want, rel=1e-15)


def test_fixed_policies_stay_in_bounds_with_the_stated_std():
  for name in ('pendulum', 'cartpole_swingup'):
    task = envs.TASKS[name]()
    low, high = (np.asarray(b) for b in task.action_bounds)
    policy = bench.fixed_policy(task, jax.random.PRNGKey(0))
    np.testing.assert_allclose(np.asarray(policy.std), 0.4 * (high - low) / 2, rtol=1e-6)
    obs = 100.0 * jax.random.normal(jax.random.PRNGKey(1), (256, task.obs_size))
    means = np.asarray(jax.vmap(policy.mean_fn, in_axes=(None, 0))(policy.params, obs))
    assert np.all((means >= low) & (means <= high)) and means.std(0).min() > 0
    # Sampled actions: the mean plus noise of the stated std.
    act = bench.sampling_policy(policy)
    samples = np.asarray(jax.vmap(act, in_axes=(None, 0))(
        obs[0], jax.random.split(jax.random.PRNGKey(2), 20000)))
    np.testing.assert_allclose(samples.std(0), np.asarray(policy.std), rtol=0.03)
    np.testing.assert_allclose(samples.mean(0), means[0], atol=0.03 * float(policy.std.max()))
  lq = bench.fixed_policy(envs.LinearQuadratic(), jax.random.PRNGKey(0))
  np.testing.assert_array_equal(lq.params['K'], [[-2, -2, 0, 0], [0, 0, -2, -2]])
  np.testing.assert_array_equal(lq.std, [0.5, 0.5])


def test_lq_gradient_agrees_with_sampled_pathwise_gradients():
  # Against rollouts from the task's own start distribution (the closed form assumes
  # E[x0 x0'] = I / 3), in the flattening order of the parameters.
  task = envs.LinearQuadratic()
  policy = bench.fixed_policy(task, None)
  problem = bench.problem_of(task, policy)
  horizon, n = 3, 4096
  exact = bench.lq_gradient(task, policy.params['K'], policy.std)(horizon)
  samples = np.asarray(jax.jit(lambda k: est.flatten(est.pathwise_samples(
      problem, policy.params, k, n, horizon)))(jax.random.PRNGKey(3)))
  z = (samples.mean(0) - exact) / (samples.std(0, ddof=1) / np.sqrt(n))
  assert exact.dtype == np.float64 and np.abs(z).max() < 4.0, z


def test_batch_evaluator_equals_the_estimators_on_the_same_noise():
  problem, params = sine_map_problem()
  horizon, n, batches, samples, chunks, num_steps = 4, 8, 3, 12, 2, 3
  evaluate = bench.make_evaluator(problem, params, horizon, n, batches, samples, chunks)
  key = jax.random.PRNGKey(7)
  estimates, weights, ref = evaluate(key, num_steps)
  assert estimates.shape == (batches, 4, 2) and ref.shape == (chunks, 2, 2)
  batch_key, ref_key = jax.random.split(key)
  for i, k in enumerate(jax.random.split(batch_key, batches)):
    noise = est.sample_noise(problem, k, n, horizon)
    pw, traj = est.pathwise_grads(problem, params, noise, num_steps)
    lr = est.likelihood_ratio_grads(problem, params, traj)
    tp, w = est.combine(pw, lr)
    tp_step, _ = est.total_propagation_per_step_grads(problem, params, noise, num_steps)
    want = [est.flatten(g).mean(0) for g in (pw, lr, tp, tp_step)]
    np.testing.assert_allclose(estimates[i], np.stack(want), rtol=1e-10, atol=1e-12)
    assert float(weights[i]) == pytest.approx(float(w), rel=1e-10)
  for c, k in enumerate(jax.random.split(ref_key, chunks)):
    noise = est.sample_noise(problem, k, samples // chunks, horizon)
    pw, traj = est.pathwise_grads(problem, params, noise, num_steps)
    lr = est.likelihood_ratio_grads(problem, params, traj)
    np.testing.assert_allclose(ref[c], np.stack([est.flatten(pw).mean(0),
                                                 est.flatten(lr).mean(0)]), rtol=1e-10)
  with pytest.raises(ValueError, match='multiple'):
    bench.make_evaluator(problem, params, horizon, n, batches, 10, 3)


def test_reference_from_chunks_by_hand():
  # Anti-correlated parts of equal spread: weight 1/2, the errors cancel exactly.
  ref = np.array([[[1.0], [3.0]], [[3.0], [1.0]]])
  mean, se, w = bench.reference_from_chunks(ref)
  assert w == 0.5 and mean.tolist() == [2.0] and se == 0.0
  # A part without spread takes all the weight.
  ref = np.array([[[1.0, 0.0], [2.0, 0.0]], [[3.0, 0.0], [2.0, 0.0]]])
  mean, se, w = bench.reference_from_chunks(ref)
  assert w == 0.0 and mean.tolist() == [2.0, 0.0] and se == 0.0
  # Identical parts: weight 1/2 and the standard error of the chunk means.
  ref = np.array([[[0.0], [0.0]], [[2.0], [2.0]], [[4.0], [4.0]]])
  mean, se, w = bench.reference_from_chunks(ref)
  assert w == 0.5 and mean.tolist() == [2.0] and se == pytest.approx(np.sqrt(4.0 / 3.0))


def test_score_and_crossover_by_hand():
  reference = np.array([1.0, 0.0])
  e = np.zeros((3, 4, 2))
  e[:, 0] = [[1.0, 0.0], [3.0, 0.0], [2.0, 0.0]]       # variance 1, norms 1, 3, 2
  e[:, 1] = [[0.0, 1.0], [0.0, 3.0], [np.nan, 0.0]]    # one non-finite batch
  e[:, 2] = [[1.0, 1.0], [1.0, 1.0], [1.0, 1.0]]       # no spread
  rows = bench.score(e, np.array([0.2, 0.4, 0.6]), reference)
  assert rows['pathwise'] == {'nonfinite_batches': 0, 'log10_variance': 0.0, 'grad_norm': 2.0,
                              'cosine': 1.0, 'cosine_pooled': 1.0}
  lr = rows['likelihood_ratio']
  assert lr['nonfinite_batches'] == 1 and lr['cosine'] == 0.0
  assert lr['log10_variance'] == pytest.approx(np.log10(2.0))
  tp = rows['total_propagation']
  assert tp['log10_variance'] is None and tp['cosine'] == pytest.approx(np.sqrt(0.5))
  assert tp['weight_on_pathwise'] == pytest.approx(0.4)
  assert rows['total_propagation_per_step']['cosine'] is None  # zero estimates: no angle

  def row(pw, lr, nonfinite=0):
    return {'pathwise': {'log10_variance': pw, 'nonfinite_batches': nonfinite},
            'likelihood_ratio': {'log10_variance': lr}}
  horizons = [1, 2, 5, 10]
  table = lambda rs: dict(zip(map(str, horizons), rs))
  assert bench.crossover(table([row(1, 0), row(0, 1), row(1, 0), row(2, 0)]), horizons) == 5
  assert bench.crossover(table([row(1, 0), row(1, 0), row(1, 0), row(0, 1)]), horizons) is None
  assert bench.crossover(table([row(1, 0)] * 4), horizons) == 1
  assert bench.crossover(table([row(0, 1)] * 3 + [row(None, 1, nonfinite=2)]), horizons) == 10


def test_model_is_fitted_to_both_policies_transitions():
  config = bench.model_config('cartpole_swingup', max_epochs=7)
  assert config.angle_dims == (1,) and config.max_epochs == 7 and config.num_members == 5
  config = bench.model_config('pendulum', max_epochs=1)
  config.update({'num_members': 2, 'num_elites': 1, 'num_layers': 1, 'width': 8,
                 'batch_size': 16})
  env = envs.make('pendulum')
  policy = bench.fixed_policy(env.unwrapped, jax.random.PRNGKey(0))
  ensemble, model, info = bench.fit_model(env, policy, jax.random.PRNGKey(1), 45, config,
                                          num_envs=2)
  assert info['transitions'] == 2 * 2 * 11 and info['members'] == 2 and info['epochs'] == 1
  assert model.elites.shape == (1,) and np.isfinite(info['elite_holdout_mse_normalized'])
  step = est.model_step_fn(ensemble, model, env.unwrapped.reward_fn)
  next_obs, reward = step(jnp.zeros(3), jnp.ones(1), jax.random.PRNGKey(2))
  assert next_obs.shape == (3,) and np.isfinite(float(reward))


def test_ppo_surrogate_matches_a_hand_example():
  """eps = 0.2; ratios 1.5, 0.5, 1.1, 0.7 with advantages +1, +1, -2, -2:
  min(rho A, clip(rho) A) = min(1.5, 1.2), min(0.5, 0.8), min(-2.2, -2.2), min(-1.4, -1.6)."""
  ratio = jnp.array([1.5, 0.5, 1.1, 0.7])
  adv = jnp.array([1.0, 1.0, -2.0, -2.0])
  old = jnp.array([-1.0, 0.3, 2.0, -0.5])
  loss = est.ppo_clipped_loss(old + jnp.log(ratio), old, adv, 0.2)
  np.testing.assert_allclose(loss, -(1.2 + 0.5 - 2.2 - 1.6) / 4, rtol=1e-6)
  weighted = est.ppo_clipped_loss(old + jnp.log(ratio), old, adv, 0.2,
                                  jnp.array([1.0, 1.0, 0.0, 0.0]))
  np.testing.assert_allclose(weighted, -(1.2 + 0.5) / 2, rtol=1e-6)


def test_likelihood_ratio_surrogate_gradient_is_score_times_advantage():
  """log pi(a | theta) = -(a - theta)^2 / 2 (unit Gaussian mean theta): the score is
  a - theta, so the gradient is sum_t w_t (a_t - theta) A_t, and A gets none."""
  actions = jnp.array([0.5, -1.0, 2.0])
  adv = jnp.array([1.0, -2.0, 0.5])
  weight = jnp.array([1.0, 1.0, 0.0])
  theta = 0.25

  def surrogate(theta, adv):
    return est.likelihood_ratio_surrogate(-(actions - theta)**2 / 2, adv, weight)

  d_theta, d_adv = jax.grad(surrogate, argnums=(0, 1))(theta, adv)
  np.testing.assert_allclose(d_theta, (0.25 * 1.0 + (-1.25) * -2.0), rtol=1e-6)
  np.testing.assert_array_equal(d_adv, 0.0)


def test_normalize_advantages_uses_only_the_weighted_entries():
  adv = jnp.array([1.0, 3.0, 100.0])
  out = est.normalize_advantages(adv, jnp.array([1.0, 1.0, 0.0]))
  np.testing.assert_allclose(out[:2], [-1.0, 1.0], rtol=1e-6)  # mean 2, std 1

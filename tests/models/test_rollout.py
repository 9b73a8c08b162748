"""Rollouts through the ensemble: which member each particle uses under each
propagation mode, gradients against finite differences, compounding error."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mbrl_jax import envs, models
from tests.models.common import small_config, trained_pendulum_model

ELITES = (3, 1)


def labelled_ensemble():
  """4 deterministic members; member m moves every coordinate by m + 1 per step,
  whatever the input (output layer: zero weights, bias m + 1). Elites: 3 and 1."""
  config = small_config(kind='deterministic', num_members=4, num_elites=2)
  ensemble = models.Ensemble(config, 2, 1)
  model = ensemble.init(jax.random.PRNGKey(0))
  params = model.params
  out = f'Dense_{config.num_layers}'
  layer = params['params'][out]
  layer = {'kernel': jnp.zeros_like(layer['kernel']),
           'bias': jnp.broadcast_to(jnp.arange(1.0, 5.0)[:, None], layer['bias'].shape)}
  params = {'params': dict(params['params'], **{out: layer})}
  return ensemble, model.replace(params=params, elites=jnp.array(ELITES))


def members_used(rollout):
  """Member index per particle and step, read off the per-step change."""
  delta = np.diff(np.asarray(rollout.obs), axis=-2)[..., 0]
  return np.rint(delta).astype(int) - 1


def zero_reward(obs, action, next_obs):
  return jnp.zeros(obs.shape[:-1])


def run(propagation, num=8, horizon=6, **kwargs):
  ensemble, model = labelled_ensemble()
  kwargs.setdefault('actions', jnp.zeros((num, horizon, 1)))
  return models.rollout(ensemble, model, jax.random.PRNGKey(1), jnp.zeros((num, 2)), horizon,
                        propagation, reward_fn=zero_reward, **kwargs)


def test_ts1_draws_a_random_elite_per_particle_each_step():
  out = run('ts1', num=8, horizon=10)
  assert out.obs.shape == (8, 11, 2) and out.rewards.shape == (8, 10)
  used = members_used(out)
  assert set(np.unique(used)) == set(ELITES)
  for t in range(10):  # shuffled into equal groups, one per elite
    assert sorted(np.bincount(used[:, t], minlength=4)[list(ELITES)]) == [4, 4]
  assert np.any(used[:, 1:] != used[:, :-1])  # particles change member


def test_random_elite_step_uses_only_elites_uniformly():
  ensemble, model = labelled_ensemble()
  step = jax.vmap(lambda k: models.random_elite_step(ensemble, model, jnp.zeros(2),
                                                     jnp.zeros(1), k)[0])
  moved = np.asarray(step(jax.random.split(jax.random.PRNGKey(0), 2000)))[:, 0]
  used = np.rint(moved).astype(int) - 1
  counts = np.bincount(used, minlength=4)
  assert counts[[0, 2]].sum() == 0 and abs(counts[3] - counts[1]) < 200  # 1000 +- 4.5 sd


def test_tsinf_keeps_one_member_per_particle():
  used = members_used(run('tsinf', num=8, horizon=10))
  expected = np.array(ELITES)[np.arange(8) % 2]
  np.testing.assert_array_equal(used, np.broadcast_to(expected[:, None], (8, 10)))


def test_expectation_averages_the_elites_means():
  out = run('expectation')
  steps = np.diff(np.asarray(out.obs), axis=-2)
  np.testing.assert_allclose(steps, np.mean(np.array(ELITES) + 1.0))


def test_all_members_each_propagate_every_start():
  out = run('all', num=3, horizon=4, actions=jnp.zeros((3, 4, 1)))
  assert out.obs.shape == (4, 3, 5, 2) and out.rewards.shape == (4, 3, 4)
  used = members_used(out)
  np.testing.assert_array_equal(used, np.broadcast_to(np.arange(4)[:, None, None], (4, 3, 4)))


def test_policy_driven_rollout_records_the_policy_actions():
  policy = lambda obs, key: 0.1 * obs[:, :1] + 0.5
  out = run('tsinf', policy=policy, actions=None)
  np.testing.assert_allclose(out.actions, 0.1 * out.obs[:, :-1, :1] + 0.5, rtol=1e-6)


def test_terminations_zero_later_rewards():
  ensemble, model = labelled_ensemble()
  ends_at_3 = lambda obs, a, nxt: (nxt[..., 0] >= 3 * 2.5).astype(jnp.float32)  # elite 1: +2
  one = lambda obs, a, nxt: jnp.ones(obs.shape[:-1])
  out = models.rollout(ensemble, model, jax.random.PRNGKey(0), jnp.zeros((2, 2)), 8, 'tsinf',
                       actions=jnp.zeros((2, 8, 1)), reward_fn=one, termination_fn=ends_at_3)
  # Particle 0 moves +4 per step (member 3): ends at step 2 (x = 8); particle 1 +2: step 4.
  np.testing.assert_array_equal(out.rewards, [[1, 1, 0, 0, 0, 0, 0, 0], [1, 1, 1, 1, 0, 0, 0, 0]])
  np.testing.assert_array_equal(out.dones[:, -1], [1, 1])


def test_rollout_of_a_traced_length_computes_only_its_first_steps():
  """With `length` L (traced, under jit), steps < L are the full rollout's, key for key,
  the later ones come out ended, and the policy runs only L times."""
  ensemble, model = labelled_ensemble()
  calls = []
  def policy(obs, key):
    jax.debug.callback(lambda: calls.append(1))
    return 0.1 * obs[:, :1] + jax.random.normal(key, (obs.shape[0], 1))
  roll = jax.jit(lambda length: models.rollout(
      ensemble, model, jax.random.PRNGKey(2), jnp.ones((4, 2)), 6, 'ts1', policy=policy,
      reward_fn=lambda o, a, n: n[..., 0], length=length))
  full = roll(6)
  jax.block_until_ready(full)
  calls.clear()
  short = roll(jnp.asarray(2))
  jax.block_until_ready(short)
  assert len(calls) == 2
  np.testing.assert_array_equal(short.obs[:, :3], full.obs[:, :3])
  np.testing.assert_array_equal(short.actions[:, :2], full.actions[:, :2])
  np.testing.assert_array_equal(short.rewards[:, :2], full.rewards[:, :2])
  np.testing.assert_array_equal(short.obs[:, 3:], np.broadcast_to(short.obs[:, 2:3], (4, 4, 2)))
  np.testing.assert_array_equal(short.rewards[:, 2:], 0.0)
  np.testing.assert_array_equal(short.dones, [[0, 0, 1, 1, 1, 1]] * 4)


def test_rollout_errors():
  with pytest.raises(ValueError, match='multiple of num_elites'):
    run('ts1', num=7, horizon=2, actions=jnp.zeros((7, 2, 1)))
  with pytest.raises(ValueError, match='propagation must be one of'):
    run('ts2')
  with pytest.raises(ValueError, match='exactly one of policy and actions'):
    run('ts1', policy=lambda o, k: o[:, :1])
  with pytest.raises(ValueError, match=r'actions must be \[N=8, H=6, act\]'):
    run('ts1', actions=jnp.zeros((8, 5, 1)))
  ensemble, model = labelled_ensemble()
  with pytest.raises(ValueError, match='no reward head'):
    models.rollout(ensemble, model, jax.random.PRNGKey(0), jnp.zeros((2, 2)), 3, 'tsinf',
                   actions=jnp.zeros((2, 3, 1)))


@pytest.mark.parametrize('propagation', ['ts1', 'tsinf', 'all'])
def test_gradient_through_10_step_rollout_matches_finite_differences(propagation):
  """Reparameterized Gaussian sampling with a fixed key makes the rollout a smooth
  function of actions and policy params; compare jax.grad with central
  differences in float64."""
  ensemble, _, state, _, dataset, _ = trained_pendulum_model()
  task = envs.make('pendulum').unwrapped
  with jax.enable_x64(True):
    model = jax.tree.map(lambda x: x.astype(jnp.float64)
                         if jnp.issubdtype(x.dtype, jnp.floating) else x, state.model)
    start = jnp.asarray(dataset.obs[:4], jnp.float64)
    key = jax.random.PRNGKey(3)

    def total(actions=None, weights=None):
      policy = None if weights is None else (lambda obs, k: jnp.tanh(obs @ weights))
      out = models.rollout(ensemble, model, key, start, 10, propagation, policy=policy,
                           actions=actions, reward_fn=task.reward_fn)
      return out.returns.sum()

    actions = 0.5 * jnp.sin(jnp.arange(40.0)).reshape(4, 10, 1)
    weights = jnp.array([[0.3], [-0.2], [0.1]])
    rng = np.random.default_rng(0)
    for fn, x in ((lambda a: total(actions=a), actions), (lambda w: total(weights=w), weights)):
      grad = jax.grad(fn)(x)
      assert np.all(np.isfinite(grad)) and np.abs(grad).max() > 0
      for _ in range(2):
        d = jnp.asarray(rng.normal(size=x.shape))
        eps = 1e-6
        fd = (fn(x + eps * d) - fn(x - eps * d)) / (2 * eps)
        np.testing.assert_allclose(jnp.vdot(grad, d), fd, rtol=1e-4, atol=1e-6)


def test_compounding_error_equals_a_manual_open_loop_replay():
  ensemble, _, state, _, _, _ = trained_pendulum_model()
  env = envs.make('pendulum')
  task = env.unwrapped
  rng = np.random.default_rng(1)
  obs = [jnp.asarray(np.stack([np.cos(t), np.sin(t), 0.0 * t], -1), jnp.float32)
         for t in [rng.uniform(-np.pi, np.pi, 5)]][0]
  actions = jnp.asarray(rng.uniform(-2, 2, (5, 12, 1)), jnp.float32)
  true = [obs]
  for t in range(12):
    true.append(task.dynamics(true[-1], actions[:, t]))
  true = jnp.stack(true, axis=1)
  errors = models.compounding_error(ensemble, state.model, true, actions, task.reward_fn,
                                    jax.random.PRNGKey(0))
  assert errors.shape == (12,)
  predicted, manual = obs, []
  elites = state.model.elites
  for t in range(12):
    pred = ensemble.predict(state.model, predicted, actions[:, t])
    predicted, _ = ensemble.next_obs(predicted, pred.target_mean[elites].mean(0))
    manual.append(float(jnp.mean((predicted - true[:, t + 1])**2)))
  np.testing.assert_allclose(errors, manual, rtol=1e-4, atol=1e-7)
  assert errors[-1] > errors[0]  # errors compound with the horizon

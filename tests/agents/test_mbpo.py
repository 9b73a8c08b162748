"""MBPO: its pieces against reference formulas, fewer env steps than SAC on the
pendulum, one trace per run and an exact resume under the runner, non-finite
losses skipped and counted."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from mbrl_jax import agents, data, envs
from mbrl_jax.harness import runner
from mbrl_jax.agents import mbpo, sac
from mbrl_jax.data.evaluation import make_evaluator
from tests.agents.test_sac import NanReward
from tests.helpers import assert_rejected, assert_trees_equal, metric_rows


def small_config(**overrides):
  """The paper's recipe at CI scale: small nets, 20 rollouts and 10 updates per step."""
  config = mbpo.default_config()
  config.update(dict(hidden_sizes=(64, 64), learning_rate=1e-3, random_steps=250,
                     buffer_capacity=20_000, steps_per_chunk=250, refit_every=250,
                     rollouts_per_step=20, updates_per_step=10, rollout_schedule=(0, 1, 1, 1)))
  config.model.update(num_members=5, num_elites=5, num_layers=3, width=64, max_epochs=30)
  config.update(overrides)
  return config


def test_rollout_length_follows_the_paper_schedule():
  # MBPO: min length until the start epoch, linear to the max length at the end epoch;
  # epochs count from the end of the 5000 random steps.
  schedule = (20, 100, 1, 15)
  for epoch, expected in [(0, 1), (20, 1), (40, 4), (60, 8), (99, 14), (100, 15), (300, 15)]:
    steps = jnp.int32(5000 + epoch * 1000 + 999)
    assert int(mbpo.rollout_length(schedule, steps, 1000, random_steps=5000)) == expected
  assert int(mbpo.rollout_length(schedule, jnp.int32(4999), 1000, random_steps=5000)) == 1
  # Counted from step 0 instead, epoch 96 of learning (14 above) would be epoch 101.
  assert int(mbpo.rollout_length(schedule, jnp.int32(5000 + 96_000), 1000)) == 15
  assert int(mbpo.rollout_length(schedule, jnp.int32(5000 + 96_000), 1000, 5000)) == 14


# --- the MVE critic loss against a hand computation ----------------------------------
# A fake world whose observation is (tag, t): the model steps t -> t + 1. Item 1 ends at
# the imagined step from t = 2 and item 2's batch transition is terminal; whatever the
# model imagines after an end is NaN (next obs and reward), which must not matter.
END_T = 3


def fake_policy(params, obs, key):
  del params, key
  action = jnp.tanh(0.3 * obs[..., 1:] - 0.2 * obs[..., :1])
  return action, -0.5 * obs[..., 1] - 0.2 * obs[..., 0] + 0.1


def fake_q(params, obs, action):  # linear in (tag, t, action, 1): [..., 2]
  features = jnp.concatenate([obs, action, jnp.ones_like(action)], -1)
  return features @ params.T


def fake_model_step(obs, action, key):
  del key
  tag, t = obs[..., 0], obs[..., 1]
  junk = ((tag == 1) & (t >= END_T)) | (tag == 2)
  next_obs = jnp.where(junk[..., None], jnp.nan, obs + jnp.array([0.0, 1.0]))
  reward = jnp.where(junk, jnp.nan, 1.0 + tag + 0.5 * t + action[..., 0])
  ended = ((tag == 1) & (t + 1 == END_T)).astype(jnp.float32)
  return next_obs, reward, ended


def expected_mve_loss(batch, q, target_q, alpha, gamma, scale, horizon):
  """Loss and its gradient in q, from forward sums over the live part of each
  trajectory: y_i = sum_{j=i}^{m} g^{j-i} (scale r_j + [j > i] bonus_j)
  (+ g^{H+1-i} V(s_{H+1}) without an end), m the end step (or H)."""
  to_env = lambda a: 2.0 * a + 1.0
  loss, grad = 0.0, np.zeros_like(q)
  num_items = batch.obs.shape[0]
  count = (horizon + 1) * num_items * 2
  for b in range(num_items):
    s = np.asarray(batch.obs[b])
    a0 = (np.asarray(batch.action[b]) - 1.0) / 2.0
    features = [np.concatenate([s, a0, [1.0]])]
    rewards, bonuses = [scale * float(batch.reward[b])], [0.0]
    end = 0 if batch.done[b] and not batch.truncation[b] else None
    s = np.asarray(batch.next_obs[b])
    for i in range(1, horizon + 1):
      if end is not None:
        break
      a, log_prob = (np.asarray(x) for x in fake_policy(None, s, None))
      features.append(np.concatenate([s, a, [1.0]]))
      next_s, r, e = (np.asarray(x) for x in fake_model_step(s, to_env(a), None))
      rewards.append(scale * float(r))
      bonuses.append(-alpha * float(log_prob))
      end = i if e > 0 else None
      s = next_s
    last = end if end is not None else horizon
    tail = 0.0
    if end is None:
      a, log_prob = (np.asarray(x) for x in fake_policy(None, s, None))
      tail = (np.concatenate([s, a, [1.0]]) @ target_q.T).min() - alpha * float(log_prob)
    for i in range(last + 1):
      y = sum(gamma**(j - i) * (rewards[j] + (bonuses[j] if j > i else 0.0))
              for j in range(i, last + 1)) + gamma**(horizon + 1 - i) * tail
      error = features[i] @ q.T - y
      loss += 0.5 * np.sum(error**2) / count
      grad += np.outer(error, features[i]) / count
  return loss, grad


def test_mve_critic_loss_masks_after_ends_and_bootstraps_only_without_one():
  """Four items: no end; an end at imagined step 2 (states after it masked); a
  terminal batch transition (target r0, every imagined state masked); a time-limit
  end of the batch transition (not terminal: bootstraps as the first)."""
  horizon, gamma, scale, alpha = 3, 0.9, 2.0, 0.3
  learner = sac.Learner(init=None, update=None, make_policy=None, sample_action=fake_policy,
                        q_values=fake_q, to_env=lambda a: 2.0 * a + 1.0,
                        from_env=lambda a: (a - 1.0) / 2.0)
  loss_fn = mbpo.make_mve_critic_loss(learner, fake_model_step, horizon, gamma, scale)
  tags = jnp.arange(4.0)
  obs = jnp.stack([tags, jnp.zeros(4)], -1)
  batch = data.Transition(obs=obs, action=jnp.array([[0.5], [1.5], [2.0], [0.8]]),
                          reward=jnp.array([0.7, -0.4, 1.3, 0.2]),
                          next_obs=obs + jnp.array([0.0, 1.0]),
                          done=jnp.array([0.0, 0.0, 1.0, 1.0]),
                          truncation=jnp.array([0.0, 0.0, 0.0, 1.0]))
  q = jnp.array([[0.3, -0.2, 0.5, 1.0], [-0.1, 0.4, 0.2, -0.5]])
  target_q = jnp.array([[0.2, 0.1, -0.3, 0.6], [0.5, -0.3, 0.1, 0.4]])
  loss, grad = jax.value_and_grad(loss_fn)(q, None, target_q, jnp.float32(alpha), batch,
                                           jax.random.PRNGKey(0))
  want_loss, want_grad = expected_mve_loss(batch, np.asarray(q), np.asarray(target_q), alpha,
                                           gamma, scale, horizon)
  np.testing.assert_allclose(float(loss), want_loss, rtol=1e-5)
  np.testing.assert_allclose(np.asarray(grad), want_grad, rtol=1e-5, atol=1e-6)


def test_pool_samples_uniformly_from_valid_transitions_only():
  # Three batches of 10 slots holding 3, 0 and 7 valid transitions (ids 0..9).
  ids = jnp.arange(10, dtype=jnp.float32)
  example = data.Transition(*(jnp.zeros(()),) * 6)
  pool = mbpo.ModelPool(transitions=jax.tree.map(lambda x: jnp.zeros((3, 10)), example),
                        counts=jnp.zeros(3, jnp.int32), next_slot=jnp.zeros((), jnp.int32))
  for count, offset in ((3, 0.0), (0, 100.0), (7, 200.0)):
    tr = jax.tree.map(lambda x: ids + offset, example)
    pool = mbpo.add_to_pool(pool, tr, count)
  assert int(pool.next_slot) == 0 and pool.counts.tolist() == [3, 0, 7]
  drawn = np.asarray(mbpo.sample_pool(pool, jax.random.PRNGKey(0), 20_000).obs)
  valid = [0.0, 1.0, 2.0] + [200.0 + i for i in range(7)]
  assert set(np.unique(drawn)) == set(valid)
  counts = [(drawn == v).sum() for v in valid]
  assert stats.chisquare(counts).pvalue > 1e-3


def first_step_reaching(agent, env, threshold, num_chunks, eval_every_chunks):
  """Env steps after which the deterministic policy first scores above threshold."""
  state = jax.jit(agent.init)(jax.random.PRNGKey(0))
  chunk = jax.jit(agent.train_chunk)
  evaluate = jax.jit(make_evaluator(env, agent.make_policy, 10))
  for i in range(num_chunks):
    state, _ = chunk(state)
    if (i + 1) % eval_every_chunks == 0:
      if float(evaluate(state.params, jax.random.PRNGKey(1))) > threshold:
        return int(state.env_steps)
  return np.inf


def test_mbpo_swings_up_pendulum_in_fewer_env_steps_than_sac():
  # Same SAC networks, learning rate, batch and 250 random steps; SAC takes its usual
  # one update per step, MBPO ten on 95% model data. SAC needs about 4000-5000 steps.
  env = envs.make('pendulum')
  mbpo_steps = first_step_reaching(mbpo.make(small_config(), env), env, -400, 12, 2)
  sac_config = sac.default_config()
  sac_config.update(dict(hidden_sizes=(64, 64), learning_rate=1e-3, random_steps=250,
                         buffer_capacity=20_000, steps_per_chunk=500))
  sac_steps = first_step_reaching(sac.make(sac_config, env), env, -400, 12, 1)
  assert mbpo_steps <= 3000, mbpo_steps
  assert mbpo_steps < sac_steps, (mbpo_steps, sac_steps)


def run_mbpo(workdir, total_steps):
  config = mbpo.preset(size='tiny')  # 20-step chunks, 2-member model, 8-wide nets
  config.update(dict(steps_per_chunk=40, updates_per_step=2, mve_horizon=2,
                     rollout_schedule=(0, 1, 1, 3)))
  run_config = {'agent': 'mbpo', 'env': 'pendulum', 'env_kwargs': {'episode_length': 20},
                'config': config.to_dict()}
  agent, env = agents.build(run_config)
  return runner.run(agent, env, str(workdir), total_steps, run_config=run_config, num_seeds=2,
                    eval_episodes=2, tensorboard=False, log=lambda s: None)


def test_mbpo_with_mve_compiles_once_and_resumes_exactly(tmp_path):
  whole = run_mbpo(tmp_path / 'whole', 120)
  assert whole.traces == {'train_chunk': 1, 'evaluate': 1} and whole.chunks_run == 3
  first = run_mbpo(tmp_path / 'split', 80)
  second = run_mbpo(tmp_path / 'split', 120)
  assert first.chunks_run == 2 and second.resumed_from == 2 and second.chunks_run == 1
  assert_trees_equal(whole.state, second.state)
  dump = lambda rows: json.dumps(rows, sort_keys=True)  # NaN-safe comparison
  assert dump(metric_rows(tmp_path / 'whole')) == dump(metric_rows(tmp_path / 'split'))
  last = [r for r in metric_rows(tmp_path / 'whole') if r['chunk'] == 3]
  assert all(np.isfinite(r['critic_loss']) and r['model_pool_size'] > 0 for r in last)


@pytest.mark.parametrize('override,message', [
    (dict(real_ratio=1.5), r'config.real_ratio must be in \[0, 1\]'),
    (dict(rollout_schedule=(20, 100, 0, 15)), 'config.rollout_schedule must be integers'),
    (dict(steps_per_chunk=300), r'must be a multiple of\s+config.refit_every'),
    (dict(rollouts_per_step=3, refit_every=2), 'must be a multiple of config.model.num_elites'),
    (dict(mve_horizon=-1), 'config.mve_horizon must be an integer >= 0'),
])
def test_bad_config_values(override, message):
  assert_rejected(mbpo, small_config(**override), message)


def test_brax_env_needs_a_learned_reward():
  config = small_config()
  config.model.learn_reward = False
  with pytest.raises(ValueError, match='has no reward function'):
    mbpo.make(config, envs.make('brax/halfcheetah', backend='positional'))


def test_nan_rewards_skip_and_count_every_sac_and_model_step_under_vmap():
  """NaN rewards: the model's reward target is NaN, so each model minibatch step is
  skipped (16 training transitions < model batch 32: one step per epoch, and with
  no holdout improvement `patience` epochs) and so is each SAC update on the model's
  (NaN-reward) data: 20 steps x 2 updates. The first chunk is random steps only."""
  env = NanReward(envs.make('pendulum', episode_length=20))
  config = small_config(hidden_sizes=(16,), steps_per_chunk=20, refit_every=20,
                        random_steps=20, rollouts_per_step=2, updates_per_step=2,
                        epoch_length=20, batch_size=8, buffer_capacity=100)
  config.model.update(num_members=2, num_elites=2, num_layers=2, width=8, batch_size=32,
                      patience=2, max_epochs=10)
  agent = mbpo.make(config, env)
  initial = jax.vmap(agent.init)(jax.random.split(jax.random.PRNGKey(0), 2))
  chunk = jax.jit(jax.vmap(agent.train_chunk))
  state, first = chunk(initial)
  state, second = chunk(state)
  for name, count in (('skipped_updates', 40), ('model_skipped_updates', 2)):
    np.testing.assert_array_equal(first[name], [0.0, 0.0])
    np.testing.assert_array_equal(second[name], [count, count])
    np.testing.assert_array_equal(getattr(state, name), [count, count])
  assert_trees_equal((state.params.sac, state.sac_opt, state.params.model.params),
                     (initial.params.sac, initial.sac_opt, initial.params.model.params))
  assert all(np.isfinite(x).all() for x in jax.tree.leaves(
      (state.params.sac, state.params.model.params)))

"""MBPO: its pieces against reference formulas, fewer env steps than SAC on the
pendulum, one trace per run and an exact resume under the runner."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from mbrl_jax import agents, data, envs, runner
from mbrl_jax.agents import mbpo, sac
from mbrl_jax.evaluation import make_evaluator
from tests.helpers import assert_trees_equal, metric_rows


def small_config(**overrides):
  """The paper's recipe at CI scale: small nets, 20 rollouts and 10 updates per step."""
  config = mbpo.default_config()
  config.update(dict(hidden_sizes=(64, 64), learning_rate=1e-3, random_steps=250,
                     buffer_capacity=20_000, steps_per_chunk=250, retrain_every=250,
                     rollouts_per_step=20, updates_per_step=10, rollout_schedule=(0, 1, 1, 1)))
  config.model.update(num_members=5, num_elites=5, num_layers=3, width=64, max_epochs=30)
  config.update(overrides)
  return config


def test_rollout_length_follows_the_paper_schedule():
  # MBPO: min length until the start epoch, linear to the max length at the end epoch.
  schedule = (20, 100, 1, 15)
  for epoch, expected in [(0, 1), (20, 1), (40, 4), (60, 8), (99, 14), (100, 15), (300, 15)]:
    assert int(mbpo.rollout_length(schedule, jnp.int32(epoch * 1000 + 999), 1000)) == expected


def test_mve_targets_equal_the_unrolled_sum():
  rng = np.random.default_rng(0)
  horizon, batch, gamma = 4, 6, 0.9
  rewards = rng.normal(size=(horizon + 1, batch))
  bonus = rng.normal(size=(horizon + 1, batch))
  terminals = (rng.uniform(size=(horizon + 1, batch)) < 0.2).astype(float)
  end_value = rng.normal(size=batch)
  got = mbpo.mve_targets(jnp.asarray(rewards), jnp.asarray(terminals), jnp.asarray(bonus),
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


def test_pool_samples_uniformly_from_valid_transitions_only():
  # Three batches of 10 slots holding 3, 0 and 7 valid transitions (ids 0..9).
  ids = jnp.arange(10, dtype=jnp.float32)
  example = data.Transition(*(jnp.zeros(()),) * 7)
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
  config = small_config(steps_per_chunk=40, retrain_every=20, random_steps=20,
                        rollouts_per_step=5, updates_per_step=2, mve_horizon=2,
                        rollout_schedule=(0, 1, 1, 3), epoch_length=40, batch_size=32)
  config.model.update(num_members=3, num_elites=2, num_layers=2, width=16, max_epochs=3)
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
    (dict(steps_per_chunk=300), r'must be a multiple of\s+config.retrain_every'),
    (dict(rollouts_per_step=3, retrain_every=2), 'must be a multiple of config.model.num_elites'),
    (dict(mve_horizon=-1), 'config.mve_horizon must be an integer >= 0'),
])
def test_bad_config_values(override, message):
  with pytest.raises(ValueError, match=message):
    mbpo.make(small_config(**override), envs.make('pendulum'))


def test_brax_env_needs_a_learned_reward():
  config = small_config()
  config.model.learn_reward = False
  with pytest.raises(ValueError, match='has no reward function'):
    mbpo.make(config, envs.make('brax/inverted_pendulum'))

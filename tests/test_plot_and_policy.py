"""Plots from real metrics, and loading a trained policy for evaluation."""

import jax
import numpy as np
import pytest

from mbrl_jax import agents, checkpoint, metrics, plotting, runner
from tests.helpers import small_run_config


@pytest.fixture(scope='module')
def two_seed_run(tmp_path_factory):
  workdir = tmp_path_factory.mktemp('run')
  run_config = small_run_config()
  agent, env = agents.build(run_config)
  runner.run(agent, env, str(workdir), 80, run_config=run_config, num_seeds=2,
             eval_episodes=2, tensorboard=False, log=lambda s: None)
  return workdir


def test_curve_is_mean_min_max_over_seeds(two_seed_run):
  rows = metrics.read(str(two_seed_run))
  steps, mean, low, high, count = plotting.curve(rows, 'eval_return')
  np.testing.assert_array_equal(steps, [20, 40, 60, 80])
  np.testing.assert_array_equal(count, [2, 2, 2, 2])
  at_40 = [r['eval_return'] for r in rows if r['env_steps'] == 40]
  np.testing.assert_allclose([mean[1], low[1], high[1]],
                             [np.mean(at_40), min(at_40), max(at_40)])


def test_plot_writes_a_png(two_seed_run, tmp_path):
  out = plotting.plot_workdirs([str(two_seed_run)], str(tmp_path / 'curve.png'))
  data = open(out, 'rb').read()
  assert data[:8] == b'\x89PNG\r\n\x1a\n' and len(data) > 5000
  with pytest.raises(ValueError, match='no .eval_return. values'):
    plotting.plot_workdirs([str(tmp_path)], str(tmp_path / 'empty.png'))


def test_load_policy_in_three_lines(two_seed_run):
  policy = checkpoint.load_policy(str(two_seed_run), seed_index=1)
  obs = jax.numpy.array([1.0, 0.0, 0.0])
  action = policy(obs, jax.random.PRNGKey(3))
  agent, _ = agents.build(small_run_config())
  expected = agent.make_policy({}, True)(obs, jax.random.PRNGKey(3))
  np.testing.assert_array_equal(action, expected)
  with pytest.raises(ValueError, match='seed_index must be in'):
    checkpoint.load_policy(str(two_seed_run), seed_index=2)


def test_csv_has_one_row_per_step_with_the_same_numbers(two_seed_run, tmp_path):
  import csv
  out = plotting.write_csv([str(two_seed_run)], str(tmp_path / 'c.csv'), labels=['mpc'])
  rows = list(csv.DictReader(open(out)))
  steps, mean, low, high, count = plotting.curve(metrics.read(str(two_seed_run)),
                                                 'eval_return')
  assert [int(r['env_steps']) for r in rows] == list(steps)
  np.testing.assert_allclose([float(r['eval_return_mean']) for r in rows], mean, rtol=1e-6)
  assert {r['run'] for r in rows} == {'mpc'} and {r['seeds'] for r in rows} == {'2'}

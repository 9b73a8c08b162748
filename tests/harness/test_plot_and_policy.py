"""Plots from real metrics, and loading a trained policy for evaluation."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mbrl_jax import agents
from mbrl_jax.harness import checkpoint, metrics, plotting, runner
from mbrl_jax.agents import pathwise
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


@pytest.fixture(scope='module')
def two_seed_pathwise_run(tmp_path_factory):
  """A policy with params of its own: pathwise through the pendulum env, 2 seeds x 2
  chunks of 2 updates (checkpoints after chunk 1 and 2). (workdir, agent, final state)."""
  workdir = tmp_path_factory.mktemp('pathwise')
  config = pathwise.default_config()
  config.update(dict(horizon=5, num_envs=2, steps_per_chunk=20, hidden_sizes=(8,)))
  run_config = {'agent': 'pathwise', 'env': 'pendulum', 'env_kwargs': {'episode_length': 20},
                'config': config.to_dict()}
  agent, env = agents.build(run_config)
  result = runner.run(agent, env, str(workdir), 40, run_config=run_config, num_seeds=2,
                      eval_episodes=2, tensorboard=False, log=lambda s: None)
  return str(workdir), agent, result.state


def test_load_policy_restores_each_seeds_final_params(two_seed_pathwise_run):
  """Actions of the loaded policy equal make_policy's on that seed's final params
  (deterministic and sampled), and differ from the other seed's and from freshly
  initialised params: restoring the wrong seed, an older checkpoint or init fails."""
  workdir, agent, final = two_seed_pathwise_run
  obs = jnp.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.5], [-0.6, 0.8, -2.0], [-1.0, 0.0, 1.0]])
  key = jax.random.PRNGKey(3)
  acting = lambda policy: np.asarray(jax.vmap(policy, in_axes=(0, None))(obs, key))
  initial = jax.vmap(agent.init)(jax.random.split(jax.random.PRNGKey(0), 2)).params
  loaded = []
  for seed_index in (0, 1):
    of_seed = lambda tree: jax.tree.map(lambda x: x[seed_index], tree)
    for deterministic in (True, False):
      got = acting(checkpoint.load_policy(workdir, seed_index, deterministic))
      np.testing.assert_array_equal(
          got, acting(agent.make_policy(of_seed(final.params), deterministic)))
    loaded.append(got)  # sampled actions: the same key for both seeds
    untrained = acting(agent.make_policy(of_seed(initial), False))
    assert np.abs(got - untrained).max() > 1e-4, seed_index
  assert np.abs(loaded[0] - loaded[1]).max() > 1e-2
  with pytest.raises(ValueError, match='seed_index must be in'):
    checkpoint.load_policy(workdir, seed_index=2)


def test_csv_has_one_row_per_step_with_the_same_numbers(two_seed_run, tmp_path):
  import csv
  out = plotting.write_csv([str(two_seed_run)], str(tmp_path / 'c.csv'), labels=['mpc'])
  rows = list(csv.DictReader(open(out)))
  steps, mean, low, high, count = plotting.curve(metrics.read(str(two_seed_run)),
                                                 'eval_return')
  assert [int(r['env_steps']) for r in rows] == list(steps)
  np.testing.assert_allclose([float(r['eval_return_mean']) for r in rows], mean, rtol=1e-6)
  assert {r['run'] for r in rows} == {'mpc'} and {r['seeds'] for r in rows} == {'2'}
  # With an action repeat the x axis counts env steps: agent steps times the repeat.
  out = plotting.write_csv([str(two_seed_run)], str(tmp_path / 'c4.csv'), action_repeat=4)
  assert [int(r['env_steps']) for r in csv.DictReader(open(out))] == list(4 * steps)


def test_plot_lines_draws_what_matplotlib_draws_and_write_json_makes_the_folder(tmp_path):
  import matplotlib
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt
  ys = {'a': [3.0, 1.0, 2.0], 'b': [0.1, 0.2, 0.4]}
  fig, axes = plt.subplots(1, 2, figsize=(8, 3), squeeze=False)
  for ax, scale in zip(axes[0], ('linear', 'log')):
    for label, y in ys.items():
      ax.plot([1, 2, 3], y, label=label)
    ax.set_yscale(scale)
    ax.set_title(scale)
    ax.set_xlabel('step')
    ax.legend()
  axes[0, 0].set_ylim(0, 5)
  plotting.save_figure(fig, str(tmp_path / 'by_hand.png'))
  panels = [plotting.Panel({k: ([1, 2, 3], y) for k, y in ys.items()}, title=scale,
                           xlabel='step', yscale=scale, ylim=(0, 5) if scale == 'linear' else None)
            for scale in ('linear', 'log')]
  out = plotting.plot_lines(panels, str(tmp_path / 'helper.png'), panel_size=(4, 3))
  assert open(out, 'rb').read() == open(tmp_path / 'by_hand.png', 'rb').read()
  path = metrics.write_json({'x': [1, 2]}, str(tmp_path / 'new' / 'dir' / 'r.json'), indent=2)
  assert open(path).read() == '{\n  "x": [\n    1,\n    2\n  ]\n}'

"""Shared helpers: small runs of the launcher and the runner."""

import os
import subprocess
import sys

import jax
import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRAIN = os.path.join(REPO, 'experiments', 'train.py')

# A small MPC run: 20-step pendulum episodes, 20 env steps per chunk.
SMALL_FLAGS = ['--env=pendulum', '--env_kwargs={"episode_length": 20}',
               '--config.horizon=5', '--config.population=16', '--config.steps_per_chunk=20',
               '--config.buffer_capacity=1000', '--eval_episodes=2', '--plot=false']


def small_run_config(**overrides):
  from mbrl_jax.agents import mpc
  config = mpc.default_config()
  config.update(dict(horizon=5, population=16, steps_per_chunk=20, buffer_capacity=1000))
  config.update(overrides)
  return {'agent': 'mpc', 'env': 'pendulum', 'env_kwargs': {'episode_length': 20},
          'config': config.to_dict()}


def launch(args, env_extra=None, **kwargs):
  """Runs experiments/train.py in a subprocess (CPU); returns the Popen or result."""
  env = dict(os.environ, JAX_PLATFORMS='cpu', **(env_extra or {}))
  return subprocess.run([sys.executable, TRAIN] + list(args), cwd=REPO, env=env,
                         capture_output=True, text=True, **kwargs)


def assert_trees_equal(a, b):
  leaves_a, leaves_b = jax.tree.leaves(a), jax.tree.leaves(b)
  assert len(leaves_a) == len(leaves_b)
  for x, y in zip(leaves_a, leaves_b):
    np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def metric_rows(workdir):
  """Metric rows without wall-clock fields."""
  from mbrl_jax import metrics
  return [{k: v for k, v in row.items() if k != 'chunk_seconds'}
          for row in metrics.read(workdir)]

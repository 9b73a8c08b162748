"""Shared helpers: small runs of the launcher and the runner."""

import importlib
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mbrl_jax.data import acting
from mbrl_jax import data, envs
from mbrl_jax.data.evaluation import make_evaluator

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXPERIMENTS = os.path.join(REPO, 'experiments')
TRAIN = os.path.join(EXPERIMENTS, 'train.py')

# A small MPC run: 20-step pendulum episodes, 20 env steps per chunk.
SMALL_FLAGS = ['--env=pendulum', '--env_kwargs={"episode_length": 20}',
               '--config.horizon=5', '--config.population=16', '--config.steps_per_chunk=20',
               '--config.buffer_capacity=1000', '--eval_episodes=2', '--plot=false']


def experiment(name: str):
  """experiments/<name>.py as a module (flags defined, main not run): tests of the
  pieces the experiment scripts hold, which are not the package's."""
  if EXPERIMENTS not in sys.path:
    sys.path.insert(0, EXPERIMENTS)  # the scripts import their shared `common`
  return importlib.import_module(name)


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


def as_restored(tree):
  """`tree` with the types a checkpoint restores (committed to the device, no weak
  types), so that a jitted function called on it and on a restored state compiles
  once."""
  device = jax.devices()[0]
  return jax.tree.map(lambda x: jax.device_put(jnp.asarray(x, x.dtype), device), tree)


def assert_trees_equal(a, b):
  leaves_a, leaves_b = jax.tree.leaves(a), jax.tree.leaves(b)
  assert len(leaves_a) == len(leaves_b)
  for x, y in zip(leaves_a, leaves_b):
    np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def metric_rows(workdir):
  """Metric rows without wall-clock fields."""
  from mbrl_jax.harness import metrics
  return [{k: v for k, v in row.items() if k != 'chunk_seconds'}
          for row in metrics.read(workdir)]


def launch_many(arg_lists, tmp_dir):
  """Runs experiments/train.py once per argument list, all in one subprocess
  (tests/launch_many.py); returns, for each, a CompletedProcess as `launch` gives."""
  import json
  cases, results = os.path.join(tmp_dir, 'cases.json'), os.path.join(tmp_dir, 'results.json')
  with open(cases, 'w') as f:
    json.dump([list(args) for args in arg_lists], f)
  done = subprocess.run([sys.executable, os.path.join(REPO, 'tests', 'launch_many.py'), cases,
                         results], cwd=REPO, env=dict(os.environ, JAX_PLATFORMS='cpu'),
                        capture_output=True, text=True)
  assert done.returncode == 0, done.stderr
  with open(results) as f:
    return [subprocess.CompletedProcess(args, r['returncode'], r['stdout'], r['stderr'])
            for args, r in zip(arg_lists, json.load(f))]


def launch_in_background(args, **kwargs):
  """Starts experiments/train.py in a subprocess (CPU); returns the Popen."""
  env = dict(os.environ, JAX_PLATFORMS='cpu')
  return subprocess.Popen([sys.executable, TRAIN] + list(args), cwd=REPO, env=env, **kwargs)


def wait_for_rows(proc, workdir, rows, timeout_s=300):
  """Polls until `workdir`'s metrics.jsonl has >= `rows` lines or `proc` exits."""
  import time
  path = os.path.join(str(workdir), 'metrics.jsonl')
  deadline = time.time() + timeout_s
  while time.time() < deadline and proc.poll() is None:
    if os.path.exists(path):
      with open(path) as f:
        if sum(1 for _ in f) >= rows:
          return
    time.sleep(0.005)


def snapshot(workdir):
  """Every file's bytes and every directory under `workdir`, by relative path."""
  root = str(workdir)
  out = {}
  for base, dirs, files in os.walk(root):
    for name in dirs:
      out[os.path.relpath(os.path.join(base, name), root) + '/'] = None
    for name in files:
      path = os.path.join(base, name)
      with open(path, 'rb') as f:
        out[os.path.relpath(path, root)] = f.read()
  return out


def restored_chunk_and_state(workdir):
  """(chunk, TrainState) of a workdir's newest checkpoint that restores (read-only)."""
  from mbrl_jax import agents
  from mbrl_jax.harness import checkpoint
  run_config = checkpoint.read_run_config(str(workdir))
  agent, _ = agents.build(run_config)
  keys = jax.random.split(jax.random.PRNGKey(0), run_config['num_seeds'])
  abstract = jax.eval_shape(jax.vmap(agent.init), keys)
  reader = checkpoint.Checkpointer(str(workdir), read_only=True)
  try:
    return reader.restore_latest(abstract, log=lambda s: None)[:2]
  finally:
    reader.close()


def restored_state(workdir):
  """The TrainState of a workdir's newest checkpoint that restores (read-only)."""
  return restored_chunk_and_state(workdir)[1]


def random_returns(env, episodes=1000):
  """Returns of `episodes` uniform-random-action episodes, [episodes]."""
  state = data.reset(env, jax.random.PRNGKey(0), episodes)
  unroll = jax.jit(acting.unroll, static_argnums=(0, 2, 4))
  _, experience = unroll(env, state, acting.per_env(data.random_policy(env)),
                         jax.random.PRNGKey(1), data.episode_decisions(env))
  return np.asarray(experience.episode_return[-1])


def train_two_seeds(agent, env, chunks, eval_episodes=20, seeds=(0, 1)):
  """Seeds 0 and 1 (or `seeds`) as one vmap (as the runner runs them): (initial and
  trained mean eval return [seeds] each, last metrics, final state)."""
  state = jax.jit(jax.vmap(agent.init))(jnp.stack([jax.random.PRNGKey(s) for s in seeds]))
  chunk = jax.jit(jax.vmap(agent.train_chunk))
  evaluate = jax.jit(jax.vmap(make_evaluator(env, agent.make_policy, eval_episodes),
                              in_axes=(0, None)))
  untrained = np.asarray(evaluate(state.params, jax.random.PRNGKey(1)))
  for _ in range(chunks):
    state, metrics = chunk(state)
  return untrained, np.asarray(evaluate(state.params, jax.random.PRNGKey(1))), metrics, state


def assert_rejected(module, config, message, env=None):
  """`module.make(config, env)` (pendulum by default) fails with a one-line ValueError
  that matches `message`."""
  with pytest.raises(ValueError, match=message) as info:
    module.make(config, envs.make('pendulum') if env is None else env)
  assert '\n' not in str(info.value), str(info.value)

"""The DM Control tasks of MuJoCo Playground behind envs.make('dmc/<Task>'): the same
interface and wrapper behaviour as every other env, pure reward functions equal to the
env's rewards, a quiet import, clear errors."""

import os
import subprocess
import sys
import textwrap
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mbrl_jax import envs
from mbrl_jax.envs import dmc_rewards, playground
from mbrl_jax.envs.base import pure_functions

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_task_list_is_playgrounds_dm_control_suite():
  from mujoco_playground import dm_control_suite
  assert set(playground.TASKS) == set(dm_control_suite.ALL_ENVS)
  assert {'dmc/' + t for t in playground.TASKS} <= set(envs.names())


class Cartpole(NamedTuple):
  """CartpoleSwingup three ways, each jitted once for the whole module (an MJX
  step compiles in about 10 s here): the default env (1000 steps, auto-reset), the
  same without auto-reset, and 4-step episodes with auto-reset."""
  env: Any
  short: Any
  reset: Callable
  step: Callable
  plain_step: Callable
  short_step: Callable


@pytest.fixture(scope='module')
def cartpole():
  env = envs.make('dmc/CartpoleSwingup')
  plain = envs.make('dmc/CartpoleSwingup', auto_reset=False)
  short = envs.make('dmc/CartpoleSwingup', episode_length=4)
  return Cartpole(env, short, jax.jit(env.reset), jax.jit(env.step), jax.jit(plain.step),
                  jax.jit(short.step))


def test_shapes_bounds_and_playground_config(cartpole):
  env = cartpole.env
  inner = env.unwrapped
  assert (env.observation_size, env.action_size) == (5, 1)
  np.testing.assert_array_equal(inner.action_bounds[0], [-1.0])
  np.testing.assert_array_equal(inner.action_bounds[1], [1.0])
  config = playground.default_config('CartpoleSwingup')
  assert env.episode_length == config.episode_length == 1000
  assert env.action_repeat == config.action_repeat == 1
  step = cartpole.step
  state = step(cartpole.reset(jax.random.key(0)), jnp.ones(1))
  state = step(state, -jnp.ones(1))
  assert step._cache_size() == 1  # float32 reward and done: no retrace on the 2nd step
  assert state.obs.shape == (5,) and state.obs.dtype == jnp.float32
  assert state.reward.shape == () and state.done.shape == ()
  # obs = [cart x, cos, sin, velocities]: the pole hangs down at the start.
  assert float(state.obs[1]) < -0.99


def test_actions_are_clipped_to_the_actuator_range(cartpole):
  state = cartpole.reset(jax.random.key(1))
  step = cartpole.plain_step
  np.testing.assert_array_equal(step(state, jnp.array([5.0])).obs,
                                step(state, jnp.array([1.0])).obs)
  assert not np.allclose(step(state, jnp.array([0.5])).obs, step(state, jnp.array([1.0])).obs)


def test_auto_reset_keeps_the_true_next_observation_and_starts_fresh(cartpole):
  length = 4
  state = cartpole.reset(jax.random.key(2))
  starts = [state.obs]
  for t in range(1, 3 * length + 1):
    expected = cartpole.plain_step(state, jnp.array([0.7]))  # the step without auto-reset
    state = cartpole.short_step(state, jnp.array([0.7]))
    np.testing.assert_allclose(state.info['next_obs'], expected.obs, rtol=1e-5, atol=1e-6)
    assert bool(state.done) == (t % length == 0)
    if t % length == 0:
      starts.append(state.obs)
      assert not np.allclose(state.obs, state.info['next_obs'])
      assert int(state.info['steps']) == 0
  starts = np.stack(starts)
  assert np.min(np.abs(starts[1:] - starts[:-1]).sum(-1)) > 1e-4  # new random starts


def test_vmap_over_a_batch_equals_a_loop(cartpole):
  env = cartpole.env
  keys = jax.random.split(jax.random.key(3), 3)
  actions = jax.random.uniform(jax.random.key(4), (3, 1), minval=-1, maxval=1)
  batched = jax.jit(jax.vmap(lambda k, a: env.step(env.reset(k), a)))(keys, actions)
  for i in range(3):
    one = cartpole.step(cartpole.reset(keys[i]), actions[i])
    np.testing.assert_allclose(batched.obs[i], one.obs, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(batched.reward[i], one.reward, atol=1e-6)
  assert not np.allclose(batched.obs[0], batched.obs[1])


def test_compiled_episode_return_equals_step_by_step(cartpole):
  # The reference steps one jitted call at a time, the state crossing back to Python
  # between steps (op-by-op MJX without jit costs about a minute a step on this CPU).
  # Six steps of 4-step episodes: the scan goes through an auto-reset.
  short = cartpole.short
  actions = jnp.sin(jnp.arange(6.0))[:, None]
  start = cartpole.reset(jax.random.key(5))

  def episode(state):
    def body(s, a):
      s = short.step(s, a)
      return s, s.reward
    return jax.lax.scan(body, state, actions)[1].sum()

  jitted = float(jax.jit(episode)(start))
  state, stepwise = start, 0.0
  for a in actions:
    state = cartpole.short_step(state, a)
    stepwise += float(state.reward)
  np.testing.assert_allclose(jitted, stepwise, rtol=1e-5)
  assert jitted > 0.0


def _towards_target(obs, gain=200.0, link=0.12):
  """Reacher torques J(q)' (target - finger): the Jacobian-transpose controller."""
  q1, q12 = obs[:, 0], obs[:, 0] + obs[:, 1]
  jac = jnp.stack([jnp.stack([-link * (jnp.sin(q1) + jnp.sin(q12)), -link * jnp.sin(q12)], -1),
                   jnp.stack([link * (jnp.cos(q1) + jnp.cos(q12)), link * jnp.cos(q12)], -1)], -2)
  return gain * jnp.einsum('nij,ni->nj', jac, obs[:, 2:4])


# One task per reward function (the Hard / Balance variants share them).
@pytest.mark.parametrize('task', ['CartpoleSwingup', 'CartpoleBalanceSparse', 'ReacherEasy',
                                  'PendulumSwingup'])
def test_pure_reward_fn_equals_the_envs_reward(task):
  env = envs.make('dmc/' + task, episode_length=1000)
  reward_fn, termination_fn = pure_functions(env)
  n, steps = 64, 60

  def run(key):
    state = jax.vmap(env.reset)(jax.random.split(key, n))

    def body(s, k):
      a = jax.random.uniform(k, (n, env.action_size), minval=-1.5, maxval=1.5)
      if task == 'ReacherEasy':  # random torques rarely reach the target: steer to it
        a = _towards_target(s.obs) + 0.3 * a
      nxt = jax.vmap(env.step)(s, a)
      clipped = jnp.clip(a, -1.0, 1.0)
      pure = reward_fn(s.obs, clipped, nxt.info['next_obs'])
      return nxt, (nxt.reward, pure, termination_fn(s.obs, clipped, nxt.obs))
    return jax.lax.scan(body, state, jax.random.split(key, steps))[1]

  rewards, pure, ended = jax.jit(run)(jax.random.key(6))
  np.testing.assert_allclose(pure, rewards, atol=1e-5)
  assert np.ptp(np.asarray(rewards)) > 1e-3  # the check saw different rewards
  assert not np.any(ended)


def test_tasks_whose_reward_reads_the_simulator_have_none():
  assert pure_functions(envs.make('dmc/CheetahRun'))[0] is None
  assert 'CheetahRun' not in dmc_rewards.REWARD_FNS


def test_bad_names_and_options_fail_in_one_line():
  with pytest.raises(ValueError, match=r"Unknown env 'dmc/CartpoleSwingUp'.*dmc/CartpoleSwingup"):
    envs.make('dmc/CartpoleSwingUp')
  with pytest.raises(ValueError, match=r"locomotion and manipulation envs are not wrapped"):
    envs.make('dmc/Go1JoystickFlatTerrain')
  with pytest.raises(ValueError, match=r"solver_iterations must be >= 0"):
    envs.make('dmc/CartpoleSwingup', solver_iterations=-1)
  with pytest.raises(ValueError, match=r"impl must be one of \('jax', 'warp'\), got 'cuda'"):
    envs.make('dmc/CartpoleSwingup', impl='cuda')
  with pytest.raises(ValueError, match=r"Unknown argument\(s\) backend"):
    envs.make('dmc/CartpoleSwingup', backend='mjx')


def test_without_playground_the_error_says_how_to_install(monkeypatch):
  monkeypatch.setitem(sys.modules, 'mujoco_playground', None)
  with pytest.raises(ImportError, match=r"pip install 'mbrl_jax\[playground\]'"):
    playground.registry()


def test_import_and_load_print_nothing():
  # A fresh interpreter: Playground's first import and CheetahRun's model load print
  # (Warp's banner, MuJoCo's deprecation warning) unless silenced.
  code = textwrap.dedent("""
      from mbrl_jax import envs
      env = envs.make('dmc/CheetahRun')
      assert env.observation_size == 17
  """)
  result = subprocess.run([sys.executable, '-c', code], cwd=ROOT, capture_output=True,
                          text=True, timeout=300,
                          env=dict(os.environ, JAX_PLATFORMS='cpu'))
  assert result.returncode == 0, result.stderr
  assert result.stdout == '' and result.stderr == ''

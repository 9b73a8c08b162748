"""MuJoCo Playground's DeepMind Control suite as brax Envs: `envs.make('dmc/<Task>')`.

Playground (PyPI `playground`, import `mujoco_playground`; the optional extra
`mbrl_jax[playground]`) writes the suite's 25 tasks on MJX and ships their models,
so they load offline. `DmcEnv` turns one into the package's env interface: a brax
`Env` whose state carries the MJX data as `pipeline_state`, float32 reward and done,
actions clipped to the actuators' ranges, and the pure `reward_fn` where the reward
is a function of the observation (dmc_rewards.py). `envs.make` adds the episode limit
and action repeat Playground's config defines (1000 steps, repeat 1) and auto-reset.

Simulation uses MJX's JAX implementation (`impl='jax'`): it runs wherever JAX does,
vmaps and differentiates (with the solver's iterations capped; see BUILD_NOTES).
Playground's default, `impl='warp'`, calls MuJoCo Warp kernels through an FFI that
needs an NVIDIA GPU to be fast and cannot be differentiated by JAX.

Playground prints a lot on import and load (Warp's kernel compilation, MuJoCo's
deprecation warnings); `quiet()` sends that to absl's debug log instead.
"""

import contextlib
import os
import tempfile
from typing import Optional

import jax
import jax.numpy as jnp
import numpy as np
from absl import logging
from brax.envs.base import Env, State

from mbrl_jax.envs import dmc_rewards

PREFIX = 'dmc/'
# The suite as Playground 0.2.0 registers it (a test checks this against its registry);
# listing it here keeps `envs.names()` from importing Playground (5 s).
TASKS = (
    'AcrobotSwingup', 'AcrobotSwingupSparse', 'BallInCup', 'CartpoleBalance',
    'CartpoleBalanceSparse', 'CartpoleSwingup', 'CartpoleSwingupSparse', 'CheetahRun',
    'FingerSpin', 'FingerTurnEasy', 'FingerTurnHard', 'FishSwim', 'HopperHop',
    'HopperStand', 'HumanoidStand', 'HumanoidWalk', 'HumanoidRun', 'PendulumSwingup',
    'PointMass', 'ReacherEasy', 'ReacherHard', 'SwimmerSwimmer6', 'WalkerRun',
    'WalkerStand', 'WalkerWalk')
IMPLS = ('jax', 'warp')
INSTALL_HINT = "pip install 'mbrl_jax[playground]'"


@contextlib.contextmanager
def quiet():
  """Send what C and Python print to stdout/stderr meanwhile to absl's debug log."""
  with tempfile.TemporaryFile(mode='w+b') as sink:
    saved = [os.dup(1), os.dup(2)]
    for stream in (1, 2):
      os.dup2(sink.fileno(), stream)
    try:
      yield
    finally:
      for stream, fd in zip((1, 2), saved):
        os.dup2(fd, stream)
        os.close(fd)
      sink.seek(0)
      text = sink.read().decode(errors='replace').strip()
      if text:
        logging.debug('MuJoCo Playground printed:\n%s', text)


def registry():
  """mujoco_playground.registry, imported quietly, or a one-line ImportError."""
  try:
    with quiet():
      import warp  # pylint: disable=import-outside-toplevel
      warp.config.quiet = True  # Warp's banner and per-kernel timings
      from mujoco_playground import registry as playground_registry
  except ImportError as error:
    raise ImportError(f'The dmc/ envs need MuJoCo Playground ({error}); '
                      f'install it with: {INSTALL_HINT}') from None
  return playground_registry


def default_config(task: str):
  """Playground's config of a task (episode_length, action_repeat, ctrl_dt, ...)."""
  return registry().get_default_config(task)


class DmcEnv(Env):
  """One DM Control task of MuJoCo Playground, unbatched (vmap it)."""

  def __init__(self, task: str, impl: str = 'jax', solver_iterations: int = 0):
    """solver_iterations > 0 caps MJX's constraint solver at that many iterations: its
    default loops until converged in a lax.while_loop, which reverse mode cannot
    differentiate (BUILD_NOTES: gradients through the DM Control tasks)."""
    if task not in TASKS:
      raise ValueError(f'Unknown DM Control task {task!r}; valid: {", ".join(TASKS)}.')
    if impl not in IMPLS:
      raise ValueError(f'impl must be one of {IMPLS}, got {impl!r}.')
    if solver_iterations < 0:
      raise ValueError(f'solver_iterations must be >= 0 (0: converge), got {solver_iterations}.')
    self.task, self.impl = task, impl
    config = default_config(task)
    self.episode_length = int(config.episode_length)
    self.action_repeat = int(config.action_repeat)
    with quiet():
      self.playground_env = registry().load(task, config_overrides={'impl': impl})
    if solver_iterations:
      inner = self.playground_env
      inner._mjx_model = inner.mjx_model.tree_replace({'opt.iterations': solver_iterations})
    model = self.playground_env.mj_model
    limited = model.actuator_ctrllimited.astype(bool)
    self.action_low = np.where(limited, model.actuator_ctrlrange[:, 0], -np.inf)
    self.action_high = np.where(limited, model.actuator_ctrlrange[:, 1], np.inf)
    self.action_low, self.action_high = (b.astype(np.float32)
                                         for b in (self.action_low, self.action_high))
    make_reward = dmc_rewards.REWARD_FNS.get(task)
    self.reward_fn: Optional[callable] = make_reward(self.playground_env) if make_reward else None
    obs = jax.eval_shape(self.playground_env.reset, jax.random.PRNGKey(0)).obs
    self._observation_size = int(obs.shape[-1])

  def termination_fn(self, obs, action, next_obs):
    """No DM Control task ends by failure or success (only time limits)."""
    del action, next_obs
    return jnp.zeros(jnp.shape(obs)[:-1])

  def reset(self, rng: jax.Array) -> State:
    return self._to_brax(self.playground_env.reset(rng), {})

  def step(self, state: State, action: jax.Array) -> State:
    from mujoco_playground import State as PlaygroundState  # pylint: disable=import-outside-toplevel
    action = jnp.clip(action, self.action_low, self.action_high)
    inner = PlaygroundState(state.pipeline_state, state.obs, state.reward, state.done,
                            dict(state.metrics), dict(state.info))
    return self._to_brax(self.playground_env.step(inner, action), state.info)

  @staticmethod
  def _to_brax(inner, outer_info) -> State:
    # Float32 without weak types, so that a jitted step never retraces; wrappers' info
    # entries (step counters, reset keys) stay when a task rebuilds its info dict.
    as_f32 = lambda x: jnp.asarray(x, jnp.float32).astype(jnp.float32)
    return State(pipeline_state=inner.data, obs=as_f32(inner.obs), reward=as_f32(inner.reward),
                 done=as_f32(inner.done), metrics=dict(inner.metrics),
                 info={**outer_info, **inner.info})

  @property
  def observation_size(self) -> int:
    return self._observation_size

  @property
  def action_size(self) -> int:
    return int(self.playground_env.action_size)

  @property
  def action_bounds(self):
    return self.action_low, self.action_high

  @property
  def backend(self) -> str:
    return f'mjx-{self.impl}'

  @property
  def dt(self) -> float:
    return float(self.playground_env.dt)

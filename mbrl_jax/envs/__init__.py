"""Environments: `make(name, **kwargs)` for the JAX-native tasks, Brax's envs and MuJoCo
Playground's DM Control suite ('dmc/<Task>', the optional extra `mbrl_jax[playground]`).

Every env is a brax `Env` (reset(rng) -> State, step(state, action) -> State,
observation_size, action_size), unbatched: batch it with `jax.vmap`.
"""

import inspect
import math
import numbers
import warnings
from typing import Any, Callable, Dict, List, Optional, Tuple, Type

import numpy as np
from brax.envs import (ant, fast, half_cheetah, hopper, humanoid, humanoidstandup,
                       inverted_double_pendulum, inverted_pendulum, pusher, reacher, swimmer,
                       walker2d)
from brax.envs.base import Env, PipelineEnv
from brax.envs.wrappers.training import EpisodeWrapper

from mbrl_jax.envs import brax_functions, playground
from mbrl_jax.envs.acrobot import AcrobotSwingup
from mbrl_jax.envs.base import Task
from mbrl_jax.envs.cartpole import CartpoleSwingup
from mbrl_jax.envs.linear import LinearQuadratic
from mbrl_jax.envs.pendulum import Pendulum
from mbrl_jax.envs.pixels import PixelObservation
from mbrl_jax.envs.point_mass import PointMass
from mbrl_jax.envs.two_link_arm import TwoLinkArm
from mbrl_jax.envs.wrappers import AutoResetWrapper

TASKS: Dict[str, Type[Task]] = {
    'pendulum': Pendulum,
    'cartpole_swingup': CartpoleSwingup,
    'acrobot_swingup': AcrobotSwingup,
    'point_mass': PointMass,
    'two_link_arm': TwoLinkArm,
    'linear_quadratic': LinearQuadratic,
}
# Tasks seen through a camera: observation (image, joint state), the state inside
# (pixels.PixelObservation, 64 x 64 RGB).
PIXEL_TASKS: Dict[str, Type[Task]] = {'visual_arm': TwoLinkArm}
BRAX_PREFIX = 'brax/'
BRAX_EPISODE_LENGTH = 1000  # brax.training's default
WRAPPER_KWARGS = ('episode_length', 'action_repeat', 'auto_reset')
MAX_STEPS = 2**31 - 1  # step counters are int32
# Brax warns about its maintenance status on every env it builds.
BRAX_NOTICE = 'Brax System, piplines and environments are not actively being maintained'


# brax's envs by name: brax keeps its registry private, so the table is ours (a test
# checks it against brax's).
BRAX_ENVS = {
    'ant': ant.Ant, 'fast': fast.Fast, 'halfcheetah': half_cheetah.Halfcheetah,
    'hopper': hopper.Hopper, 'humanoid': humanoid.Humanoid,
    'humanoidstandup': humanoidstandup.HumanoidStandup,
    'inverted_pendulum': inverted_pendulum.InvertedPendulum,
    'inverted_double_pendulum': inverted_double_pendulum.InvertedDoublePendulum,
    'pusher': pusher.Pusher, 'reacher': reacher.Reacher, 'swimmer': swimmer.Swimmer,
    'walker2d': walker2d.Walker2d,
}


def names() -> List[str]:
  """Every name `make` accepts."""
  return (sorted(TASKS) + sorted(PIXEL_TASKS) + [BRAX_PREFIX + n for n in sorted(BRAX_ENVS)]
          + [playground.PREFIX + n for n in playground.TASKS])


def _constructor_defaults(cls) -> Dict[str, Any]:
  """{option: default} of a constructor (inspect.Parameter.empty: none)."""
  params = inspect.signature(cls.__init__).parameters
  return {name: p.default for name, p in params.items() if name != 'self' and
          p.kind not in (inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL)}


def _is_number(value) -> bool:
  return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _is_finite_number(value) -> bool:
  return _is_number(value) and math.isfinite(value)


def _is_integer(value) -> bool:
  return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_number_array(value) -> bool:
  """A (nested) list, tuple or array of numbers, as JSON writes a vector or matrix."""
  if isinstance(value, np.ndarray):
    return value.dtype.kind in 'iuf'
  if isinstance(value, (list, tuple)):
    return all(_is_number(v) or _is_number_array(v) for v in value)
  return False


def _accepted(default) -> Optional[Tuple[str, Callable[[Any], bool]]]:
  """(what, check) for an option whose default is `default`; None: not checked."""
  if isinstance(default, bool):
    return 'true or false', lambda v: isinstance(v, bool)
  if _is_integer(default):
    return 'an integer', _is_integer
  if _is_number(default):
    return 'a finite number', _is_finite_number
  if isinstance(default, str):
    return 'a string', lambda v: isinstance(v, str)
  if isinstance(default, (list, tuple, np.ndarray)):
    return 'a list of numbers', _is_number_array
  return None


def _check_option_types(name: str, defaults: Dict[str, Any], kwargs: Dict[str, Any]) -> None:
  """Each option must have the type of its default (wrong types fail deep in a trace)."""
  for option, value in kwargs.items():
    default = defaults[option]
    accepted = _accepted(default)
    if accepted is not None and not accepted[1](value):
      shown = '' if isinstance(default, (list, tuple, np.ndarray)) else f' (default {default!r})'
      raise ValueError(f'env option {option}={value!r} for {name!r} must be {accepted[0]}'
                       f'{shown}, got {type(value).__name__}.')


def _check_wrapper_options(episode_length, action_repeat, auto_reset) -> None:
  for option, value in [('episode_length', episode_length), ('action_repeat', action_repeat)]:
    if value is not None and not (_is_integer(value) and 1 <= value <= MAX_STEPS):
      raise ValueError(f'{option} must be an integer in [1, {MAX_STEPS}], got {value!r}.')
  if not isinstance(auto_reset, (bool, np.bool_)):
    raise ValueError(f'auto_reset must be true or false, got {auto_reset!r}.')


def make(name: str, episode_length: int = None, action_repeat: int = None,
         auto_reset: bool = True, **kwargs) -> Env:
  """An env by name, wrapped with an episode limit and, by default, auto-reset.

  Args:
    name: a JAX-native task (see `names()`), a task seen through a camera
      ('visual_arm': the two-link arm observed as a 64 x 64 RGB image and its joint
      state, pixels.PixelObservation), 'brax/<env>' for a Brax env, or
      'dmc/<Task>' for a DM Control task of MuJoCo Playground (playground.DmcEnv).
    episode_length: env steps per episode; defaults to the task's standard horizon
      (Brax envs: 1000; DM Control: Playground's config, 1000).
    action_repeat: env steps per action (brax's EpisodeWrapper); defaults to 1
      (DM Control: Playground's config, 1).
    auto_reset: when an episode ends, start a new one from a fresh random state.
    **kwargs: passed to the task's constructor (Brax: e.g. backend='positional').
  """
  if name in TASKS or name in PIXEL_TASKS:
    cls = TASKS.get(name) or PIXEL_TASKS[name]
    defaults = _constructor_defaults(cls)
  elif name.startswith(BRAX_PREFIX) and name[len(BRAX_PREFIX):] in BRAX_ENVS:
    cls = BRAX_ENVS[name[len(BRAX_PREFIX):]]
    # PipelineEnv's own options pass through the env's **kwargs.
    pipeline = _constructor_defaults(PipelineEnv)
    defaults = {k: pipeline[k] for k in ('backend', 'n_frames', 'debug')}
    defaults.update(_constructor_defaults(cls))
  elif name.startswith(playground.PREFIX) and name[len(playground.PREFIX):] in playground.TASKS:
    cls = lambda **options: playground.DmcEnv(name[len(playground.PREFIX):], **options)
    defaults = {k: v for k, v in _constructor_defaults(playground.DmcEnv).items()
                if k != 'task'}
  elif name.startswith((playground.PREFIX, 'playground/')):
    raise ValueError(f'Unknown env {name!r}; DM Control tasks: '
                     f'{", ".join(playground.PREFIX + t for t in playground.TASKS)} '
                     f'(Playground\'s locomotion and manipulation envs are not wrapped: '
                     f'they clone mujoco_menagerie from GitHub when first loaded).')
  else:
    raise ValueError(f'Unknown env {name!r}; valid names: {", ".join(names())}.')
  unknown = sorted(set(kwargs) - set(defaults))
  if unknown:
    raise ValueError(f'Unknown argument(s) {", ".join(unknown)} for env {name!r}; '
                     f'valid: {", ".join(sorted(defaults) + list(WRAPPER_KWARGS))}.')
  _check_option_types(name, defaults, kwargs)
  _check_wrapper_options(episode_length, action_repeat, auto_reset)
  with warnings.catch_warnings():
    warnings.filterwarnings('ignore', message=BRAX_NOTICE)
    env = cls(**kwargs)
  if name.startswith(BRAX_PREFIX):
    env = brax_functions.attach(env)
  if name in PIXEL_TASKS:
    env = PixelObservation(env)
  if episode_length is None:
    episode_length = getattr(env, 'episode_length', BRAX_EPISODE_LENGTH)
  if action_repeat is None:
    action_repeat = getattr(env, 'action_repeat', 1)
  env = EpisodeWrapper(env, int(episode_length), int(action_repeat))
  if auto_reset:
    env = AutoResetWrapper(env)
  return env


__all__ = ['make', 'names', 'TASKS', 'Task', 'AutoResetWrapper'] + [
    c.__name__ for c in TASKS.values()]

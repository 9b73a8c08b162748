"""Environments: `make(name, **kwargs)` for the JAX-native tasks and Brax's envs.

Every env is a brax `Env` (reset(rng) -> State, step(state, action) -> State,
observation_size, action_size), unbatched: batch it with `jax.vmap`.
"""

import inspect
from typing import Dict, List, Type

from brax import envs as brax_envs
from brax.envs.base import Env
from brax.envs.wrappers.training import EpisodeWrapper

from mbrl_jax.envs.acrobot import AcrobotSwingup
from mbrl_jax.envs.base import Task
from mbrl_jax.envs.cartpole import CartpoleSwingup
from mbrl_jax.envs.linear import LinearQuadratic
from mbrl_jax.envs.pendulum import Pendulum
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
BRAX_PREFIX = 'brax/'
BRAX_EPISODE_LENGTH = 1000  # brax.training's default
WRAPPER_KWARGS = ('episode_length', 'action_repeat', 'auto_reset')


def names() -> List[str]:
  """Every name `make` accepts."""
  return sorted(TASKS) + [BRAX_PREFIX + n for n in sorted(brax_envs._envs)]


def _constructor_kwargs(cls) -> List[str]:
  params = inspect.signature(cls.__init__).parameters
  return [p for p in params if p != 'self' and
          params[p].kind not in (inspect.Parameter.VAR_KEYWORD,
                                 inspect.Parameter.VAR_POSITIONAL)]


def make(name: str, episode_length: int = None, action_repeat: int = 1,
         auto_reset: bool = True, **kwargs) -> Env:
  """An env by name, wrapped with an episode limit and, by default, auto-reset.

  Args:
    name: a JAX-native task (see `names()`) or 'brax/<env>' for a Brax env.
    episode_length: steps per episode; defaults to the task's standard horizon
      (Brax envs: 1000).
    action_repeat: env steps per action (brax's EpisodeWrapper).
    auto_reset: when an episode ends, start a new one from a fresh random state.
    **kwargs: passed to the task's constructor (Brax: e.g. backend='positional').
  """
  if name in TASKS:
    cls = TASKS[name]
    allowed = _constructor_kwargs(cls)
  elif name.startswith(BRAX_PREFIX) and name[len(BRAX_PREFIX):] in brax_envs._envs:
    cls = brax_envs._envs[name[len(BRAX_PREFIX):]]
    # PipelineEnv's own options pass through the env's **kwargs.
    allowed = _constructor_kwargs(cls) + ['backend', 'n_frames', 'debug']
  else:
    raise ValueError(f'Unknown env {name!r}; valid names: {", ".join(names())}.')
  unknown = sorted(set(kwargs) - set(allowed))
  if unknown:
    raise ValueError(f'Unknown argument(s) {", ".join(unknown)} for env {name!r}; '
                     f'valid: {", ".join(sorted(set(allowed)) + list(WRAPPER_KWARGS))}.')
  env = cls(**kwargs)
  if episode_length is None:
    episode_length = getattr(env, 'episode_length', BRAX_EPISODE_LENGTH)
  if int(episode_length) < 1 or int(action_repeat) < 1:
    raise ValueError(f'episode_length and action_repeat must be >= 1, got '
                     f'{episode_length} and {action_repeat}.')
  env = EpisodeWrapper(env, int(episode_length), int(action_repeat))
  if auto_reset:
    env = AutoResetWrapper(env)
  return env


__all__ = ['make', 'names', 'TASKS', 'Task', 'AutoResetWrapper'] + [
    c.__name__ for c in TASKS.values()]

"""Agents, one module per algorithm, found by name.

Any module here that defines `default_config()` and `make(config, env)` is an
agent: the launcher, the runner and checkpoints find it without being changed.
"""

import importlib
import pkgutil
from typing import Any, Dict, List, Tuple

from mbrl_jax import envs
from mbrl_jax.agents.base import Agent

_NOT_AGENTS = {'base'}


def names() -> List[str]:
  found = []
  for info in pkgutil.iter_modules(__path__):
    if info.name in _NOT_AGENTS or info.name.startswith('_'):
      continue
    module = importlib.import_module(f'{__name__}.{info.name}')
    if hasattr(module, 'default_config') and hasattr(module, 'make'):
      found.append(info.name)
  return sorted(found)


def get(name: str):
  """The agent module called `name` (only that module is imported)."""
  modules = {info.name for info in pkgutil.iter_modules(__path__)}
  if name in modules and name not in _NOT_AGENTS and not name.startswith('_'):
    module = importlib.import_module(f'{__name__}.{name}')
    if hasattr(module, 'default_config') and hasattr(module, 'make'):
      return module
  raise ValueError(f'Unknown agent {name!r}; valid agents: {", ".join(names())}.')


def build(run_config: Dict[str, Any]) -> Tuple[Agent, Any]:
  """(agent, env) from a run description {'agent', 'env', 'env_kwargs', 'config'}."""
  import ml_collections
  module = get(run_config['agent'])
  env = envs.make(run_config['env'], **run_config.get('env_kwargs', {}))
  config = run_config['config']
  if not isinstance(config, ml_collections.ConfigDict):
    config = ml_collections.ConfigDict(config)
  return module.make(config, env), env


__all__ = ['Agent', 'build', 'get', 'names']

"""The registry of algorithms: one module per algorithm, listed here by name.

`AGENTS` are the algorithms the launcher, the runner and checkpoints run: each
module defines `default_config()`, its presets (`PRESETS`, the algorithm's
variants; `SIZES`, hardware sizes, 'tiny' among them for tests and smoke runs;
`preset(name, size)`) and `make(config, env) -> Agent` (docs/writing_an_agent.md). Adding one is a
module and a line in `AGENTS`. `TABULAR` algorithms (mbrl_jax.tabular) are a
separate family: their worlds are tables, not brax Envs, so they have their own
runner script (experiments/<name>.py) instead of `make`.
The other modules here (base, actor_critic, model_based) are pieces agents are built of.
"""

import importlib
import math
import numbers
from typing import Any, Dict, List, Tuple

from mbrl_jax import envs
from mbrl_jax.core.nested import flatten, is_section
from mbrl_jax.agents.base import Agent

AGENTS = ('gps', 'mbpo', 'model_pg', 'mpc', 'pathwise', 'sac')
TABULAR = ('dyna_q',)
MAX_INT = 2**31 - 1


def names() -> List[str]:
  """The launcher's agents."""
  return list(AGENTS)


def get(name: str):
  """The agent module called `name` (only that module is imported)."""
  if name in AGENTS:
    return importlib.import_module(f'{__name__}.{name}')
  if name in TABULAR:
    raise ValueError(f'{name!r} is a tabular algorithm, not a launcher agent: run '
                     f'experiments/{name}.py.')
  raise ValueError(f'Unknown agent {name!r}; valid agents: {", ".join(names())} '
                   f'(tabular, with scripts of their own: {", ".join(TABULAR)}).')


def preset(agent: str, name: str = None, size: str = None):
  """The config of `agent`'s preset `name` at `size` (each its default without one).
  Every agent's presets live in its module: `PRESETS` and `SIZES` (the first of each
  is the default) and `preset(name, size)`."""
  module = get(agent)
  return module.preset(name or module.PRESETS[0], size or module.SIZES[0])


def presets(agent: str) -> Tuple[str, ...]:
  """The names of `agent`'s presets, the default first."""
  return tuple(get(agent).PRESETS)


def sizes(agent: str) -> Tuple[str, ...]:
  """The sizes of `agent`'s presets, the default first."""
  return tuple(get(agent).SIZES)


def preset_from_spec(agent: str, spec: str = None):
  """The config a launcher config file names after its colon: 'name', 'size' or
  'name,size' (e.g. experiments/configs/mpc.py:pets,tiny); nothing: the defaults."""
  name = size = None
  for part in (spec.split(',') if spec else []):
    if part in get(agent).SIZES and part not in get(agent).PRESETS:
      size = part
    else:
      name = part
  return preset(agent, name, size)


def _key_differences(given, defaults, prefix: str = '') -> Tuple[List[str], List[str]]:
  """(unknown, missing) dotted keys, each named at the shallowest level that differs."""
  unknown = sorted(prefix + k for k in given.keys() if k not in defaults)
  missing = sorted(prefix + k for k in defaults.keys() if k not in given)
  for key in sorted(set(given.keys()) & set(defaults.keys())):
    if is_section(given[key]) and is_section(defaults[key]):
      more = _key_differences(given[key], defaults[key], f'{prefix}{key}.')
      unknown, missing = unknown + more[0], missing + more[1]
    elif is_section(given[key]) or is_section(defaults[key]):
      unknown.append(prefix + key)  # a section where a value belongs, or the reverse
  return unknown, missing


def _listed(keys: List[str], limit: int = 6) -> str:
  more = f' and {len(keys) - limit} more' if len(keys) > limit else ''
  return ', '.join(keys[:limit]) + more


def _type_error(key: str, value, default):
  """Why `value` cannot replace `default` (None: it can); bools and ints stay apart."""
  def number(v):
    return isinstance(v, numbers.Real) and not isinstance(v, bool)
  if isinstance(default, bool):
    ok, what = isinstance(value, bool), 'true or false'
  elif isinstance(default, numbers.Integral):  # sizes and counts become int32 in traces
    ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    ok, what = ok and abs(value) <= MAX_INT, f'an integer of at most {MAX_INT}'
  elif number(default):
    ok, what = number(value) and math.isfinite(value), 'a finite number'
  elif isinstance(default, str):
    ok, what = isinstance(value, str), 'a string'
  elif isinstance(default, (tuple, list)):
    ok, what = isinstance(value, (tuple, list)), 'a list'
  else:
    return None
  return None if ok else f'config.{key} must be {what}, got {value!r}.'


def _check_config(name: str, config) -> None:
  """The config must have the agent's keys (no more, no fewer), each of the type of
  its default: another agent's config or a wrong type fails here in one line
  instead of deep inside `make` or a trace."""
  defaults = get(name).default_config()
  if not is_section(config):
    raise ValueError(f'the config of agent {name!r} must be a dict or ConfigDict, '
                     f'got {type(config).__name__}.')
  unknown, missing = _key_differences(config, defaults)
  if unknown or missing:
    parts = ([f'unknown keys {_listed(unknown)}'] if unknown else []) + (
        [f'missing keys {_listed(missing)}'] if missing else [])
    raise ValueError(f'the config does not fit agent {name!r} (another agent\'s config?): '
                     f'{"; ".join(parts)}.')
  given, defaults = flatten(config), flatten(defaults)
  for key in sorted(given):
    error = _type_error(key, given[key], defaults[key])
    if error:
      raise ValueError(error)


def build(run_config: Dict[str, Any]) -> Tuple[Agent, Any]:
  """(agent, env) from a run description {'agent', 'env', 'env_kwargs', 'config'}."""
  import ml_collections
  module = get(run_config['agent'])
  _check_config(run_config['agent'], run_config['config'])
  env = envs.make(run_config['env'], **run_config.get('env_kwargs', {}))
  config = run_config['config']
  if not isinstance(config, ml_collections.ConfigDict):
    config = ml_collections.ConfigDict(config)
  return module.make(config, env), env


__all__ = ['Agent', 'build', 'get', 'names']

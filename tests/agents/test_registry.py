"""The registry lists every agent module, and only those; tabular algorithms are a
family of their own with a clear error at the launcher's entry point."""

import importlib
import pkgutil

import pytest

from mbrl_jax import agents


def modules_with_make():
  found = []
  for info in pkgutil.iter_modules(agents.__path__):
    module = importlib.import_module(f'mbrl_jax.agents.{info.name}')
    if hasattr(module, 'make') and hasattr(module, 'default_config'):
      found.append(info.name)
  return sorted(found)


def test_registry_matches_the_modules_that_define_make():
  assert sorted(agents.AGENTS) == modules_with_make()
  for name in agents.names():
    assert agents.get(name).__name__ == f'mbrl_jax.agents.{name}'


def test_tabular_algorithms_are_named_as_such():
  for name in agents.TABULAR:
    importlib.import_module(f'mbrl_jax.agents.{name}')  # the module exists
    with pytest.raises(ValueError, match=f"'{name}' is a tabular algorithm.*experiments/{name}.py"):
      agents.get(name)
  with pytest.raises(ValueError, match=r"Unknown agent 'nope'; valid agents: mbpo, model_pg, "
                                       r"mpc, pathwise, sac \(tabular.*dyna_q\)"):
    agents.get('nope')

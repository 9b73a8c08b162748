"""The registry lists every agent module, and only those; tabular algorithms are a
family of their own with a clear error at the launcher's entry point."""

import importlib
import os
import pkgutil
import runpy

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
    importlib.import_module(f'mbrl_jax.tabular.{name}')  # the module exists
    with pytest.raises(ValueError, match=f"'{name}' is a tabular algorithm.*experiments/{name}.py"):
      agents.get(name)
  with pytest.raises(ValueError, match=r"Unknown agent 'nope'; valid agents: gps, mbpo, "
                                       r"model_pg, mpc, pathwise, sac \(tabular.*dyna_q\)"):
    agents.get('nope')


def test_every_agent_has_its_presets_in_its_module_and_the_config_files_use_them():
  """One place for presets: the module's VERSIONS and preset(); the launcher's
  config files return exactly those configs, and an unknown version is one line."""
  configs = os.path.join(os.path.dirname(__file__), '..', '..', 'experiments', 'configs')
  for name in agents.AGENTS:
    module = agents.get(name)
    versions = agents.versions(name)
    assert versions and len(set(versions)) == len(versions)
    get_config = runpy.run_path(os.path.join(configs, f'{name}.py'))['get_config']
    assert get_config().to_dict() == module.preset().to_dict() == module.preset(
        versions[0]).to_dict()
    for version in versions:
      config = agents.preset(name, version)
      assert config.to_dict() == get_config(version).to_dict()
      assert set(config.keys()) == set(module.default_config().keys())
    with pytest.raises(ValueError, match=f"Unknown .* version 'nope'; valid: {versions[0]}, "):
      agents.preset(name, 'nope')


def test_mbpo_cpu_preset_keeps_sac_cpu_settings():
  """MBPO's SAC at CPU size is SAC's (so the two learning curves compare like with like)."""
  sac, mbpo = agents.preset('sac', 'cpu'), agents.preset('mbpo', 'cpu')
  for key in ('hidden_sizes', 'learning_rate', 'random_steps', 'buffer_capacity',
              'steps_per_chunk', 'batch_size', 'discount', 'tau'):
    assert sac[key] == mbpo[key], key
  assert agents.preset('sac', 'paper').to_dict() == agents.get('sac').default_config().to_dict()

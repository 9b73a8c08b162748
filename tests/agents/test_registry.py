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
  """One place for presets: the module's PRESETS, SIZES and preset(); the launcher's
  config files return exactly those configs, and an unknown name or size is one line."""
  configs = os.path.join(os.path.dirname(__file__), '..', '..', 'experiments', 'configs')
  for name in agents.AGENTS:
    module = agents.get(name)
    presets, sizes = agents.presets(name), agents.sizes(name)
    assert presets and len(set(presets)) == len(presets) and 'tiny' in sizes
    assert not set(presets) & set(sizes)
    get_config = runpy.run_path(os.path.join(configs, f'{name}.py'))['get_config']
    assert get_config().to_dict() == module.preset().to_dict() == module.preset(
        presets[0], sizes[0]).to_dict()
    for preset in presets:
      for size in sizes:
        config = agents.preset(name, preset, size)
        assert config.to_dict() == get_config(f'{preset},{size}').to_dict()
        assert set(config.keys()) == set(module.default_config().keys())
      assert agents.preset(name, preset).to_dict() == get_config(preset).to_dict()
    for size in sizes:
      assert agents.preset(name, size=size).to_dict() == get_config(size).to_dict()
    with pytest.raises(ValueError, match=f"Unknown .* preset 'nope'; valid: {presets[0]}"):
      agents.preset(name, 'nope')
    with pytest.raises(ValueError, match=f"Unknown .* size 'huge'; valid: {sizes[0]}"):
      agents.preset(name, size='huge')


def test_mbpo_cpu_preset_keeps_sac_cpu_settings():
  """MBPO's SAC at CPU size is SAC's (so the two learning curves compare like with like)."""
  sac, mbpo = agents.preset('sac', size='cpu'), agents.preset('mbpo', size='cpu')
  for key in ('hidden_sizes', 'learning_rate', 'random_steps', 'buffer_capacity',
              'steps_per_chunk', 'batch_size', 'discount', 'tau'):
    assert sac[key] == mbpo[key], key
  assert agents.preset('sac', size='paper').to_dict() == agents.get('sac').default_config().to_dict()

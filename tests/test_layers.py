"""No module imports from a floor above its own (BUILD_NOTES, "The house")."""

import ast
import os

import mbrl_jax

# Bottom (0) to top; a module may import its own floor and those below.
FLOORS = {
    'types': 0, 'checks': 0, 'guards': 0, 'returns': 0, 'compilation_cache': 0, 'timing': 0,
    'envs': 1, 'data': 1, 'acting': 1, 'metrics': 1,
    'models': 2, 'planners': 2, 'evaluation': 2, 'plotting': 2, 'policies': 2,
    'estimators': 3, 'estimator_bench': 3, 'agents': 3, 'comparison': 3,
    'runner': 4, 'checkpoint': 4,
}
ROOT = os.path.dirname(mbrl_jax.__file__)


def package_imports(path):
  """Top-level mbrl_jax subpackages/modules that the file at `path` imports."""
  found = set()
  for node in ast.walk(ast.parse(open(path).read())):
    if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith('mbrl_jax'):
      parts = node.module.split('.')
      found |= {parts[1]} if len(parts) > 1 else {alias.name for alias in node.names}
    elif isinstance(node, ast.Import):
      found |= {a.name.split('.')[1] for a in node.names
                if a.name.startswith('mbrl_jax.')}
  return found


def test_every_module_has_a_floor_and_imports_nothing_above_it():
  upward = []
  for folder, _, files in os.walk(ROOT):
    for name in files:
      if not name.endswith('.py'):
        continue
      path = os.path.join(folder, name)
      top = os.path.relpath(path, ROOT).split(os.sep)[0].removesuffix('.py')
      if top == '__init__':
        continue
      assert top in FLOORS, f'{top} has no floor'
      upward += [(top, other) for other in package_imports(path)
                 if FLOORS.get(other, -1) > FLOORS[top]]
  assert not upward, upward


def test_the_check_sees_each_import_form(tmp_path):
  """The forms an upward import could take are all read (models once imported
  agents.base; that is what the floors forbid)."""
  path = tmp_path / 'module.py'
  path.write_text('from mbrl_jax.agents.base import check\nfrom mbrl_jax import runner, data\n'
                  'import mbrl_jax.checkpoint\nimport numpy\n')
  assert package_imports(str(path)) == {'agents', 'runner', 'data', 'checkpoint'}

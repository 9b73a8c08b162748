"""The folders of the package are its floors: no module imports from a floor above
its own, nor a private name of another module (docs/guide.md, "The layout")."""

import ast
import os

import mbrl_jax

# Bottom (0) to top; a module may import its own floor and those below.
FLOORS = {
    'core': 0,
    'envs': 1, 'data': 1,
    'models': 2, 'planners': 2, 'policies': 2,
    'estimators': 3,
    'agents': 4, 'tabular': 4,
    'harness': 5,
}
ROOT = os.path.dirname(mbrl_jax.__file__)


def package_imports(path):
  """(floor folder, dotted module, imported name) of every mbrl_jax import in `path`."""
  found = []
  for node in ast.walk(ast.parse(open(path).read())):
    if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith('mbrl_jax'):
      parts = node.module.split('.')
      for alias in node.names:
        folder = parts[1] if len(parts) > 1 else alias.name
        found.append((folder, node.module, alias.name))
    elif isinstance(node, ast.Import):
      found += [(a.name.split('.')[1], a.name, None) for a in node.names
                if a.name.startswith('mbrl_jax.')]
  return found


def modules():
  for folder, _, files in os.walk(ROOT):
    for name in files:
      if name.endswith('.py'):
        path = os.path.join(folder, name)
        yield path, os.path.relpath(path, ROOT).split(os.sep)


def test_the_package_is_folders_only():
  top = sorted(parts[0] for _, parts in modules() if len(parts) == 1)
  assert top == ['__init__.py'], top
  assert set(parts[0] for _, parts in modules() if len(parts) > 1) == set(FLOORS)


def test_no_module_imports_from_a_floor_above_its_own():
  upward = []
  for path, parts in modules():
    if len(parts) == 1:
      continue
    upward += [(parts, folder) for folder, _, _ in package_imports(path)
               if FLOORS[folder] > FLOORS[parts[0]]]
  assert not upward, upward


def test_no_module_imports_a_private_name():
  private = []
  for path, parts in modules():
    for _, module, name in package_imports(path):
      if any(p.startswith('_') for p in module.split('.')) or (name or '').startswith('_'):
        private.append((parts, module, name))
  assert not private, private


def test_the_check_sees_each_import_form(tmp_path):
  """The forms an upward or private import could take are all read."""
  path = tmp_path / 'module.py'
  path.write_text('from mbrl_jax.agents.base import check\nfrom mbrl_jax import harness, data\n'
                  'import mbrl_jax.harness.checkpoint\nimport numpy\n'
                  'from mbrl_jax.agents import _common\n')
  found = package_imports(str(path))
  assert {f for f, _, _ in found} == {'agents', 'harness', 'data'}
  assert ('agents', 'mbrl_jax.agents', '_common') in found

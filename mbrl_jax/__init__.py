"""mbrl_jax: model-based reinforcement learning in JAX."""

import contextlib
import importlib.abc
import importlib.machinery
import io
import sys

__version__ = '0.1.0'

# Brax imports MuJoCo's MJX, whose optional GPU backend (warp) prints two
# "Failed to import ..." lines to stdout when it is not installed (a CPU install).
# They are dropped, and only they, when that one module is first imported.
QUIET_MODULE = 'mujoco.mjx.warp'
DROPPED_NOTICES = ('Failed to import warp:', 'Failed to import mujoco_warp:')


def _without_notices(text: str) -> str:
  return ''.join(line for line in text.splitlines(keepends=True)
                 if not line.startswith(DROPPED_NOTICES))


class _QuietImportFinder(importlib.abc.MetaPathFinder):
  """Finds QUIET_MODULE as Python would and runs it with the notices filtered out;
  leaves the import machinery once used."""

  def find_spec(self, name, path, target=None):
    if name != QUIET_MODULE:
      return None
    sys.meta_path.remove(self)
    spec = importlib.machinery.PathFinder.find_spec(name, path, target)
    if spec is None or not hasattr(spec.loader, 'exec_module'):
      return spec
    exec_module = spec.loader.exec_module

    def exec_quietly(module):
      printed = io.StringIO()
      try:
        with contextlib.redirect_stdout(printed):
          exec_module(module)
      finally:
        sys.stdout.write(_without_notices(printed.getvalue()))

    spec.loader.exec_module = exec_quietly  # this spec's own loader instance
    return spec


if QUIET_MODULE not in sys.modules:
  sys.meta_path.insert(0, _QuietImportFinder())

"""mbrl_jax: model-based reinforcement learning in JAX.

The folders are the floors; a module imports only its own floor and those below:
core -> envs, data -> models, planners, policies -> estimators -> agents, tabular ->
harness (docs/guide.md has the picture).
"""

import contextlib
import io
import sys

__version__ = '0.1.0'

# Brax imports MuJoCo's MJX, whose optional GPU backend (warp) prints two
# "Failed to import ..." lines to stdout when it is not installed (a CPU install).
# The package's first import of brax is made here with stdout captured, and all it
# printed except those two notices is passed on.
DROPPED_NOTICES = ('Failed to import warp:', 'Failed to import mujoco_warp:')


def _without_notices(text: str) -> str:
  return ''.join(line for line in text.splitlines(keepends=True)
                 if not line.startswith(DROPPED_NOTICES))


_printed = io.StringIO()
try:
  with contextlib.redirect_stdout(_printed):
    import brax  # noqa: E402,F401
finally:
  sys.stdout.write(_without_notices(_printed.getvalue()))
  del _printed

"""Runs experiments/train.py once per argument list, each in a process of its own
forked from this one after the slow imports:

  python tests/launch_many.py CASES.json RESULTS.json

CASES.json holds a list of argument lists; RESULTS.json gets, for each,
{"returncode", "stdout", "stderr"}. This process imports JAX, brax and the package
(about 5 s) but computes nothing, so no JAX backend or thread exists when it forks;
each child then runs the script as `python experiments/train.py ARGS` would (as
__main__, with that sys.argv, its exit status and output its own). A test of many
bad inputs thus starts Python and imports the package once instead of once each.
"""

import json
import os
import runpy
import sys
import tempfile
import traceback

import jax  # noqa: F401 -- the imports the children share
from jax._src import xla_bridge

from mbrl_jax import agents, envs  # noqa: F401
from mbrl_jax.harness import runner  # noqa: F401

TRAIN = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                     'experiments', 'train.py')


def child(args, out_fd: int, err_fd: int):
  """In the forked process: the script as __main__; never returns."""
  os.dup2(out_fd, 1)
  os.dup2(err_fd, 2)
  sys.argv = [TRAIN] + list(args)
  code = 0
  try:
    runpy.run_path(TRAIN, run_name='__main__')
  except SystemExit as exit:  # what Python does with it at the top level
    if isinstance(exit.code, int):
      code = exit.code
    elif exit.code is not None:
      print(exit.code, file=sys.stderr)
      code = 1
  except BaseException:  # noqa: BLE001 -- an uncaught error, as Python prints it
    traceback.print_exc()
    code = 1
  sys.stdout.flush()
  sys.stderr.flush()
  os._exit(code)


def run_one(args) -> dict:
  with tempfile.TemporaryFile('w+') as out, tempfile.TemporaryFile('w+') as err:
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
      child(args, out.fileno(), err.fileno())
    _, status = os.waitpid(pid, 0)
    out.seek(0)
    err.seek(0)
    return {'returncode': os.waitstatus_to_exitcode(status), 'stdout': out.read(),
            'stderr': err.read()}


def main(cases_path: str, results_path: str):
  if xla_bridge._backends:  # a fork after this could deadlock in the child
    raise RuntimeError('a JAX backend was started before forking')
  with open(cases_path) as f:
    cases = json.load(f)
  results = [run_one(args) for args in cases]
  with open(results_path, 'w') as f:
    json.dump(results, f)


if __name__ == '__main__':
  main(*sys.argv[1:])

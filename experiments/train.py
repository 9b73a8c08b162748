"""Launch any agent in mbrl_jax/agents on any env.

  python experiments/train.py --config=experiments/configs/mpc.py --env=pendulum \
      --workdir=outputs/mpc_pendulum --config.horizon=20 --num_seeds=2

The agent is the config file's name (configs/<agent>.py) unless --agent says
otherwise. Metrics, checkpoints and plots go to --workdir (default outputs/run;
outputs/ is git-ignored). Re-running with the same workdir resumes from its latest
checkpoint; --restore=<workdir> resumes from another run's.
"""

import json
import os
import re
import runpy
import sys
from typing import NoReturn

from absl import app, flags, logging
from ml_collections import config_flags

HERE = os.path.dirname(os.path.abspath(__file__))
MAX_SEED = 2**32 - 1  # PRNGKey keeps 32 bits of the seed: larger ones repeat smaller ones


def _configs_available() -> str:
  """The config files, each with its agent's presets (file.py[:preset|size|preset,size])."""
  from mbrl_jax import agents  # only on this error path: the package is slow to import
  configs = os.path.join(HERE, 'configs')
  names = sorted(f.removesuffix('.py') for f in os.listdir(configs) if f.endswith('.py'))
  return f'agent configs in {configs}: ' + ', '.join(
      f'{name}.py[:{"|".join(agents.presets(name) + agents.sizes(name))}]' if name in agents.AGENTS else f'{name}.py'
      for name in names)


def _one_line(text) -> str:
  """A message as one line; of an embedded traceback (ml_collections adds them), its
  last line, the error itself."""
  lines = [line for line in str(text).splitlines() if line.strip()]
  if any(line.startswith('Traceback (most recent call last)') for line in lines):
    lines = [re.sub(r'^[\w.]+: ', '', lines[-1])]
  return ' '.join(' '.join(lines).split())


def _fail(message) -> NoReturn:
  sys.exit(f'error: {_one_line(message)}')


def _describe(err: BaseException) -> str:
  """A ValueError's message speaks for itself; other errors keep their type."""
  return str(err) if isinstance(err, ValueError) else f'{type(err).__name__}: {err}'


def _bad_config(err: Exception):
  """One line for a bad --config.* override."""
  if isinstance(err, flags.Error):  # e.g. an unreadable --flagfile, read with the overrides
    _fail(err)
  while err.args and isinstance(err.args[0], Exception):  # unwrap AttributeError(KeyError)
    err = err.args[0]
  unknown = 'unknown key ' if isinstance(err, KeyError) else ''
  _fail(f'bad --config override: {unknown}{err.args[0] if err.args else err}')


def _config_argument(argv):
  """The value of the last --config=<file[:version]> (or --config <file[:version]>)."""
  value = None
  for i, arg in enumerate(argv):
    match = re.match(r'^--?config(=|$)', arg)
    if match:
      value = arg[match.end():] if match.group(1) else (argv[i + 1] if i + 1 < len(argv) else '')
  return value


def check_config_file(spec: str) -> None:
  """Runs <file>[:version] as config_flags will, so that a file that is missing, does
  not run, or rejects the version fails in one line naming the file."""
  path, *version = spec.split(':', 1)
  if not os.path.isfile(path):
    _fail(f'cannot load --config={spec}: {path!r} is not a file; {_configs_available()}.')
  try:
    get_config = runpy.run_path(path).get('get_config')
    if not callable(get_config):
      _fail(f'--config={spec}: {path} defines no get_config(); {_configs_available()}.')
    config = get_config(*version)
  except Exception as err:  # noqa: BLE001 -- a config file may raise anything
    _fail(f'cannot load --config={spec}: {_describe(err)}')
  if not hasattr(config, 'to_dict'):
    _fail(f'--config={spec}: get_config() returned {type(config).__name__}, '
          'not an ml_collections ConfigDict.')


try:  # config_flags reads the --config.* overrides already here
  config_flags.DEFINE_config_file('config', os.path.join(HERE, 'configs', 'mpc.py'),
                                  'Agent config file (experiments/configs/<agent>.py).',
                                  lock_config=True)
except Exception as error:  # noqa: BLE001 -- ml_collections raises several kinds
  _bad_config(error)
flags.DEFINE_string('agent', None, 'Agent name, one of mbrl_jax.agents.AGENTS (tabular dyna_q '
                    'has its own script); default: the config file name.')
flags.DEFINE_string('env', 'pendulum', 'Env name (mbrl_jax.envs.names()).')
flags.DEFINE_string('env_kwargs', '{}', 'JSON dict of env options, e.g. {"backend": "spring"}.')
flags.DEFINE_string('workdir', 'outputs/run', 'Where metrics, checkpoints and plots go.')
flags.DEFINE_integer('seed', 0, f'Base random seed, in [0, {MAX_SEED}].', lower_bound=0,
                     upper_bound=MAX_SEED)
flags.DEFINE_integer('num_seeds', 1, 'Seeds trained together (one vmap).')
flags.DEFINE_integer('total_steps', 2000, 'Real env steps per seed.')
flags.DEFINE_string('restore', None, 'Resume from this workdir\'s latest checkpoint.')
flags.DEFINE_integer('eval_every', 1, 'Evaluate every this many chunks.')
flags.DEFINE_integer('eval_episodes', 5, 'Episodes per evaluation.')
flags.DEFINE_integer('checkpoint_every', 1, 'Checkpoint every this many chunks.')
flags.DEFINE_integer('keep_checkpoints', 3, 'Checkpoints kept.')
flags.DEFINE_bool('plot', True, 'Draw the learning curve to <workdir>/learning_curve.png.')
FLAGS = flags.FLAGS


def check_workdir(workdir: str) -> None:
  if not workdir:
    _fail('--workdir must name a directory, got an empty string.')
  if os.path.exists(workdir) and not os.path.isdir(workdir):
    _fail(f'--workdir {workdir!r} exists and is not a directory.')


def check_restore(restore: str) -> None:
  """--restore must name an earlier run's workdir that holds a checkpoint."""
  from mbrl_jax.harness import checkpoint
  if not restore or not os.path.isdir(restore):
    _fail(f'--restore {restore!r} is not a directory; it must be the workdir of an earlier run.')
  if not os.path.isfile(os.path.join(restore, checkpoint.RUN_CONFIG)):
    _fail(f'--restore {restore!r} is not a mbrl_jax workdir (it has no {checkpoint.RUN_CONFIG}).')
  saved = os.path.join(restore, checkpoint.CHECKPOINTS)
  if not os.path.isdir(saved) or not os.listdir(saved):
    _fail(f'restore path {restore!r} holds no checkpoints (expected them in {saved}).')


def _available_memory():
  """(bytes, where) the training state has to fit in."""
  import jax
  devices = jax.devices()
  stats = devices[0].memory_stats() or {}
  if 'bytes_limit' in stats:
    return stats['bytes_limit'] * len(devices), f'{len(devices)} {devices[0].platform} device(s)'
  return os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES'), 'this machine'


def check_agent_traces(agent, num_seeds: int) -> None:
  """Traces one seed's init and training chunk without running them: errors raised
  while tracing, and a training state larger than memory, fail here in one line,
  before the workdir exists."""
  import jax
  try:
    state = jax.eval_shape(agent.init, jax.random.PRNGKey(0))
    need = num_seeds * sum(x.size * x.dtype.itemsize for x in jax.tree.leaves(state))
    have, where = _available_memory()
    if need > have:
      _fail(f'the training state of {num_seeds} seed(s) needs {need / 2**30:.1f} GiB, more '
            f'than the {have / 2**30:.1f} GiB of {where}; use fewer --num_seeds or smaller '
            'sizes (buffer_capacity, population, ...) in the config.')
    jax.eval_shape(agent.train_chunk, state)
  except (ValueError, OverflowError) as err:
    _fail(_describe(err))


def _out_of_memory(err: Exception) -> bool:
  return 'RESOURCE_EXHAUSTED' in str(err) or 'Out of memory' in str(err)


def main(argv):
  if len(argv) > 1:
    _fail(f'unexpected arguments {argv[1:]}; all options are --flags.')
  check_workdir(FLAGS.workdir)
  logging.set_verbosity(logging.WARNING)  # Orbax logs every file it writes at INFO
  from mbrl_jax.harness import compilation_cache
  compilation_cache.enable()
  from mbrl_jax import agents
  from mbrl_jax.harness import runner
  if FLAGS.restore is not None:
    check_restore(FLAGS.restore)

  config_path = flags.FLAGS['config'].config_filename
  try:
    config = FLAGS.config.to_dict()  # a failed load raises here, on first use
  except Exception as err:  # noqa: BLE001
    _bad_config(err)
  agent_name = FLAGS.agent if FLAGS.agent is not None else (
      os.path.splitext(os.path.basename(config_path))[0])
  try:
    try:
      env_kwargs = json.loads(FLAGS.env_kwargs)
    except json.JSONDecodeError as err:
      raise ValueError(f'--env_kwargs must be a JSON object, got {FLAGS.env_kwargs!r} ({err}).')
    if not isinstance(env_kwargs, dict):
      raise ValueError(f'--env_kwargs must be a JSON object, got {FLAGS.env_kwargs!r}.')
    run_config = {'agent': agent_name, 'env': FLAGS.env, 'env_kwargs': env_kwargs,
                  'config': config}
    agent, env = agents.build(run_config)
  except ValueError as err:
    _fail(err)
  check_agent_traces(agent, FLAGS.num_seeds)
  try:
    result = runner.run(
        agent, env, FLAGS.workdir, FLAGS.total_steps, run_config=run_config,
        num_seeds=FLAGS.num_seeds, seed=FLAGS.seed, eval_every=FLAGS.eval_every,
        eval_episodes=FLAGS.eval_episodes, checkpoint_every=FLAGS.checkpoint_every,
        keep_checkpoints=FLAGS.keep_checkpoints, restore_from=FLAGS.restore)
  except ValueError as err:
    _fail(err)
  except Exception as err:  # noqa: BLE001 -- JAX's runtime errors have no public type
    if not _out_of_memory(err):
      raise
    _fail(f'out of memory while running ({str(err).strip().splitlines()[0]}); use fewer '
          '--num_seeds or smaller sizes in the config.')
  if FLAGS.plot:
    from mbrl_jax.harness import plotting
    plotting.plot_workdirs([FLAGS.workdir], os.path.join(FLAGS.workdir, 'learning_curve.png'),
                           title=f'{agent_name} on {FLAGS.env}')
  if result.chunks_run == 0:
    print(f'Nothing to do: {FLAGS.workdir} already holds all {FLAGS.total_steps} steps.')
  from mbrl_jax.harness import metrics
  final = [row['eval_return'] for row in metrics.read(FLAGS.workdir)
           if row['env_steps'] == FLAGS.total_steps and row.get('eval_return') is not None]
  if final:
    print(f'{agent_name} on {FLAGS.env}: {FLAGS.total_steps} env steps per seed, final eval '
          f'return {sum(final) / len(final):.2f} (seeds: {", ".join(f"{r:.2f}" for r in final)}).')
  print(f'Outputs in {os.path.abspath(FLAGS.workdir)}: metrics.jsonl, tensorboard/, '
        f'checkpoints/, run_config.json' + (', learning_curve.png' if FLAGS.plot else ''))


def parse_flags(argv):
  """absl's parsing, with a bad --config file or override reported in one line."""
  config_file = _config_argument(argv[1:])
  if config_file is not None:
    check_config_file(config_file)
  try:
    return FLAGS(argv)
  except flags.Error as err:
    _fail(err)
  except Exception as err:  # noqa: BLE001
    _bad_config(err)


if __name__ == '__main__':
  app.run(main, flags_parser=parse_flags)

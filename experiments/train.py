"""Launch any agent in mbrl_jax/agents on any env.

  python experiments/train.py --config=experiments/configs/mpc.py --env=pendulum \
      --workdir=outputs/mpc_pendulum --config.horizon=20 --num_seeds=2

The agent is the config file's name (configs/<agent>.py) unless --agent says
otherwise. Re-running with the same workdir resumes from its latest checkpoint;
--restore=<workdir> resumes from another run's.
"""

import json
import os
import sys

from absl import app, flags, logging
from ml_collections import config_flags

HERE = os.path.dirname(os.path.abspath(__file__))


def _configs_available() -> str:
  configs = os.path.join(HERE, 'configs')
  return f'agent configs in {configs}: ' + ', '.join(
      sorted(f for f in os.listdir(configs) if f.endswith('.py')))


def _bad_config(err: Exception):
  """One line for a config file that does not load or a bad --config.* override."""
  if isinstance(err, OSError):
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    sys.exit(f'error: cannot load the --config file ({lines[-1]}); {_configs_available()}.')
  while err.args and isinstance(err.args[0], Exception):  # unwrap AttributeError(KeyError)
    err = err.args[0]
  message = ' '.join(str(err.args[0] if err.args else err).split())
  sys.exit(f'error: bad --config override: {message}')


try:  # config_flags reads the --config.* overrides already here
  config_flags.DEFINE_config_file('config', os.path.join(HERE, 'configs', 'mpc.py'),
                                  'Agent config file (experiments/configs/<agent>.py).',
                                  lock_config=True)
except Exception as error:  # noqa: BLE001 -- ml_collections raises several kinds
  _bad_config(error)
flags.DEFINE_string('agent', None, 'Agent name; default: the config file name.')
flags.DEFINE_string('env', 'pendulum', 'Env name (mbrl_jax.envs.names()).')
flags.DEFINE_string('env_kwargs', '{}', 'JSON dict of env options, e.g. {"backend": "spring"}.')
flags.DEFINE_string('workdir', 'outputs/run', 'Where metrics, checkpoints and plots go.')
flags.DEFINE_integer('seed', 0, 'Base random seed.')
flags.DEFINE_integer('num_seeds', 1, 'Seeds trained together (one vmap).')
flags.DEFINE_integer('total_steps', 2000, 'Real env steps per seed.')
flags.DEFINE_string('restore', None, 'Resume from this workdir\'s latest checkpoint.')
flags.DEFINE_integer('eval_every', 1, 'Evaluate every this many chunks.')
flags.DEFINE_integer('eval_episodes', 5, 'Episodes per evaluation.')
flags.DEFINE_integer('checkpoint_every', 1, 'Checkpoint every this many chunks.')
flags.DEFINE_integer('keep_checkpoints', 3, 'Checkpoints kept.')
flags.DEFINE_bool('plot', True, 'Draw the learning curve to <workdir>/learning_curve.png.')
FLAGS = flags.FLAGS


def main(argv):
  if len(argv) > 1:
    sys.exit(f'error: unexpected arguments {argv[1:]}; all options are --flags.')
  logging.set_verbosity(logging.WARNING)  # Orbax logs every file it writes at INFO
  from mbrl_jax import compilation_cache
  compilation_cache.enable()
  from mbrl_jax import agents, runner

  config_path = flags.FLAGS['config'].config_filename
  try:
    config = FLAGS.config.to_dict()  # a failed load raises here, on first use
  except Exception as err:  # noqa: BLE001
    _bad_config(err)
  try:
    agent_name = FLAGS.agent or os.path.splitext(os.path.basename(config_path))[0]
    try:
      env_kwargs = json.loads(FLAGS.env_kwargs)
    except json.JSONDecodeError as err:
      raise ValueError(f'--env_kwargs must be a JSON object, got {FLAGS.env_kwargs!r} ({err}).')
    if not isinstance(env_kwargs, dict):
      raise ValueError(f'--env_kwargs must be a JSON object, got {FLAGS.env_kwargs!r}.')
    run_config = {'agent': agent_name, 'env': FLAGS.env, 'env_kwargs': env_kwargs,
                  'config': config}
    agent, env = agents.build(run_config)
    result = runner.run(
        agent, env, FLAGS.workdir, FLAGS.total_steps, run_config=run_config,
        num_seeds=FLAGS.num_seeds, seed=FLAGS.seed, eval_every=FLAGS.eval_every,
        eval_episodes=FLAGS.eval_episodes, checkpoint_every=FLAGS.checkpoint_every,
        keep_checkpoints=FLAGS.keep_checkpoints, restore_from=FLAGS.restore)
  except ValueError as err:
    sys.exit(f'error: {err}')
  if FLAGS.plot:
    from mbrl_jax import plotting
    plotting.plot_workdirs([FLAGS.workdir], os.path.join(FLAGS.workdir, 'learning_curve.png'),
                           title=f'{agent_name} on {FLAGS.env}')
  if result.chunks_run == 0:
    print(f'Nothing to do: {FLAGS.workdir} already holds all {FLAGS.total_steps} steps.')
  from mbrl_jax import metrics
  final = [row['eval_return'] for row in metrics.read(FLAGS.workdir)
           if row['env_steps'] == FLAGS.total_steps and row.get('eval_return') is not None]
  if final:
    print(f'{agent_name} on {FLAGS.env}: {FLAGS.total_steps} env steps per seed, final eval '
          f'return {sum(final) / len(final):.2f} (seeds: {", ".join(f"{r:.2f}" for r in final)}).')
  print(f'Outputs in {os.path.abspath(FLAGS.workdir)}: metrics.jsonl, tensorboard/, '
        f'checkpoints/, run_config.json' + (', learning_curve.png' if FLAGS.plot else ''))


def parse_flags(argv):
  """absl's parsing, with a bad --config override reported in one line."""
  try:
    return FLAGS(argv)
  except flags.Error as err:
    sys.exit(f'error: {err}')
  except Exception as err:  # noqa: BLE001
    _bad_config(err)


if __name__ == '__main__':
  app.run(main, flags_parser=parse_flags)

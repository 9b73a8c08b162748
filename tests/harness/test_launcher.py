"""experiments/train.py: bad input gives one clear line and a non-zero exit; a
real run writes metrics, checkpoints and a plot. The bad inputs run through the
script's entry point one after another in one subprocess (tests/launch_many.py),
which starts Python and JAX once for all of them."""

import json

import pytest

from tests.helpers import SMALL_FLAGS, launch, launch_many


RAISING_CONFIG = 'def get_config():\n  raise RuntimeError("no config today")\n'


BAD_INPUTS = [
    (['--agent=nope'], "Unknown agent 'nope'; valid agents: gps, mbpo, "),
    (['--env=nope'], "Unknown env 'nope'; valid names: acrobot_swingup"),
    (['--config.horizn=3'], "bad --config override: unknown key 'horizn'"),
    (['--config.horizon=abc'], 'flag --config.horizon=abc'),
    (['--config.horizon=0'], 'config.horizon must be an integer >= 1, got 0'),
    (['--config.planner=bfgs'], "config.planner must be one of 'random_shooting', 'cem', 'mppi', 'ilqr'; got 'bfgs'"),
    (['--config=experiments/configs/nope.py'], "cannot load --config=experiments/configs/nope.py: 'experiments/configs/nope.py' is not a file; agent configs in"),
    (['--total_steps=30'], 'total_steps (30) must be a positive multiple'),
    (['--restore=/nonexistent/run'], "--restore '/nonexistent/run' is not a directory"),
    (['--env_kwargs={bad'], '--env_kwargs must be a JSON object'),
    (['--env_kwargs={"episode_lenght": 5}'], "Unknown argument(s) episode_lenght for env"),
    # Each of these printed a traceback before.
    (['--env_kwargs={"max_torque": "abc"}'],
     "env option max_torque='abc' for 'pendulum' must be a finite number (default 2.0), got str"),
    (['--agent=sac', '--config=experiments/configs/mpc.py'],
     "the config does not fit agent 'sac' (another agent's config?): unknown keys cem, dynamics"),
    (['--config=experiments/configs/mpc.py:9.9'],
     "cannot load --config=experiments/configs/mpc.py:9.9: Unknown mpc preset '9.9'; valid: env_dynamics, open_loop_fit_once,"),
    (['--workdir=<file>'], 'exists and is not a directory'),
    (['--config=<raising config>'], 'RuntimeError: no config today'),
    (['--config.buffer_capacity=1000000000000'], 'config.buffer_capacity must be an integer of at most 2147483647'),
    (['--num_seeds=1000000000'], 'the training state of 1000000000 seed(s) needs'),
    (['--config.planner=cem', '--config.cem.elite_fraction=0'], 'elite_fraction'),  # found in a trace
    (['--restore=<tmp>'], 'is not a mbrl_jax workdir (it has no run_config.json)'),
    # Quietly wrong before: these ran.
    (['--config.cem.alpha=nan'], 'config.cem.alpha must be a finite number, got nan'),
    (['--seed=-1'], 'flag --seed=-1: -1 is not an integer in the range [0, 4294967295]'),
    (['--env=brax/inverted_pendulum', '--env_kwargs={"backend": "nope"}'], 'backend should be in'),
]


@pytest.fixture(scope='module')
def bad_input_runs(tmp_path_factory):
  """Each bad input's (completed run, workdir), by its index in BAD_INPUTS; every input
  has a folder of its own holding a file, a raising config and the workdir."""
  arg_lists, workdirs = [], []
  for i, (args, _) in enumerate(BAD_INPUTS):
    tmp_path = tmp_path_factory.mktemp(f'bad_input_{i}')
    (tmp_path / 'a_file').write_text('not a directory')
    (tmp_path / 'raises.py').write_text(RAISING_CONFIG)
    args = [a.replace('<file>', str(tmp_path / 'a_file')).replace('<tmp>', str(tmp_path))
            .replace('<raising config>', str(tmp_path / 'raises.py')) for a in args]
    workdir = tmp_path / 'run'
    config_file = [a for a in args if a.startswith('--config=')]  # must precede overrides
    others = [a for a in args if not a.startswith('--config=')]
    arg_lists.append(config_file + [f'--workdir={workdir}'] + SMALL_FLAGS + others)
    workdirs.append(workdir)
  return list(zip(launch_many(arg_lists, str(tmp_path_factory.mktemp('cases'))), workdirs))


@pytest.mark.parametrize('index,expected', [(i, e) for i, (_, e) in enumerate(BAD_INPUTS)],
                         ids=[' '.join(args) for args, _ in BAD_INPUTS])
def test_bad_input_one_line_nonzero_exit(bad_input_runs, index, expected):
  done, workdir = bad_input_runs[index]
  assert done.returncode != 0
  lines = done.stderr.splitlines()
  assert len(lines) == 1 and lines[0].startswith('error: ') and expected in lines[0], done.stderr
  assert not workdir.exists()


def test_launch_writes_metrics_checkpoints_and_plot(tmp_path):
  workdir = tmp_path / 'run'
  done = launch([f'--workdir={workdir}', '--total_steps=60', '--num_seeds=2']
                + SMALL_FLAGS[:-1] + ['--plot=true'])
  assert done.returncode == 0, done.stderr[-2000:]
  assert done.stderr == ''  # only the project's own lines, all on stdout
  assert 'Failed to import' not in done.stdout and 'warp' not in done.stdout, done.stdout
  assert 'final eval return' in done.stdout and str(workdir) in done.stdout
  rows = [json.loads(line) for line in (workdir / 'metrics.jsonl').read_text().splitlines()]
  assert [(r['chunk'], r['seed_index']) for r in rows] == [(c, s) for c in (1, 2, 3)
                                                          for s in (0, 1)]
  assert all(isinstance(r['eval_return'], float) for r in rows)
  assert sorted(p.name for p in (workdir / 'checkpoints').iterdir()) == ['1', '2', '3']
  assert (workdir / 'learning_curve.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
  assert list((workdir / 'tensorboard').glob('events.out.tfevents.*'))
  run_config = json.loads((workdir / 'run_config.json').read_text())
  assert run_config['agent'] == 'mpc' and run_config['config']['horizon'] == 5

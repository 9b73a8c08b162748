"""experiments/train.py: bad input gives one clear line and a non-zero exit; a
real run writes metrics, checkpoints and a plot."""

import json

import pytest

from tests.helpers import SMALL_FLAGS, launch


@pytest.mark.parametrize('args,expected', [
    (['--agent=nope'], "Unknown agent 'nope'; valid agents: mbpo, "),
    (['--env=nope'], "Unknown env 'nope'; valid names: acrobot_swingup"),
    (['--config.horizn=3'], "bad --config override: 'horizn'"),
    (['--config.horizon=abc'], 'flag --config.horizon=abc'),
    (['--config.horizon=0'], 'config.horizon must be an integer >= 1, got 0'),
    (['--config.planner=bfgs'], "config.planner must be one of 'random_shooting', 'cem', 'mppi', 'ilqr'; got 'bfgs'"),
    (['--config=experiments/configs/nope.py'], "cannot load the --config file ([Errno 2] No such file or directory: 'experiments/configs/nope.py')"),
    (['--total_steps=30'], 'total_steps (30) must be a positive multiple'),
    (['--restore=/nonexistent/run'], "restore path '/nonexistent/run' holds no checkpoints"),
    (['--env_kwargs={bad'], '--env_kwargs must be a JSON object'),
    (['--env_kwargs={"episode_lenght": 5}'], "Unknown argument(s) episode_lenght for env"),
])
def test_bad_input_one_line_nonzero_exit(tmp_path, args, expected):
  config_file = [a for a in args if a.startswith('--config=')]  # must precede overrides
  others = [a for a in args if not a.startswith('--config=')]
  done = launch(config_file + [f'--workdir={tmp_path / "run"}'] + SMALL_FLAGS + others)
  assert done.returncode != 0
  last = done.stderr.strip().splitlines()[-1]
  assert last.startswith('error: ') and expected in last, done.stderr[-1500:]
  assert not (tmp_path / 'run' / 'checkpoints').exists()


def test_launch_writes_metrics_checkpoints_and_plot(tmp_path):
  workdir = tmp_path / 'run'
  done = launch([f'--workdir={workdir}', '--total_steps=60', '--num_seeds=2']
                + SMALL_FLAGS[:-1] + ['--plot=true'])
  assert done.returncode == 0, done.stderr[-2000:]
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

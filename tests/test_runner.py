"""The host loop: compiled once, seeds as a vmap, exact resume, damaged and
mismatched checkpoints, two devices equal one."""

import json
import os
import random
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import pytest

from mbrl_jax import agents, checkpoint, runner
from tests.helpers import (REPO, SMALL_FLAGS, TRAIN, assert_trees_equal, metric_rows,
                           small_run_config)


def run_small(workdir, total_steps, log=None, **kwargs):
  run_config = small_run_config()
  agent, env = agents.build(run_config)
  return runner.run(agent, env, str(workdir), total_steps, run_config=run_config,
                    eval_episodes=2, tensorboard=False, log=log or (lambda s: None),
                    **kwargs)


def test_compiles_once_and_vmaps_seeds(tmp_path):
  result = run_small(tmp_path / 'run', total_steps=100, num_seeds=3, eval_every=1)
  assert result.chunks_run == 5
  assert result.traces == {'train_chunk': 1, 'evaluate': 1}
  assert int(result.state.env_steps[0]) == 100
  rows = metric_rows(tmp_path / 'run')
  assert len(rows) == 5 * 3 and {r['seed_index'] for r in rows} == {0, 1, 2}
  # Seeds are different runs: their evaluation returns differ.
  final = [r['eval_return'] for r in rows if r['chunk'] == 5]
  assert len(set(final)) == 3


def test_resume_in_process_equals_uninterrupted(tmp_path):
  whole = run_small(tmp_path / 'whole', total_steps=120, num_seeds=2)
  first = run_small(tmp_path / 'split', total_steps=60, num_seeds=2)
  assert first.chunks_run == 3
  second = run_small(tmp_path / 'split', total_steps=120, num_seeds=2)
  assert second.resumed_from == 3 and second.chunks_run == 3
  assert_trees_equal(whole.state, second.state)
  assert metric_rows(tmp_path / 'whole') == metric_rows(tmp_path / 'split')


def test_run_killed_at_a_random_moment_resumes_bitwise(tmp_path):
  """SIGKILL a launcher subprocess mid-run, resume it, compare with a run that
  was never interrupted: same final state (params, buffer, keys, counters) and
  the same metrics."""
  args = SMALL_FLAGS + ['--total_steps=240', '--num_seeds=2', '--config.population=2000',
                        '--keep_checkpoints=2']
  env = dict(os.environ, JAX_PLATFORMS='cpu')
  clean = subprocess.run([sys.executable, TRAIN, f'--workdir={tmp_path / "clean"}'] + args,
                         cwd=REPO, env=env, capture_output=True, text=True)
  assert clean.returncode == 0, clean.stderr[-2000:]

  killed_dir = tmp_path / 'killed'
  kill_after_rows = random.Random().randint(1, 20)  # rows = chunk x seed lines
  proc = subprocess.Popen([sys.executable, TRAIN, f'--workdir={killed_dir}'] + args,
                          cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)
  metrics_file = killed_dir / 'metrics.jsonl'
  deadline = time.time() + 300
  while time.time() < deadline and proc.poll() is None:
    if metrics_file.exists() and len(metrics_file.read_text().splitlines()) >= kill_after_rows:
      break
    time.sleep(0.005)
  proc.send_signal(signal.SIGKILL)
  proc.wait()
  assert proc.returncode == -signal.SIGKILL  # it was still running
  rows_at_kill = len(metric_rows(killed_dir))
  assert rows_at_kill < 24  # of 12 chunks x 2 seeds
  resumed = subprocess.run([sys.executable, TRAIN, f'--workdir={killed_dir}'] + args,
                           cwd=REPO, env=env, capture_output=True, text=True)
  assert resumed.returncode == 0, resumed.stderr[-2000:]
  assert metric_rows(killed_dir) == metric_rows(tmp_path / 'clean')
  assert_trees_equal(final_state(killed_dir), final_state(tmp_path / 'clean'))


def final_state(workdir):
  run_config = checkpoint.read_run_config(str(workdir))
  agent, _ = agents.build(run_config)
  keys = jax.random.split(jax.random.PRNGKey(0), run_config['num_seeds'])
  abstract = jax.eval_shape(jax.vmap(agent.init), keys)
  step, state, meta = checkpoint.Checkpointer(str(workdir)).restore_latest(abstract)
  assert step * run_config['steps_per_chunk'] == run_config['total_steps']
  return state


def test_damaged_latest_checkpoint_falls_back_to_previous(tmp_path):
  workdir = tmp_path / 'run'
  run_small(workdir, total_steps=60)
  state_files = [p for p in (workdir / 'checkpoints' / '3' / 'state').rglob('*') if p.is_file()]
  for path in state_files:  # scramble every data file of the latest checkpoint
    path.write_bytes(b'\x00garbage' * 8)
  messages = []
  resumed = run_small(workdir, total_steps=80, log=messages.append)
  damaged = [m for m in messages if 'is damaged' in m]
  assert len(damaged) == 1 and '\n' not in damaged[0] and 'Checkpoint 3' in damaged[0]
  assert resumed.resumed_from == 2
  assert (workdir / 'damaged_checkpoints' / '3').is_dir()  # set aside, not deleted
  whole = run_small(tmp_path / 'whole', total_steps=80)
  assert_trees_equal(whole.state, resumed.state)
  assert metric_rows(workdir) == metric_rows(tmp_path / 'whole')


def test_different_config_is_refused_and_nothing_is_overwritten(tmp_path):
  workdir = tmp_path / 'run'
  run_small(workdir, total_steps=40)
  before = {p: p.read_bytes() for p in workdir.rglob('*') if p.is_file()}
  run_config = small_run_config(horizon=6)
  agent, env = agents.build(run_config)
  with pytest.raises(ValueError, match=r'different configuration \(differs in: config.horizon\)'):
    runner.run(agent, env, str(workdir), 60, run_config=run_config, tensorboard=False)
  with pytest.raises(ValueError, match='num_seeds'):
    run_small(workdir, total_steps=60, num_seeds=2)
  after = {p: p.read_bytes() for p in workdir.rglob('*') if p.is_file()}
  assert after == before


def test_bad_run_arguments_fail_in_one_line(tmp_path):
  with pytest.raises(ValueError, match=r'total_steps \(30\) must be a positive multiple.*\(20 env'):
    run_small(tmp_path / 'a', total_steps=30)
  with pytest.raises(ValueError, match='num_seeds must be >= 1'):
    run_small(tmp_path / 'b', total_steps=20, num_seeds=0)
  with pytest.raises(ValueError, match='restore path .* holds no checkpoints'):
    run_small(tmp_path / 'c', total_steps=20, restore_from=str(tmp_path / 'nowhere'))
  assert not (tmp_path / 'a').exists()


TWO_DEVICE_SCRIPT = """
import json, sys, jax, numpy as np
sys.path.insert(0, {repo!r})
from mbrl_jax import agents, runner
from tests.helpers import small_run_config
run_config = small_run_config()
agent, env = agents.build(run_config)
result = runner.run(agent, env, {workdir!r}, 60, run_config=run_config, num_seeds=2,
                    eval_episodes=2, tensorboard=False, log=lambda s: None)
leaves = [np.asarray(x) for x in jax.tree.leaves(result.state)]
devices = result.state.env_steps.sharding.device_set
print(json.dumps({{'devices': len(jax.devices()), 'used': len(devices),
                  'eval': result.eval_returns.tolist(),
                  'leaves': [x.astype(float).ravel().tolist() for x in leaves]}}))
"""


def test_two_devices_give_the_same_numbers_as_one(tmp_path):
  outputs = []
  for count in (1, 2):
    script = TWO_DEVICE_SCRIPT.format(repo=REPO, workdir=str(tmp_path / f'dev{count}'))
    env = dict(os.environ, JAX_PLATFORMS='cpu',
               XLA_FLAGS=f'--xla_force_host_platform_device_count={count}')
    done = subprocess.run([sys.executable, '-c', script], cwd=REPO, env=env,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    outputs.append(json.loads(done.stdout.strip().splitlines()[-1]))
  one, two = outputs
  assert (one['devices'], one['used']) == (1, 1)
  assert (two['devices'], two['used']) == (2, 2)  # the seed axis is split over both
  # The same numbers up to the last bit of a few floats: XLA vectorizes sin/cos
  # differently for two seeds on one device than for one seed per device.
  np.testing.assert_allclose(one['eval'], two['eval'], rtol=1e-6)
  assert len(one['leaves']) == len(two['leaves'])
  for a, b in zip(one['leaves'], two['leaves']):
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)

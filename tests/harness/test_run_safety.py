"""A workdir is held by one run at a time; checkpoints are verified on restore;
only a checkpoint shown damaged is set aside, and every other failure stops the run
with one line and changes nothing."""

import errno
import glob
import os
import shutil
import signal
import subprocess
import sys

import jax
import numpy as np
import orbax.checkpoint as ocp
import pytest
import tensorstore as ts

from mbrl_jax import agents
from mbrl_jax.harness import checkpoint, runner
from tests.helpers import (REPO, SMALL_FLAGS, assert_trees_equal, launch_in_background,
                           metric_rows, restored_state, small_run_config, snapshot,
                           wait_for_rows)


def run_small(workdir, total_steps, log=None, config=None, **kwargs):
  """2 seeds of the small MPC run; `config` builds the agent (run_config stays)."""
  run_config = small_run_config()
  agent, env = agents.build(config or run_config)
  return runner.run(agent, env, str(workdir), total_steps, run_config=run_config,
                    num_seeds=2, eval_episodes=2, tensorboard=False,
                    log=log or (lambda s: None), **kwargs)


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
  """A run stopped after 3 chunks (checkpoints 1, 2, 3) and an uninterrupted run of
  4 chunks, the reference for every resume."""
  base = tmp_path_factory.mktemp('base') / 'run'
  third = run_small(base, 60)
  whole_dir = tmp_path_factory.mktemp('whole') / 'run'
  whole = run_small(whole_dir, 80)
  return {'base': base, 'third_state': third.state, 'whole': whole,
          'whole_rows': metric_rows(whole_dir)}


def copy_of(runs, tmp_path, name='run'):
  target = tmp_path / name
  shutil.copytree(runs['base'], target)
  return target


def data_files(workdir, step):
  """The data files of a checkpoint's OCDBT store (under state/.../d/)."""
  return glob.glob(os.path.join(str(workdir), 'checkpoints', str(step), 'state', '**', 'd', '*'),
                   recursive=True)


def flip_64_bytes_inside_an_array_chunk(workdir, step):
  """Flips 64 bytes in the middle of the largest array chunk that the checkpoint's
  OCDBT store keeps verbatim in a data file (zstd data, no checksum), as a bad
  disk would; the store stays readable."""
  state_dir = os.path.join(str(workdir), 'checkpoints', str(step), 'state')
  store = ts.KvStore.open({'driver': 'ocdbt', 'base': f'file://{state_dir}/'}).result()
  values = sorted((store.read(key).result().value for key in store.list().result()), key=len)
  files = {path: open(path, 'rb').read() for path in data_files(workdir, step)}
  for value in reversed(values):
    for path, data in files.items():
      at = data.find(value)
      if at >= 0 and len(value) >= 512:
        start = at + len(value) // 2 - 32
        data = bytearray(data)
        data[start:start + 64] = bytes(b ^ 0xFF for b in data[start:start + 64])
        open(path, 'wb').write(bytes(data))
        return
  raise AssertionError('no array chunk is stored verbatim in a data file')


def scramble_state_files(workdir, step):
  for path in glob.glob(os.path.join(str(workdir), 'checkpoints', str(step), 'state', '**'),
                        recursive=True):
    if os.path.isfile(path):
      open(path, 'wb').write(b'\x00garbage' * 8)


def orbax_restore_without_digest(workdir, step):
  agent, _ = agents.build(small_run_config())
  abstract = jax.eval_shape(jax.vmap(agent.init), jax.random.split(jax.random.PRNGKey(0), 2))
  manager = ocp.CheckpointManager(os.path.join(str(workdir), 'checkpoints'),
                                  options=ocp.CheckpointManagerOptions(create=False))
  state = manager.restore(step, args=ocp.args.Composite(
      state=ocp.args.StandardRestore(abstract))).state
  manager.close()
  return state


def one_line(err):
  text = str(err.value)
  assert '\n' not in text, text
  return text


# --- 1. One run per workdir. ---

def test_second_launcher_on_a_held_workdir_is_refused_and_the_first_is_undisturbed(tmp_path):
  """The first launcher is paused (SIGSTOP) while it holds the workdir, so the
  second surely meets it; then it goes on and ends as an undisturbed run."""
  workdir = tmp_path / 'run'
  args = SMALL_FLAGS + ['--total_steps=120', '--num_seeds=2', f'--workdir={workdir}']
  first_log = open(tmp_path / 'first.log', 'w+')
  first = launch_in_background(args, stdout=first_log, stderr=subprocess.STDOUT)
  wait_for_rows(first, workdir, 2)
  first.send_signal(signal.SIGSTOP)
  try:
    assert first.poll() is None, 'the first run ended before the second started'
    before = snapshot(workdir)
    second = launch_in_background(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True)
    _, stderr = second.communicate(timeout=300)
    after = snapshot(workdir)
  finally:
    first.send_signal(signal.SIGCONT)
  first.wait(timeout=300)
  first_log.seek(0)
  assert first.returncode == 0, first_log.read()[-2000:]

  assert second.returncode != 0
  errors = [line for line in stderr.splitlines() if line.startswith('error:')]
  assert len(errors) == 1 and errors[0] == stderr.strip().splitlines()[-1], stderr[-2000:]
  assert 'in use by another run' in errors[0] and f'pid {first.pid} ' in errors[0]
  assert after == before  # the second changed nothing

  reference = run_small(tmp_path / 'reference', 120)
  rows = metric_rows(workdir)
  assert len(rows) == 6 * 2 and rows == metric_rows(tmp_path / 'reference')
  assert_trees_equal(restored_state(workdir), reference.state)
  assert not (workdir / checkpoint.LOCK_FILE).exists()  # released at the end


HOLD_AND_WAIT = """
import sys, time
sys.path.insert(0, {repo!r})
from mbrl_jax.harness import checkpoint
lock = checkpoint.WorkdirLock({workdir!r})
print('held', flush=True)
time.sleep(300)
"""


def test_a_killed_holder_leaves_no_stuck_lock(tmp_path):
  workdir = str(tmp_path / 'run')
  holder = subprocess.Popen(
      [sys.executable, '-c', HOLD_AND_WAIT.format(repo=REPO, workdir=workdir)],
      stdout=subprocess.PIPE, text=True, env=dict(os.environ, JAX_PLATFORMS='cpu'))
  assert holder.stdout.readline().strip() == 'held'
  with pytest.raises(ValueError, match=rf'in use by another run \(pid {holder.pid} on host '):
    checkpoint.WorkdirLock(workdir)
  holder.send_signal(signal.SIGKILL)
  holder.wait()
  stale = open(os.path.join(workdir, checkpoint.LOCK_FILE)).read()
  assert f'pid {holder.pid} ' in stale  # the file stays, the lock does not
  with checkpoint.WorkdirLock(workdir):
    assert f'pid {os.getpid()} ' in open(os.path.join(workdir, checkpoint.LOCK_FILE)).read()
  assert not os.path.exists(os.path.join(workdir, checkpoint.LOCK_FILE))


def test_workdir_that_is_a_file_fails_in_one_line(tmp_path):
  path = tmp_path / 'notes.txt'
  path.write_text('not a workdir')
  with pytest.raises(ValueError, match='is a file, not a directory') as err:
    run_small(path, 20)
  one_line(err)
  assert path.read_text() == 'not a workdir'


# --- 2. Silent corruption. ---

def test_silently_flipped_bytes_are_caught_and_the_previous_checkpoint_used(runs, tmp_path):
  workdir = copy_of(runs, tmp_path)
  flip_64_bytes_inside_an_array_chunk(workdir, 3)
  # What Orbax alone does: it restores without a word, and the data has changed.
  silent = orbax_restore_without_digest(workdir, 3)
  equal = [np.array_equal(np.asarray(a), np.asarray(b)) for a, b in
           zip(jax.tree.leaves(silent), jax.tree.leaves(runs['third_state']))]
  assert not all(equal)

  messages = []
  resumed = run_small(workdir, 80, log=messages.append)
  damaged = [m for m in messages if 'is damaged' in m]
  assert len(damaged) == 1 and 'Checkpoint 3' in damaged[0] and 'digest mismatch' in damaged[0]
  assert 'using checkpoint 2' in damaged[0]
  assert resumed.resumed_from == 2
  assert (workdir / 'damaged_checkpoints' / '3').is_dir()
  assert_trees_equal(resumed.state, runs['whole'].state)
  assert metric_rows(workdir) == runs['whole_rows']


# --- 3. What counts as damage, and what stops the run instead. ---

def test_changed_structure_is_an_error_and_changes_nothing(runs, tmp_path):
  """A code update that changes the TrainState (here: the buffer's size) with the
  same run_config: not damage, the checkpoints stay."""
  workdir = copy_of(runs, tmp_path)
  before = snapshot(workdir)
  changed = small_run_config(buffer_capacity=500)
  with pytest.raises(ValueError, match=r'Checkpoint 3 .* another structure') as err:
    run_small(workdir, 80, config=changed)
  text = one_line(err)
  assert 'buffer.experience.action saved float32[2, 1, 1000, 1], now float32[2, 1, 500, 1]' in text
  assert snapshot(workdir) == before


@pytest.mark.parametrize('error', [
    OSError(errno.EIO, 'Input/output error'),
    MemoryError('out of memory'),
    ValueError('PERMISSION_DENIED: Error reading local file "x": [OS error 13: EACCES '
               'Permission denied]'),
], ids=['eio', 'memory', 'tensorstore_permission'])
def test_other_restore_errors_stop_the_run_and_change_nothing(runs, tmp_path, monkeypatch,
                                                              error):
  workdir = copy_of(runs, tmp_path)
  before = snapshot(workdir)

  def failing_restore(self, *args, **kwargs):
    raise error
  monkeypatch.setattr(ocp.CheckpointManager, 'restore', failing_restore)
  with pytest.raises(ValueError, match=r'Cannot restore checkpoint 3 .*nothing was changed') as err:
    run_small(workdir, 80)
  assert type(error).__name__ in one_line(err)
  assert snapshot(workdir) == before


def test_no_checkpoint_restores_is_an_error_and_changes_nothing(runs, tmp_path):
  workdir = copy_of(runs, tmp_path)
  for step in (1, 2, 3):
    scramble_state_files(workdir, step)
  before = snapshot(workdir)
  with pytest.raises(ValueError, match=r'No checkpoint in .* restores \(3: .*; 2: .*; 1: ') as err:
    run_small(workdir, 80)
  one_line(err)
  assert snapshot(workdir) == before  # metrics.jsonl too: no restart from chunk 0


def test_restore_from_another_workdir_never_writes_there(runs, tmp_path):
  source = copy_of(runs, tmp_path, 'source')
  scramble_state_files(source, 3)
  before = snapshot(source)
  messages = []
  resumed = run_small(tmp_path / 'new', 80, restore_from=str(source), log=messages.append)
  assert snapshot(source) == before
  skipped = [m for m in messages if 'is damaged' in m]
  assert len(skipped) == 1 and 'Checkpoint 3' in skipped[0] and 'skipped' in skipped[0]
  assert resumed.resumed_from == 2
  assert_trees_equal(resumed.state, runs['whole'].state)


def test_load_policy_is_read_only(runs, tmp_path):
  workdir = copy_of(runs, tmp_path)
  scramble_state_files(workdir, 3)
  before = snapshot(workdir)
  policy = checkpoint.load_policy(str(workdir), seed_index=1)
  assert np.isfinite(np.asarray(policy(jax.numpy.array([1.0, 0.0, 0.0]),
                                       jax.random.PRNGKey(0)))).all()
  assert snapshot(workdir) == before

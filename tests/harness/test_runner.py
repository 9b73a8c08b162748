"""The host loop: compiled once, seeds as a vmap, exact resume (in process, and after
a SIGKILL), damaged and mismatched checkpoints, two devices equal one."""

import json
import os
import signal
import subprocess
import sys

import jax
import numpy as np
import pytest

from mbrl_jax import agents
from mbrl_jax.harness import checkpoint, runner
from tests.helpers import (REPO, assert_trees_equal, launch,
                           launch_in_background, metric_rows, restored_chunk_and_state,
                           small_run_config, wait_for_rows)


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


CONFIGS = os.path.join('experiments', 'configs')
# (launcher flags, total steps, metric rows (chunk x seed lines) to kill after, steps per
# chunk): PETS at its tiny size (a learned ensemble, its optimizer, the replay buffer,
# warm starts), killed mid-run. What differs between agents is their TrainState, and
# every agent's and preset's state is put through a checkpoint and resumed bit for bit
# in tests/agents/test_every_agent.py; the kill, the lock and the metrics files are
# the runner's, the same for all.
KILL_RUN = ([f'--config={CONFIGS}/mpc.py:pets,tiny', '--env=pendulum',
             '--env_kwargs={"episode_length": 20}', '--eval_episodes=1', '--plot=false',
             '--num_seeds=2', '--keep_checkpoints=2'], 200, 9, 20)


def test_run_killed_mid_run_resumes_bitwise(tmp_path):
  """SIGKILL a launcher subprocess mid-run, resume it, compare with a run that
  was never interrupted: same final state (params, buffers, optimizer states,
  keys, counters) and the same metrics. The kill leaves the workdir's lock file
  behind, but not the lock. The uninterrupted run goes alongside the resume, once
  the killed run has filled the compilation cache."""
  flags, total_steps, kill_after_rows, chunk = KILL_RUN
  args = flags + [f'--total_steps={total_steps}']
  killed_dir = tmp_path / 'killed'
  proc = launch_in_background(args + [f'--workdir={killed_dir}'],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  wait_for_rows(proc, killed_dir, kill_after_rows)
  proc.send_signal(signal.SIGKILL)
  proc.wait()
  assert proc.returncode == -signal.SIGKILL  # it was still running
  total_rows = total_steps // chunk * 2
  assert kill_after_rows <= len(metric_rows(killed_dir)) < total_rows
  assert f'pid {proc.pid} ' in (killed_dir / checkpoint.LOCK_FILE).read_text()
  clean_log = open(tmp_path / 'clean.log', 'w+')
  clean = launch_in_background(args + [f'--workdir={tmp_path / "clean"}'],
                               stdout=clean_log, stderr=subprocess.STDOUT)
  resumed = launch(args + [f'--workdir={killed_dir}'])
  assert resumed.returncode == 0, resumed.stderr[-2000:]
  clean.wait(timeout=600)
  clean_log.seek(0)
  assert clean.returncode == 0, clean_log.read()[-2000:]
  dump = lambda rows: json.dumps(rows, sort_keys=True)  # NaN-safe comparison
  assert len(metric_rows(killed_dir)) == total_rows
  assert dump(metric_rows(killed_dir)) == dump(metric_rows(tmp_path / 'clean'))
  assert_trees_equal(final_state(killed_dir), final_state(tmp_path / 'clean'))


def final_state(workdir):
  run_config = checkpoint.read_run_config(str(workdir))
  step, state = restored_chunk_and_state(workdir)
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
  assert 'using checkpoint 2' in damaged[0]
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
  with pytest.raises(ValueError, match='different configuration'):  # --restore of it
    runner.run(agent, env, str(tmp_path / 'new'), 60, run_config=run_config,
               restore_from=str(workdir), tensorboard=False)
  assert not (tmp_path / 'new').exists()  # the refused run left no workdir behind
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
from jax.sharding import Mesh, NamedSharding, PartitionSpec
from mbrl_jax import agents
from mbrl_jax.harness import runner
from tests.helpers import small_run_config
run_config = small_run_config()
agent, env = agents.build(run_config)
outputs = []
for name in ('one', 'two'):
  if name == 'one':  # the runner as on a machine with one device
    sharding = runner.seed_sharding
    runner.seed_sharding = lambda n: NamedSharding(Mesh(np.array(jax.devices()[:1]), ('seed',)),
                                                   PartitionSpec('seed'))
  result = runner.run(agent, env, {workdir!r} + name, 60, run_config=run_config, num_seeds=2,
                      eval_episodes=2, tensorboard=False, log=lambda s: None)
  if name == 'one':
    runner.seed_sharding = sharding
  leaves = [np.asarray(x) for x in jax.tree.leaves(result.state)]
  outputs.append({{'used': len(result.state.env_steps.sharding.device_set),
                  'eval': result.eval_returns.tolist(),
                  'leaves': [x.astype(float).ravel().tolist() for x in leaves]}})
print(json.dumps({{'devices': len(jax.devices()), 'runs': outputs}}))
"""


def test_two_devices_give_the_same_numbers_as_one(tmp_path):
  """One process with two (forced host) devices runs the same 2 seeds twice: on
  one device, then with the seed axis split over both."""
  script = TWO_DEVICE_SCRIPT.format(repo=REPO, workdir=str(tmp_path / 'run_'))
  env = dict(os.environ, JAX_PLATFORMS='cpu',
             XLA_FLAGS=os.environ.get('XLA_FLAGS', '') + ' --xla_force_host_platform_device_count=2')
  done = subprocess.run([sys.executable, '-c', script], cwd=REPO, env=env,
                        capture_output=True, text=True)
  assert done.returncode == 0, done.stderr[-2000:]
  output = json.loads(done.stdout.strip().splitlines()[-1])
  one, two = output['runs']
  assert output['devices'] == 2 and one['used'] == 1
  assert two['used'] == 2  # the seed axis is split over both
  # The same numbers up to the last bit of a few floats: XLA vectorizes sin/cos
  # differently for two seeds on one device than for one seed per device.
  np.testing.assert_allclose(one['eval'], two['eval'], rtol=1e-6)
  assert len(one['leaves']) == len(two['leaves'])
  for a, b in zip(one['leaves'], two['leaves']):
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


def test_run_in_memory_is_the_vmapped_chunks_evaluated_on_fixed_keys():
  run_config = small_run_config()
  agent, env = agents.build(run_config)
  seeds = [0, 3]
  curve = runner.run_in_memory(agent, env, seeds, num_chunks=2, eval_episodes=2)
  assert curve.eval_returns.shape == (2, 3) and len(curve.chunk_seconds) == 2
  # The same chunks in a plain loop, and the evaluator on fold_in(PRNGKey(seed), 7).
  keys = jax.vmap(jax.random.PRNGKey)(np.array(seeds))
  state = jax.jit(jax.vmap(agent.init))(keys)
  chunk = jax.jit(jax.vmap(agent.train_chunk))
  for _ in range(2):
    state, _ = chunk(state)
  assert_trees_equal(state, curve.state)
  evaluate = jax.jit(jax.vmap(runner.evaluator(agent, env, 2)))
  eval_keys = jax.vmap(lambda k: jax.random.fold_in(k, 7))(keys)
  np.testing.assert_array_equal(np.asarray(evaluate(state.params, eval_keys)),
                                curve.eval_returns[:, -1])

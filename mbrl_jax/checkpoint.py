"""Checkpoints with Orbax: the whole TrainState plus the run's description.

A workdir holds `run_config.json` (what the run is: agent, env, config, seeds) and
`checkpoints/<chunk>/` written by an Orbax CheckpointManager (atomic: a step
directory appears only once complete). A checkpoint that fails to restore is moved
to `damaged_checkpoints/` (kept, never deleted) and the previous one is used.
"""

import json
import os
import shutil
from typing import Any, Dict, Optional, Tuple

import jax
import orbax.checkpoint as ocp

RUN_CONFIG = 'run_config.json'
CHECKPOINTS = 'checkpoints'
DAMAGED = 'damaged_checkpoints'


class Checkpointer:
  """Saves and restores (state, metadata) at integer steps (chunks done)."""

  def __init__(self, workdir: str, keep: int = 3):
    self.directory = os.path.abspath(os.path.join(workdir, CHECKPOINTS))
    self.manager = ocp.CheckpointManager(
        self.directory,
        options=ocp.CheckpointManagerOptions(max_to_keep=keep, create=True,
                                             enable_async_checkpointing=False))

  def steps(self):
    return sorted(self.manager.all_steps())

  def save(self, step: int, state: Any, meta: Dict[str, Any]) -> None:
    self.manager.save(step, args=ocp.args.Composite(
        state=ocp.args.StandardSave(state), meta=ocp.args.JsonSave(meta)), force=True)
    self.manager.wait_until_finished()

  def restore_latest(self, abstract_state: Any, log=print
                     ) -> Optional[Tuple[int, Any, Dict[str, Any]]]:
    """(step, state, meta) of the newest checkpoint that restores, or None."""
    for step in reversed(self.steps()):
      try:
        restored = self.manager.restore(step, args=ocp.args.Composite(
            state=ocp.args.StandardRestore(abstract_state), meta=ocp.args.JsonRestore()))
        return step, restored.state, restored.meta
      except Exception as err:  # noqa: BLE001 -- any failure means unusable
        reason = str(err).strip().splitlines()[0][:200] if str(err).strip() else type(err).__name__
        moved = self._set_aside(step)
        log(f'Checkpoint {step} in {self.directory} is damaged ({reason}); moved to '
            f'{moved}, using the previous one.')
    return None

  def _set_aside(self, step: int) -> str:
    target_dir = os.path.join(os.path.dirname(self.directory), DAMAGED)
    os.makedirs(target_dir, exist_ok=True)
    target = os.path.join(target_dir, str(step))
    suffix = 0
    while os.path.exists(target):
      suffix += 1
      target = os.path.join(target_dir, f'{step}.{suffix}')
    shutil.move(os.path.join(self.directory, str(step)), target)
    self.manager.reload()
    return target

  def close(self):
    self.manager.close()


def read_run_config(workdir: str) -> Optional[Dict[str, Any]]:
  path = os.path.join(workdir, RUN_CONFIG)
  if not os.path.exists(path):
    return None
  with open(path) as f:
    return json.load(f)


def write_run_config(workdir: str, run_config: Dict[str, Any]) -> None:
  os.makedirs(workdir, exist_ok=True)
  path = os.path.join(workdir, RUN_CONFIG)
  with open(path + '.tmp', 'w') as f:
    json.dump(run_config, f, indent=2, sort_keys=True)
  os.replace(path + '.tmp', path)


def config_differences(a: Dict[str, Any], b: Dict[str, Any], prefix: str = ''):
  """Dotted keys whose values differ between two nested dicts."""
  keys = sorted(set(a) | set(b))
  out = []
  for key in keys:
    va, vb = a.get(key, '<missing>'), b.get(key, '<missing>')
    if isinstance(va, dict) and isinstance(vb, dict):
      out += config_differences(va, vb, f'{prefix}{key}.')
    elif va != vb:
      out.append(f'{prefix}{key}')
  return out


def load_policy(workdir: str, seed_index: int = 0, deterministic: bool = True):
  """The policy (obs, key) -> action of a run's latest checkpoint, for evaluation."""
  from mbrl_jax import agents
  run_config = read_run_config(workdir)
  if run_config is None:
    raise ValueError(f'{workdir} has no {RUN_CONFIG}: not a mbrl_jax workdir.')
  agent, _ = agents.build(run_config)
  num_seeds = run_config['num_seeds']
  if not 0 <= seed_index < num_seeds:
    raise ValueError(f'seed_index must be in [0, {num_seeds}), got {seed_index}.')
  keys = jax.random.split(jax.random.PRNGKey(0), num_seeds)
  abstract = jax.eval_shape(jax.vmap(agent.init), keys)
  found = Checkpointer(workdir).restore_latest(abstract)
  if found is None:
    raise ValueError(f'{workdir} has no usable checkpoint.')
  params = jax.tree.map(lambda x: x[seed_index], found[1].params)
  return agent.make_policy(params, deterministic)

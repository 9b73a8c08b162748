"""Checkpoints with Orbax, verified on restore, and the lock that gives a workdir to
one run at a time.

A workdir holds `run_config.json` (what the run is: agent, env, config, seeds) and
`checkpoints/<chunk>/` written by an Orbax CheckpointManager (atomic: a step
directory appears only once complete). Each checkpoint's JSON meta holds a sha256
digest of the state (every leaf's path, dtype, shape and bytes, in tree order),
checked when it is restored (checkpoints saved before digests existed restore
unchecked). Restoring tries the newest checkpoint first:

- damaged (digest mismatch, or its own files missing or undecodable): the next
  older one is tried; once one restores, the damaged newer ones are moved to
  `damaged_checkpoints/` (kept, never deleted) and each is logged. In another
  run's workdir (`read_only`) nothing is moved: they are only skipped.
- saved with another structure (leaves, shapes, dtypes) than the agent's init
  makes now, e.g. after a code change: a ValueError naming the differences.
- any other failure (an I/O error, out of memory, ...): a ValueError.
- none restores: a ValueError listing each checkpoint and why.
In every error case nothing is moved or written.

While a run holds a workdir, `run.lock` in it is locked (flock, released by the
kernel when the process dies) and names the holder's pid and host.
"""

import errno
import fcntl
import hashlib
import json
import os
import shutil
import socket
from typing import Any, Callable, Dict, List, Optional, Tuple

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp

from mbrl_jax.core import nested

RUN_CONFIG = 'run_config.json'
CHECKPOINTS = 'checkpoints'
DAMAGED = 'damaged_checkpoints'
LOCK_FILE = 'run.lock'
DIGEST_KEY = 'state_sha256'

# Tensorstore's status codes for data that is missing, truncated or undecodable; its
# I/O errors carry "[OS error N: ...]" in their text and are not damage.
DAMAGE_STATUSES = ('DATA_LOSS', 'NOT_FOUND', 'FAILED_PRECONDITION', 'OUT_OF_RANGE')


class DigestMismatch(Exception):
  """The restored state is not the state that was saved."""


def state_digest(state: Any) -> str:
  """sha256 over every leaf's path, dtype, shape and bytes, in tree order (on host)."""
  digest = hashlib.sha256()
  for path, leaf in jax.tree_util.tree_leaves_with_path(jax.device_get(state)):
    array = np.ascontiguousarray(leaf)
    digest.update(f'{jax.tree_util.keystr(path)}|{array.dtype.str}|{array.shape}\n'.encode())
    digest.update(array.reshape(-1).view(np.uint8).data)
  return digest.hexdigest()


def _is_empty(leaf) -> bool:
  return 0 in tuple(getattr(leaf, 'shape', ()))


def without_empty(tree: Any) -> Any:
  """The tree with zero-size arrays as None: Orbax refuses to save them, and MJX's data
  holds some (e.g. `act` of a model without activation states)."""
  return jax.tree.map(lambda leaf: None if _is_empty(leaf) else leaf, tree)


def with_empty(restored: Any, like: Any) -> Any:
  """`without_empty`'s inverse: the zero-size arrays of `like` (arrays or
  ShapeDtypeStructs) back in place of the Nones of `restored`."""
  leaves, treedef = jax.tree.flatten(like)
  kept = iter(jax.tree.leaves(restored))
  return jax.tree.unflatten(treedef, [jnp.zeros(leaf.shape, leaf.dtype) if _is_empty(leaf)
                                      else next(kept) for leaf in leaves])


def structure_differences(saved: Any, expected: Any, limit: int = 3) -> List[str]:
  """Leaves (dotted paths) whose presence, shape or dtype differ, at most `limit`."""
  def signature(tree):
    return {'.'.join(map(str, path)): (tuple(getattr(leaf, 'shape', ())),
                                       np.dtype(getattr(leaf, 'dtype', None)).name)
            for path, leaf in ocp.tree.to_flat_dict(tree).items()}
  old, new = signature(saved), signature(expected)
  out = []
  for name in sorted(set(old) | set(new)):
    if name not in old:
      out.append(f'{name} not in the checkpoint')
    elif name not in new:
      out.append(f'{name} only in the checkpoint')
    elif old[name] != new[name]:
      (old_shape, old_dtype), (new_shape, new_dtype) = old[name], new[name]
      out.append(f'{name} saved {old_dtype}{list(old_shape)}, now {new_dtype}{list(new_shape)}')
  return out[:limit] + ([f'{len(out) - limit} more'] if len(out) > limit else [])


def _error_chain(err: BaseException) -> List[BaseException]:
  chain = []
  while err is not None and all(err is not e for e in chain):
    chain.append(err)
    err = err.__cause__ or err.__context__
  return chain


def _first_line(err: BaseException) -> str:
  text = str(err).strip()
  return text.splitlines()[0][:300] if text else type(err).__name__


def damage_reason(err: BaseException) -> Optional[str]:
  """Why a restore error shows the checkpoint's own files damaged, or None when it
  does not (I/O errors, out of memory, anything else)."""
  chain = _error_chain(err)
  for e in chain:
    text = str(e)
    if isinstance(e, MemoryError) or 'RESOURCE_EXHAUSTED' in text:
      return None
    if isinstance(e, OSError) and not isinstance(e, FileNotFoundError):
      return None
    if '[OS error' in text and 'ENOENT' not in text:
      return None
  for e in chain:
    if isinstance(e, DigestMismatch):
      return _first_line(e)
    if (isinstance(e, (json.JSONDecodeError, UnicodeDecodeError, FileNotFoundError))
        or (isinstance(e, KeyError) and 'not found in the checkpoint' in str(e))
        or (isinstance(e, ValueError) and str(e).split(':')[0] in DAMAGE_STATUSES)):
      return f'{type(e).__name__}: {_first_line(e)}'
  return None


def unreadable_file(directory: str) -> Optional[OSError]:
  """The first OS-level read error among a directory's files, if any: a decode
  failure of files that read fine is their content's fault, not the disk's."""
  for root, _, names in os.walk(directory):
    for name in names:
      try:
        with open(os.path.join(root, name), 'rb') as f:
          while f.read(1 << 24):
            pass
      except FileNotFoundError:
        continue
      except OSError as err:
        return err
  return None


class Checkpointer:
  """Saves and restores (state, metadata) at integer steps (chunks done).

  read_only: never creates, moves or writes anything (another run's workdir,
  loading a policy)."""

  def __init__(self, workdir: str, keep: int = 3, read_only: bool = False):
    self.directory = os.path.abspath(os.path.join(workdir, CHECKPOINTS))
    self.read_only = read_only
    self.manager = ocp.CheckpointManager(
        self.directory,
        item_handlers={'state': ocp.StandardCheckpointHandler(),
                       'meta': ocp.JsonCheckpointHandler()},
        options=ocp.CheckpointManagerOptions(max_to_keep=keep, create=not read_only,
                                             enable_async_checkpointing=False))

  def steps(self):
    return sorted(self.manager.all_steps())

  def save(self, step: int, state: Any, meta: Dict[str, Any]) -> None:
    if self.read_only:
      raise ValueError(f'{self.directory} was opened read-only; cannot save.')
    meta = dict(meta, **{DIGEST_KEY: state_digest(state)})
    self.manager.save(step, args=ocp.args.Composite(
        state=ocp.args.StandardSave(without_empty(state)), meta=ocp.args.JsonSave(meta)),
        force=True)
    self.manager.wait_until_finished()

  def restore_latest(self, abstract_state: Any, log: Callable[[str], None] = print
                     ) -> Optional[Tuple[int, Any, Dict[str, Any]]]:
    """(step, state, meta) of the newest checkpoint that restores; None if there is
    no checkpoint; a one-line ValueError in every other case (module docstring)."""
    steps = self.steps()
    damaged = []  # (step, reason), newest first
    for step in reversed(steps):
      found = self._restore_or_damage(step, abstract_state)
      if isinstance(found, str):
        damaged.append((step, found))
        continue
      for bad_step, reason in damaged:
        if self.read_only:
          log(f'Checkpoint {bad_step} in {self.directory} is damaged ({reason}); skipped '
              f'(left in place), using checkpoint {step}.')
        else:
          moved = self._set_aside(bad_step)
          log(f'Checkpoint {bad_step} in {self.directory} is damaged ({reason}); moved to '
              f'{moved}, using checkpoint {step}.')
      return (step,) + found
    if damaged:
      listed = '; '.join(f'{s}: {reason}' for s, reason in damaged)
      raise ValueError(f'No checkpoint in {self.directory} restores ({listed}); nothing was '
                       f'changed: move them away to start again from chunk 0.')
    return None

  def _restore_or_damage(self, step: int, abstract_state: Any):
    """(state, meta), or the reason the checkpoint is damaged; raises ValueError for
    a structure mismatch or an error that is not damage."""
    try:  # the saved tree's metadata first: a changed structure is not damage
      saved = self.manager.item_metadata(step)['state']
      if saved is None:
        raise FileNotFoundError('the state\'s tree metadata is missing')
    except Exception as err:  # noqa: BLE001 -- sorted into damage and the rest
      return self._damage_or_raise(step, err)
    differ = structure_differences(saved, without_empty(abstract_state))
    if differ:
      raise ValueError(
          f'Checkpoint {step} in {self.directory} holds a TrainState of another structure '
          f'than the agent makes now ({"; ".join(differ)}): the code or config changed '
          f'since it was saved; use another workdir or the code it was saved with.')
    try:
      restored = self.manager.restore(step, args=ocp.args.Composite(
          state=ocp.args.StandardRestore(without_empty(abstract_state)),
          meta=ocp.args.JsonRestore()))
      state = with_empty(restored.state, abstract_state)
      expected = (restored.meta or {}).get(DIGEST_KEY)
      if expected is not None and state_digest(state) != expected:
        raise DigestMismatch('state digest mismatch: the data differs from what was saved')
    except Exception as err:  # noqa: BLE001
      return self._damage_or_raise(step, err)
    return state, restored.meta

  def _damage_or_raise(self, step: int, err: Exception) -> str:
    reason = damage_reason(err)
    io_error = unreadable_file(os.path.join(self.directory, str(step)))
    if reason is None or io_error is not None:
      cause = io_error if io_error is not None else err
      raise ValueError(f'Cannot restore checkpoint {step} in {self.directory} '
                       f'({type(cause).__name__}: {_first_line(cause)}); nothing was '
                       f'changed.') from err
    return reason

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


class WorkdirLock:
  """Holds `<workdir>/run.lock` (an exclusive flock) while a run uses the workdir.

  A second holder gets a one-line ValueError naming the first's pid and host and
  changes nothing. The kernel drops the lock when its process dies, so a killed
  run never leaves the workdir stuck; `release` removes the file."""

  def __init__(self, workdir: str):
    if os.path.exists(workdir) and not os.path.isdir(workdir):
      raise ValueError(f'workdir {workdir!r} is a file, not a directory; give a directory '
                       f'(it is created if missing).')
    try:
      os.makedirs(workdir, exist_ok=True)
    except OSError as err:
      raise ValueError(f'cannot create workdir {workdir!r}: {err.strerror or err}.') from err
    self.path = os.path.join(workdir, LOCK_FILE)
    self.fd = self._acquire(workdir)
    os.ftruncate(self.fd, 0)
    os.write(self.fd, f'pid {os.getpid()} on host {socket.gethostname()}\n'.encode())

  def _acquire(self, workdir: str) -> int:
    while True:
      fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
      try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
      except OSError as err:
        holder = os.read(fd, 200).decode(errors='replace').strip() or 'pid unknown'
        os.close(fd)
        if err.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
          raise ValueError(f'cannot lock workdir {workdir!r}: {err.strerror}.') from err
        raise ValueError(f'workdir {workdir!r} is in use by another run ({holder}); wait '
                         f'for it to finish or use another workdir.') from None
      try:  # the file may have been removed by a holder releasing it: lock the new one
        if os.stat(self.path).st_ino == os.fstat(fd).st_ino:
          return fd
      except FileNotFoundError:
        pass
      os.close(fd)

  def release(self) -> None:
    if self.fd is None:
      return
    try:
      os.unlink(self.path)  # while still locked, so no one holds a removed file
    except FileNotFoundError:
      pass
    os.close(self.fd)
    self.fd = None

  def __enter__(self):
    return self

  def __exit__(self, *exc):
    self.release()


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


def config_differences(a: Dict[str, Any], b: Dict[str, Any]) -> List[str]:
  """Dotted keys whose values differ between two nested dicts."""
  return nested.value_differences(a, b)


def load_policy(workdir: str, seed_index: int = 0, deterministic: bool = True):
  """The policy (obs, key) -> action of a run's latest checkpoint, for evaluation.
  Read-only: a damaged checkpoint is skipped, never moved."""
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
  reader = Checkpointer(workdir, read_only=True)
  try:
    found = reader.restore_latest(abstract)
  finally:
    reader.close()
  if found is None:
    raise ValueError(f'{workdir} has no checkpoint.')
  params = jax.tree.map(lambda x: x[seed_index], found[1].params)
  return agent.make_policy(params, deterministic)

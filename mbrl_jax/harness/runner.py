"""The host loop: init -> compiled chunks -> metrics -> evaluation -> checkpoints.

`run` is the loop over training in Python. Seeds are one `jax.vmap` over the
agent's `init` and `train_chunk`, compiled once; the seed axis is sharded over the
devices (as many as divide the number of seeds). Between chunks it writes metrics,
shows progress, evaluates and saves checkpoints; a workdir that already holds a
checkpoint of the same run resumes from it, bit for bit. A workdir is held by one run
at a time (`checkpoint.WorkdirLock`); what counts as a damaged checkpoint and what
stops a run instead is in `mbrl_jax.checkpoint`.

`run_in_memory` is its light form for experiments that compare a few learning curves
and keep them in memory: the same vmap over seeds, no workdir, files or checkpoints.
"""

import dataclasses
import json
import os
import time
from typing import Any, Callable, Dict, List, Optional, Sequence

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from mbrl_jax.harness import checkpoint as ckpt
from mbrl_jax.data import evaluation
from mbrl_jax.agents.base import Agent, refuse_nonfinite
from mbrl_jax.harness.metrics import MetricsWriter, Progress

# Settings that may change between a run and its resume.
RESUMABLE_KEYS = ('total_steps',)


@dataclasses.dataclass
class RunResult:
  state: Any                 # final TrainState, leading axis = seeds
  last_metrics: Dict[str, np.ndarray]
  eval_returns: Optional[np.ndarray]
  chunks_run: int            # chunks run by this call (not restored ones)
  resumed_from: int          # chunk the run started from (0: fresh)
  traces: Dict[str, int]     # how often train_chunk / evaluate were traced


@dataclasses.dataclass
class Curve:
  state: Any                   # final TrainState, leading axis = seeds
  eval_returns: np.ndarray     # [seeds, chunks + 1]: before training, then after each chunk
  chunk_seconds: List[float]   # wall-clock of each compiled chunk, evaluation not included
  compile_seconds: float       # compiling the chunk, ahead of the first one


def evaluator(agent: Agent, env, num_episodes: int) -> Callable:
  """(params, key) -> mean return of `num_episodes` episodes: the agent's own
  `evaluate` where it has one, else its deterministic policy on fresh episodes."""
  if agent.evaluate is not None:
    return lambda params, key: agent.evaluate(params, key, num_episodes)
  return evaluation.make_evaluator(env, agent.make_policy, num_episodes)


def run_in_memory(agent: Agent, env, seeds: Sequence[int], num_chunks: int,
                  eval_episodes: int, eval_salt: int = 7) -> Curve:
  """Trains one run per seed (a vmap over `agent.init(PRNGKey(seed))` and
  `train_chunk`) for `num_chunks` chunks and evaluates before training and after every
  chunk. Every evaluation of a seed uses the same key, fold_in(PRNGKey(seed),
  eval_salt): the same start states each time, so the curve's steps are not
  evaluation noise. The chunk is compiled ahead and timed alone."""
  keys = jax.vmap(jax.random.PRNGKey)(np.array(seeds))
  state = jax.jit(jax.vmap(agent.init))(keys)
  started = time.perf_counter()
  chunk = jax.jit(jax.vmap(refuse_nonfinite(agent.train_chunk))).lower(state).compile()
  compile_s = time.perf_counter() - started
  evaluate = jax.jit(jax.vmap(evaluator(agent, env, eval_episodes)))
  eval_keys = jax.vmap(lambda k: jax.random.fold_in(k, eval_salt))(keys)
  returns = [np.asarray(evaluate(state.params, eval_keys))]
  seconds = []
  for _ in range(num_chunks):
    started = time.perf_counter()
    state, _ = chunk(state)
    jax.block_until_ready(state)
    seconds.append(time.perf_counter() - started)
    returns.append(np.asarray(evaluate(state.params, eval_keys)))
  return Curve(state=state, eval_returns=np.stack(returns, 1), chunk_seconds=seconds,
               compile_seconds=compile_s)


def seed_sharding(num_seeds: int) -> NamedSharding:
  """Shard the leading (seed) axis over as many devices as divide num_seeds."""
  devices = jax.devices()
  count = max(d for d in range(1, len(devices) + 1) if num_seeds % d == 0)
  return NamedSharding(Mesh(np.array(devices[:count]), ('seed',)), PartitionSpec('seed'))


def _counted(fn: Callable, counts: Dict[str, int], name: str) -> Callable:
  def wrapped(*args):
    counts[name] += 1  # runs when traced, not when the compiled program runs
    return fn(*args)
  return wrapped


def run(agent: Agent, env, workdir: str, total_steps: int, *,
        run_config: Optional[Dict[str, Any]] = None, num_seeds: int = 1, seed: int = 0,
        eval_every: int = 1, eval_episodes: int = 5, checkpoint_every: int = 1,
        keep_checkpoints: int = 3, restore_from: Optional[str] = None,
        progress_every_s: float = 10.0, tensorboard: bool = True,
        log: Callable[[str], None] = print) -> RunResult:
  """Trains `agent` for `total_steps` real env steps per seed.

  Args:
    run_config: JSON-able description of the run (agent, env, config); saved in
      the workdir and compared on resume, so a different run is never mixed in.
    eval_every, checkpoint_every: in chunks; both also happen after the last chunk.
    restore_from: a workdir to resume from (default: `workdir` itself, if it
      holds a checkpoint of the same run); it is only read, never written.

  Raises a one-line ValueError, changing nothing in the workdir, for bad
  arguments, a workdir held by another run or holding another run, and a
  checkpoint that cannot be used (see mbrl_jax.checkpoint).
  """
  steps = agent.steps_per_chunk
  if total_steps < steps or total_steps % steps:
    raise ValueError(f'total_steps ({total_steps}) must be a positive multiple of the '
                     f'agent\'s chunk size ({steps} env steps).')
  for name, value in [('num_seeds', num_seeds), ('eval_every', eval_every),
                      ('eval_episodes', eval_episodes), ('checkpoint_every', checkpoint_every),
                      ('keep_checkpoints', keep_checkpoints)]:
    if int(value) < 1:
      raise ValueError(f'{name} must be >= 1, got {value}.')
  num_chunks = total_steps // steps
  identity = dict(run_config or {}, seed=seed, num_seeds=num_seeds, steps_per_chunk=steps)
  identity = json.loads(json.dumps(identity))  # as it reads back from disk
  source = restore_from or workdir
  if restore_from is not None and not os.path.isdir(os.path.join(restore_from, ckpt.CHECKPOINTS)):
    raise ValueError(f'restore path {restore_from!r} holds no checkpoints '
                     f'(expected {os.path.join(restore_from, ckpt.CHECKPOINTS)}).')
  if restore_from is not None:  # another run's settings: refused before the new workdir exists
    _check_same_run(restore_from, identity)
  # Held before anything in the workdir is read or written: another run holding it
  # (or a workdir that is a file) is a one-line ValueError, and nothing changes.
  with ckpt.WorkdirLock(workdir):
    _check_same_run(workdir, identity)

    counts = {'train_chunk': 0, 'evaluate': 0}
    sharding = seed_sharding(num_seeds)
    keys = jax.random.split(jax.random.PRNGKey(seed), num_seeds)
    init = jax.jit(jax.vmap(agent.init), out_shardings=sharding)
    chunk_fn = jax.jit(jax.vmap(_counted(refuse_nonfinite(agent.train_chunk), counts,
                                         'train_chunk')),
                       in_shardings=sharding, out_shardings=sharding, donate_argnums=0)
    evaluate = jax.jit(jax.vmap(_counted(evaluator(agent, env, eval_episodes), counts,
                                         'evaluate')))
    eval_root = jax.random.fold_in(jax.random.PRNGKey(seed), 0x5EED)

    # Start fresh or resume; errors here leave the workdir as it was.
    abstract = jax.eval_shape(jax.vmap(agent.init), keys)
    abstract = jax.tree.map(
        lambda s: jax.ShapeDtypeStruct(s.shape, s.dtype, sharding=sharding), abstract)
    found = _restore_latest(source, workdir, abstract, keep_checkpoints, log)
    if found is None:
      start_chunk, state = 0, init(keys)
    else:
      start_chunk, state, _ = found
      log(f'Resuming from chunk {start_chunk} ({start_chunk * steps} env steps) of {source}.')
    ckpt.write_run_config(workdir, identity | {'total_steps': total_steps})
    saver = ckpt.Checkpointer(workdir, keep_checkpoints)
    writer = MetricsWriter(workdir, start_chunk, tensorboard)
    progress = Progress(total_steps, start_chunk * steps, progress_every_s, log)

    metrics, eval_returns = {}, None
    try:
      for chunk in range(start_chunk + 1, num_chunks + 1):
        started = time.perf_counter()
        state, metrics = chunk_fn(state)
        metrics = {k: np.asarray(v) for k, v in metrics.items()}
        last = chunk == num_chunks
        values = dict(metrics)
        eval_returns = None
        if chunk % eval_every == 0 or last:
          params = state.params
          eval_keys = jax.random.split(jax.random.fold_in(eval_root, chunk), num_seeds)
          eval_returns = np.asarray(evaluate(params, eval_keys))
          values['eval_return'] = eval_returns
        env_steps = chunk * steps
        writer.write(chunk, env_steps, {k: list(v) for k, v in values.items()},
                     {'chunk_seconds': round(time.perf_counter() - started, 4)})
        if chunk % checkpoint_every == 0 or last:
          saver.save(chunk, state, {'chunk': chunk, 'env_steps': env_steps})
        progress.update(env_steps,
                        None if eval_returns is None else float(np.nanmean(eval_returns)),
                        force=last)
    finally:
      writer.close()
      saver.close()
  return RunResult(state=state, last_metrics=metrics, eval_returns=eval_returns,
                   chunks_run=num_chunks - start_chunk, resumed_from=start_chunk,
                   traces=dict(counts))


def _restore_latest(source: str, workdir: str, abstract: Any, keep: int, log):
  """(chunk, state, meta) of the newest checkpoint in `source` that restores, or
  None if it has none. Another run's workdir is opened read-only (its damaged
  checkpoints are skipped, not moved)."""
  if not os.path.isdir(os.path.join(source, ckpt.CHECKPOINTS)):
    return None
  own = os.path.realpath(source) == os.path.realpath(workdir)
  reader = ckpt.Checkpointer(source, keep, read_only=not own)
  try:
    return reader.restore_latest(abstract, log=log)
  finally:
    reader.close()


def _check_same_run(workdir: str, identity: Dict[str, Any]) -> None:
  saved = ckpt.read_run_config(workdir)
  if saved is None:
    return
  saved = {k: v for k, v in saved.items() if k not in RESUMABLE_KEYS}
  differ = ckpt.config_differences(saved, identity)
  if differ:
    raise ValueError(f'{workdir} holds a run with a different configuration (differs in: '
                     f'{", ".join(differ)}); use another workdir or the same settings.')

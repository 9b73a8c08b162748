"""Metrics: one JSON line per (chunk, seed) always, TensorBoard events too.

On resume from chunk c, lines of later chunks (written after the checkpoint the
run restarted from, or cut short by a kill) are dropped, and TensorBoard events
from step c on are purged, so the files read as one uninterrupted run.
"""

import json
import math
import os
import time
from typing import Dict, List, Optional

METRICS_FILE = 'metrics.jsonl'


def _clean(value):
  value = float(value)
  return None if math.isnan(value) or math.isinf(value) else value


def write_json(result, path: str, indent: int = 1) -> str:
  """Writes an experiment's JSON-able result to `path` (creating its folder); returns
  the path."""
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  with open(path, 'w') as f:
    json.dump(result, f, indent=indent)
  return path


def report(result: Dict, out: Optional[str] = None) -> None:
  """Prints a benchmark's result as one JSON line, and writes it (indented) to `out`
  when given: experiments print JSON, and keep it in experiments/results/."""
  print(json.dumps(result), flush=True)
  if out:
    write_json(result, out)


def read(workdir: str) -> List[Dict]:
  """All complete metric rows of a workdir (a torn last line is skipped)."""
  path = os.path.join(workdir, METRICS_FILE)
  rows = []
  if os.path.exists(path):
    with open(path) as f:
      for line in f:
        try:
          rows.append(json.loads(line))
        except json.JSONDecodeError:
          continue
  return rows


class MetricsWriter:

  def __init__(self, workdir: str, resume_chunk: int = 0, tensorboard: bool = True):
    self.path = os.path.join(workdir, METRICS_FILE)
    kept = [row for row in read(workdir) if row.get('chunk', 0) <= resume_chunk]
    with open(self.path + '.tmp', 'w') as f:
      f.writelines(json.dumps(row) + '\n' for row in kept)
    os.replace(self.path + '.tmp', self.path)
    self.file = open(self.path, 'a')
    self.tb = None
    if tensorboard:
      from tensorboardX import SummaryWriter
      self.tb = SummaryWriter(os.path.join(workdir, 'tensorboard'),
                              purge_step=resume_chunk + 1 if resume_chunk else None)

  def write(self, chunk: int, env_steps: int, per_seed: Dict[str, List[float]],
            extra: Optional[Dict] = None) -> None:
    """per_seed: metric name -> one value per seed."""
    num_seeds = len(next(iter(per_seed.values())))
    for i in range(num_seeds):
      row = {'chunk': chunk, 'env_steps': env_steps, 'seed_index': i}
      row.update({k: _clean(v[i]) for k, v in per_seed.items()})
      row.update(extra or {})
      self.file.write(json.dumps(row) + '\n')
    self.file.flush()
    if self.tb is not None:
      for name, values in per_seed.items():
        finite = [v for v in map(_clean, values) if v is not None]
        if finite:
          self.tb.add_scalar(name, sum(finite) / len(finite), global_step=chunk,
                             walltime=time.time())
      self.tb.flush()

  def close(self):
    self.file.close()
    if self.tb is not None:
      self.tb.close()


class Progress:
  """Prints env steps, steps/s, ETA and the latest eval return every few seconds."""

  def __init__(self, total_steps: int, start_steps: int, every_s: float = 10.0, log=print):
    self.total, self.start_steps, self.every_s, self.log = total_steps, start_steps, every_s, log
    self.start = self.last = time.perf_counter()

  def update(self, env_steps: int, eval_return: Optional[float], force: bool = False):
    now = time.perf_counter()
    if not force and now - self.last < self.every_s:
      return
    self.last = now
    rate = (env_steps - self.start_steps) / max(now - self.start, 1e-9)
    eta = (self.total - env_steps) / rate if rate > 0 else float('inf')
    text = f'env steps {env_steps}/{self.total}  {rate:,.0f} steps/s  ETA {eta:,.0f} s'
    if eval_return is not None:
      text += f'  eval return {eval_return:.2f}'
    self.log(text)

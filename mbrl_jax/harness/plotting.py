"""Figures: learning curves from workdirs (mean and spread over seeds, return vs env
steps), rows of labelled line plots, and saving them."""

import os
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np

from mbrl_jax.harness import metrics


def curve(rows: List[Dict], key: str):
  """(env_steps, mean, min, max, count) over seeds of `key`, rows without it skipped."""
  by_step: Dict[int, List[float]] = {}
  for row in rows:
    if row.get(key) is not None:
      by_step.setdefault(row['env_steps'], []).append(row[key])
  steps = np.array(sorted(by_step))
  values = [np.array(by_step[s]) for s in steps]
  return (steps, np.array([v.mean() for v in values]), np.array([v.min() for v in values]),
          np.array([v.max() for v in values]), np.array([len(v) for v in values]))


def save_figure(fig, path: str, dpi: int = 100) -> None:
  """Lays out, writes (creating the folder) and closes a matplotlib figure."""
  import matplotlib.pyplot as plt
  fig.tight_layout()
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  fig.savefig(path, dpi=dpi)
  plt.close(fig)


class Panel(NamedTuple):
  """One axes of `plot_lines`: its lines, label -> (xs [n], ys [n]), and its text."""
  lines: Dict[str, Tuple[Sequence[float], Sequence[float]]]
  title: str = ''
  xlabel: str = ''
  ylabel: str = ''
  yscale: str = 'linear'
  ylim: Optional[Tuple[float, float]] = None


def plot_lines(panels: Sequence[Panel], path: str,
               panel_size: Tuple[float, float] = (5.0, 3.5)) -> str:
  """A row of axes, one per panel (each panel_size inches), each with its labelled
  lines and a legend; written to `path`, which is returned."""
  import matplotlib
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt
  width, height = panel_size
  fig, axes = plt.subplots(1, len(panels), figsize=(width * len(panels), height),
                           squeeze=False)
  for ax, panel in zip(axes[0], panels):
    for label, (xs, ys) in panel.lines.items():
      ax.plot(xs, ys, label=label)
    ax.set_yscale(panel.yscale)
    ax.set_title(panel.title)
    ax.set_xlabel(panel.xlabel)
    ax.set_ylabel(panel.ylabel)
    if panel.ylim is not None:
      ax.set_ylim(*panel.ylim)
    ax.legend()
  save_figure(fig, path)
  return path


def plot_workdirs(workdirs: Sequence[str], out: str, key: str = 'eval_return',
                  labels: Optional[Sequence[str]] = None, title: Optional[str] = None,
                  action_repeat: int = 1) -> str:
  """One line per workdir (mean over seeds), shaded between min and max; x in env
  steps (the runs' agent steps times `action_repeat`)."""
  import matplotlib
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt
  fig, ax = plt.subplots(figsize=(7, 4))
  drawn = 0
  for i, workdir in enumerate(workdirs):
    steps, mean, low, high, count = curve(metrics.read(workdir), key)
    if not len(steps):
      continue
    label = labels[i] if labels else os.path.basename(os.path.normpath(workdir))
    seeds, steps = int(count.max()), steps * action_repeat
    line, = ax.plot(steps, mean, label=f'{label} ({seeds} seed{"s" if seeds > 1 else ""})')
    ax.fill_between(steps, low, high, color=line.get_color(), alpha=0.2)
    drawn += 1
  if not drawn:
    plt.close(fig)
    raise ValueError(f'no {key!r} values in {", ".join(workdirs)}.')
  ax.set_xlabel('env steps')
  ax.set_ylabel(key.replace('_', ' '))
  ax.set_title(title or 'learning curve (mean over seeds, shaded: min to max)')
  ax.legend()
  save_figure(fig, out)
  return out


def write_csv(workdirs: Sequence[str], out: str, key: str = 'eval_return',
              labels: Optional[Sequence[str]] = None, action_repeat: int = 1) -> str:
  """The curves as CSV: label, env_steps (agent steps x action_repeat), mean, min, max,
  seeds."""
  import csv
  os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
  with open(out, 'w', newline='') as f:
    writer = csv.writer(f)
    writer.writerow(['run', 'env_steps', f'{key}_mean', f'{key}_min', f'{key}_max', 'seeds'])
    for i, workdir in enumerate(workdirs):
      label = labels[i] if labels else os.path.basename(os.path.normpath(workdir))
      for row in zip(*curve(metrics.read(workdir), key)):
        writer.writerow([label, int(row[0]) * action_repeat] + [float(v) for v in row[1:4]]
                        + [int(row[4])])
  return out

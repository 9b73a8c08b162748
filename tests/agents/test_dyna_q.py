"""Dyna-Q on the Dyna maze: planning finds the short path in fewer episodes, and
late episodes are close to the shortest path (found here by breadth-first search)."""

import collections

import jax
import numpy as np
import pytest

from mbrl_jax.agents import dyna_q
from mbrl_jax.envs import dyna_maze as maze


def shortest_path_length():
  table = np.asarray(maze.NEXT_STATE)
  distance = {maze.START_STATE: 0}
  queue = collections.deque([maze.START_STATE])
  while queue:
    s = queue.popleft()
    for s_next in table[s]:
      if int(s_next) not in distance:
        distance[int(s_next)] = distance[s] + 1
        queue.append(int(s_next))
  return distance[maze.GOAL_STATE]


def run(planning_steps, runs=10):
  config = dyna_q.default_config()
  config.planning_steps = planning_steps
  go = jax.jit(jax.vmap(dyna_q.make_run(config)))
  return np.asarray(go(jax.random.split(jax.random.PRNGKey(0), runs)))


def test_maze_layout_matches_the_book():
  assert shortest_path_length() == 14
  assert maze.NUM_STATES == 54 and len(maze.WALLS) == 7


def test_planning_reaches_the_short_path_in_fewer_episodes():
  shortest = shortest_path_length()
  no_planning, planning = run(0), run(10)
  # Episodes (mean over runs) until the first one within 1.5x the shortest path.
  def first_short(lengths):
    return np.mean([np.argmax(row <= 1.5 * shortest) for row in lengths])
  assert first_short(planning) < first_short(no_planning) / 2
  assert planning[:, 1].mean() < no_planning[:, 1].mean() / 3  # the second episode
  # Late episodes: close to the shortest path (epsilon-greedy adds a few steps).
  for lengths in (no_planning, planning):
    late = lengths[:, -10:].mean()
    assert shortest <= late < 1.4 * shortest, late


def test_bad_config():
  config = dyna_q.default_config()
  config.epsilon = 1.5
  with pytest.raises(ValueError, match='epsilon'):
    dyna_q.make_run(config)

"""Dyna-Q on the Dyna maze: planning finds the short path in fewer episodes, and
late episodes are close to the shortest path (found here by breadth-first search)."""

import collections

import jax
import numpy as np
import pytest

from mbrl_jax.tabular import dyna_q
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
    return float(np.mean(dyna_q.first_episode_within(lengths, int(1.5 * shortest))))
  assert first_short(planning) < first_short(no_planning) / 2
  assert planning[:, 1].mean() < no_planning[:, 1].mean() / 3  # the second episode
  # Late episodes: close to the shortest path (epsilon-greedy adds a few steps).
  for lengths in (no_planning, planning):
    late = lengths[:, -10:].mean()
    assert shortest <= late < 1.4 * shortest, late


def test_first_episode_within_tells_never_from_the_first_episode():
  """Hand rows: short at episode 1; never short; never finished (the run hit
  max_steps, lengths stay 0); short at once. Never -> num_episodes (3), not 0."""
  lengths = np.array([[30, 20, 14], [30, 30, 30], [0, 0, 0], [14, 40, 0]])
  np.testing.assert_array_equal(dyna_q.first_episode_within(lengths, 21), [1, 3, 3, 0])


def test_a_run_cut_off_before_any_episode_ends_never_finds_the_short_path():
  """13 real steps are fewer than the shortest path (14), so no episode can end and
  none may count as short (argmax over the all-zero lengths said 0)."""
  config = dyna_q.default_config()
  config.update(dict(planning_steps=5, num_episodes=3, max_steps=13))
  lengths = np.asarray(jax.jit(jax.vmap(dyna_q.make_run(config)))(
      jax.random.split(jax.random.PRNGKey(0), 4)))
  np.testing.assert_array_equal(lengths, 0)
  np.testing.assert_array_equal(dyna_q.first_episode_within(lengths, 21), [3, 3, 3, 3])


def test_bad_config():
  config = dyna_q.default_config()
  config.epsilon = 1.5
  with pytest.raises(ValueError, match='epsilon'):
    dyna_q.make_run(config)

"""The Dyna maze of Sutton & Barto (2018), Figure 8.2: a tabular task.

6 x 9 grid; start (row 2, col 0), goal (0, 8); walls at (1..3, 2), (4, 5) and
(0..2, 7). Actions up, down, left, right; a move into a wall or off the grid
leaves the agent in place. Reward 1 on reaching the goal (the episode ends and
the agent returns to the start), 0 otherwise. The shortest path takes 14 steps.
"""

import jax.numpy as jnp
import numpy as np

ROWS, COLS = 6, 9
START, GOAL = (2, 0), (0, 8)
WALLS = ((1, 2), (2, 2), (3, 2), (4, 5), (0, 7), (1, 7), (2, 7))
MOVES = np.array([(-1, 0), (1, 0), (0, -1), (0, 1)])  # up, down, left, right
NUM_STATES, NUM_ACTIONS = ROWS * COLS, len(MOVES)


def _transition_table() -> np.ndarray:
  """next_state[s, a] for every cell and action."""
  blocked = np.zeros((ROWS, COLS), bool)
  for r, c in WALLS:
    blocked[r, c] = True
  table = np.zeros((NUM_STATES, NUM_ACTIONS), np.int32)
  for r in range(ROWS):
    for c in range(COLS):
      for a, (dr, dc) in enumerate(MOVES):
        nr, nc = r + dr, c + dc
        if not (0 <= nr < ROWS and 0 <= nc < COLS) or blocked[nr, nc]:
          nr, nc = r, c
        table[r * COLS + c, a] = nr * COLS + nc
  return table


NEXT_STATE = jnp.asarray(_transition_table())
START_STATE = START[0] * COLS + START[1]
GOAL_STATE = GOAL[0] * COLS + GOAL[1]


def step(state, action):
  """(next_state, reward, done) of one move; the caller restarts done episodes."""
  next_state = NEXT_STATE[state, action]
  done = next_state == GOAL_STATE
  return next_state, done.astype(jnp.float32), done

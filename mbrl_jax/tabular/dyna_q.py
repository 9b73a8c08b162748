"""Tabular Dyna-Q (Sutton 1990; Sutton & Barto 2018, section 8.2) on the Dyna maze.

Each real step: an epsilon-greedy action (ties broken at random), one Q-learning
update, the deterministic tabular model remembers (s, a) -> (s', r), then
`planning_steps` Q-learning updates on (s, a) pairs drawn uniformly from those
seen so far, replayed through the model. One run is a jitted while-loop over real
steps until `num_episodes` episodes have ended; runs over seeds are a vmap.
`first_episode_within` reads off when a run first found a short path.
"""

import jax
import jax.numpy as jnp
import ml_collections

from mbrl_jax.core.checks import check
from mbrl_jax.envs import dyna_maze as maze


def default_config() -> ml_collections.ConfigDict:
  """The book's settings."""
  config = ml_collections.ConfigDict()
  config.alpha = 0.1
  config.epsilon = 0.1
  config.discount = 0.95
  config.planning_steps = 5
  config.num_episodes = 50
  config.max_steps = 100_000   # a cap on real steps per run
  return config


def validate(config):
  check(0 < config.alpha <= 1 and 0 <= config.epsilon <= 1 and 0 <= config.discount <= 1,
        f'need 0 < alpha <= 1 and epsilon, discount in [0, 1]; got alpha={config.alpha}, '
        f'epsilon={config.epsilon}, discount={config.discount}.')
  for name in ('planning_steps',):
    check(isinstance(config[name], int) and config[name] >= 0,
          f'config.{name} must be an integer >= 0, got {config[name]!r}.')
  for name in ('num_episodes', 'max_steps'):
    check(isinstance(config[name], int) and config[name] >= 1,
          f'config.{name} must be an integer >= 1, got {config[name]!r}.')


def make_run(config: ml_collections.ConfigDict):
  """run(key) -> steps of each of the `num_episodes` episodes [num_episodes]."""
  validate(config)
  num_s, num_a = maze.NUM_STATES, maze.NUM_ACTIONS

  def q_update(q, s, a, r, s_next, done):
    target = r + config.discount * (1.0 - done) * q[s_next].max()
    return q.at[s, a].add(config.alpha * (target - q[s, a]))

  def greedy(q_row, key):
    best = q_row == q_row.max()  # ties at random
    return jax.random.categorical(key, jnp.where(best, 0.0, -jnp.inf))

  def plan(carry, key):
    q, model_next, model_reward, seen = carry
    pair = jax.random.categorical(key, jnp.where(seen.ravel(), 0.0, -jnp.inf))
    s, a = pair // num_a, pair % num_a
    s_next = model_next[s, a]
    q = q_update(q, s, a, model_reward[s, a], s_next, (s_next == maze.GOAL_STATE) * 1.0)
    return (q, model_next, model_reward, seen), None

  def real_step(carry):
    q, model_next, model_reward, seen, s, t, episode, steps, lengths, key = carry
    key, explore_key, random_key, greedy_key, plan_key = jax.random.split(key, 5)
    explore = jax.random.uniform(explore_key) < config.epsilon
    a = jnp.where(explore, jax.random.randint(random_key, (), 0, num_a),
                  greedy(q[s], greedy_key))
    s_next, r, done = maze.step(s, a)
    q = q_update(q, s, a, r, s_next, done * 1.0)
    model_next = model_next.at[s, a].set(s_next)
    model_reward = model_reward.at[s, a].set(r)
    seen = seen.at[s, a].set(True)
    (q, _, _, _), _ = jax.lax.scan(plan, (q, model_next, model_reward, seen),
                                   jax.random.split(plan_key, config.planning_steps))
    steps = steps + 1
    lengths = jnp.where(done, lengths.at[episode].set(steps), lengths)
    return (q, model_next, model_reward, seen, jnp.where(done, maze.START_STATE, s_next),
            t + 1, episode + done, jnp.where(done, 0, steps), lengths, key)

  def run(key):
    carry = (jnp.zeros((num_s, num_a)), jnp.zeros((num_s, num_a), jnp.int32),
             jnp.zeros((num_s, num_a)), jnp.zeros((num_s, num_a), bool),
             jnp.asarray(maze.START_STATE), 0, 0, 0,
             jnp.zeros(config.num_episodes, jnp.int32), key)
    going = lambda c: (c[6] < config.num_episodes) & (c[5] < config.max_steps)
    return jax.lax.while_loop(going, real_step, carry)[8]

  return run


def first_episode_within(lengths, max_steps: int):
  """The index of each run's first episode that ended within `max_steps` steps.

  lengths: [..., num_episodes] steps per episode as `run` returns them (0 for an
  episode that never ended because the run hit config.max_steps). A run with no such
  episode gets num_episodes, i.e. "not within the episodes run": a lower bound on
  when it would happen, so means over runs stay comparable (argmax alone would say 0,
  as if the first episode were short).
  """
  lengths = jnp.asarray(lengths)
  short = (lengths >= 1) & (lengths <= max_steps)
  return jnp.where(short.any(-1), jnp.argmax(short, -1), lengths.shape[-1])

"""Policy evaluation on fresh episodes, compiled as one unroll of a batch of envs."""

from typing import Any, Callable

import jax

from mbrl_jax.data import acting
from mbrl_jax import data


def make_evaluator(env, make_policy: Callable, num_episodes: int
                   ) -> Callable[[Any, jax.Array], jax.Array]:
  """evaluate(params, key) -> mean undiscounted return of `num_episodes` episodes.

  Each episode runs from a fresh reset until its first `done` (termination or the
  env's episode limit); the deterministic policy is used.
  """
  def evaluate(params, key):
    reset_key, key = jax.random.split(key)
    state = data.reset(env, reset_key, num_episodes)
    policy = acting.per_env(make_policy(params, True))
    _, experience = acting.unroll(env, state, policy, key, data.episode_decisions(env))
    return acting.first_episode_return(experience).mean()

  return evaluate

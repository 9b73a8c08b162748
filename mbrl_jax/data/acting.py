"""Acting in a batch of real envs: the one primitive that every loop stepping an env
is written with (data collection, SAC, MBPO, MPC, the pathwise agent, evaluation).

`env_step` steps N envs with actions [N, act]; `unroll` scans a batch policy
(obs [N, obs], key) -> actions [N, act] over T steps. Both return `Experience`:
the `Transition`s (what a buffer stores and a model is fitted to) and, beside
them, each episode's running return (what the logs report), which no model
transition has. Unrolled arrays are time-major, [T, N, ...].

The envs should come from `mbrl_jax.envs.make` (episode limit and auto-reset): a
finished episode restarts from a fresh random state within the same scan, and
its transition keeps the true next observation.

No non-finite action reaches an env: an action with a NaN or inf entry is replaced
by zeros before the step, and the step is flagged in `Experience.nonfinite` (as is
one whose next observation is not finite). `episode_metrics` counts them as
`nonfinite_steps`, and the runner refuses a chunk that has any
(`agents.base.refuse_nonfinite`), so none of them is learned from.
"""

from typing import Callable, Tuple

import flax
import jax
import jax.numpy as jnp
from brax.envs.base import Env, State

from mbrl_jax.core import returns
from mbrl_jax.core.types import Transition

BatchPolicy = Callable[[jax.Array, jax.Array], jax.Array]  # (obs [N, obs], key) -> [N, act]


@flax.struct.dataclass
class Experience:
  """Real env steps: leaves [N, ...], or [T, N, ...] from `unroll`."""
  transition: Transition
  episode_return: jax.Array  # the episode's return so far, this step included
  nonfinite: jax.Array       # 1.0 where the action or the next observation had a NaN/inf


def _all_finite_per_env(x: jax.Array) -> jax.Array:
  return jnp.all(jnp.isfinite(x.reshape(x.shape[0], -1)), axis=1)


def env_step(env: Env, env_state: State, action: jax.Array) -> Tuple[State, Experience]:
  """Steps every env of the batch with its action; (next state, experience). An
  action with a NaN or inf entry is replaced by zeros and the step flagged."""
  finite = _all_finite_per_env(action)
  action = jnp.where(finite[:, None], action, 0.0)
  next_state = jax.vmap(env.step)(env_state, action)
  info = next_state.info
  transition = Transition(
      obs=env_state.obs, action=action, reward=next_state.reward,
      next_obs=info.get('next_obs', next_state.obs), done=next_state.done,
      truncation=info.get('truncation', jnp.zeros_like(next_state.done)))
  finite = finite & _all_finite_per_env(transition.next_obs)
  return next_state, Experience(transition, info['episode_metrics']['sum_reward'],
                                1.0 - finite.astype(jnp.float32))


def unroll(env: Env, env_state: State, policy: BatchPolicy, key: jax.Array,
           num_steps: int) -> Tuple[State, Experience]:
  """`num_steps` steps of the batch under `policy`, one key per step; (final state,
  experience [num_steps, N]). Differentiable in whatever the policy closes over."""
  def one(state, step_key):
    return env_step(env, state, policy(state.obs, step_key))

  return jax.lax.scan(one, env_state, jax.random.split(key, num_steps))


def per_env(policy: Callable) -> BatchPolicy:
  """The batch policy of a single-observation policy (obs [obs], key) -> [act]: the
  step's key is split into one key per env."""
  def batch(obs, key):
    return jax.vmap(policy)(obs, jax.random.split(key, obs.shape[0]))
  return batch


def uniform_while(policy: BatchPolicy, explore: jax.Array, low, high) -> BatchPolicy:
  """`policy`, or uniform random actions in [low, high] where `explore` (a traced
  bool) holds: the random phase of an agent. Both are computed and one is kept
  with a select (under the runner's vmap over seeds a cond would run both)."""
  def batch(obs, key):
    act_key, random_key = jax.random.split(key)
    learned = policy(obs, act_key)
    random = jax.random.uniform(random_key, learned.shape, minval=low, maxval=high)
    return jnp.where(explore, random, learned)
  return batch


def flatten_time(tree):
  """[T, N, ...] leaves -> [T * N, ...] (e.g. before adding to a buffer)."""
  return jax.tree.map(lambda x: x.reshape((-1,) + x.shape[2:]), tree)


def episode_metrics(experience: Experience) -> dict:
  """Mean return of the episodes that ended within `experience` (NaN if none), their
  count, the mean reward per step, and the steps flagged non-finite."""
  done, tr = experience.transition.done, experience.transition
  episodes = done.sum()
  mean_return = jnp.where(episodes > 0, (experience.episode_return * done).sum() / episodes,
                          jnp.nan)
  return {'episode_return': mean_return, 'episodes': episodes, 'reward': tr.reward.mean(),
          'nonfinite_steps': experience.nonfinite.sum()}


def first_episode_return(experience: Experience) -> jax.Array:
  """The undiscounted return [N] of each env's first episode within `experience`
  [T, N] (from a reset: the steps up to and including its first `done`)."""
  tr = experience.transition
  alive = returns.alive_mask(jnp.cumsum(tr.done, axis=0).clip(0, 1))
  return (alive * tr.reward).sum(0)

"""SAC's loop: every real step of every env, then `updates_per_step` updates on
replayed batches, all inside the compiled `train_chunk`."""

from typing import Any

import flax
import jax
import jax.numpy as jnp
import ml_collections

from mbrl_jax.data import acting
from mbrl_jax import data
from mbrl_jax.agents.base import Agent
from mbrl_jax.agents.sac import losses
from mbrl_jax.agents.sac.config import validate
from mbrl_jax.agents.sac.learner import Learner, LearnerState, SACOptState, SACParams, make_learner
from mbrl_jax.data import replay
from mbrl_jax.core.guards import keep_if


@flax.struct.dataclass
class TrainState:
  params: SACParams
  sac_opt: SACOptState
  env_state: Any
  buffer: replay.BufferState
  key: jax.Array
  env_steps: jax.Array
  skipped_updates: jax.Array  # updates skipped for a non-finite loss or gradient


def act(env, learner: Learner, params: SACParams, env_state, key, explore, low, high):
  """One step of every env: uniform random actions while `explore`, else the policy's."""
  policy = acting.per_env(learner.make_policy(params, deterministic=False))
  action = acting.uniform_while(policy, explore, low, high)(env_state.obs, key)
  return acting.env_step(env, env_state, action)


def critic_bound(config, action_size: int, buffer: replay.BufferState, params: SACParams,
                 q_max) -> dict:
  """`q_bound`, the soft Q-value no policy can exceed given the largest real reward in
  the buffer (losses.soft_q_bound), and `q_above_bound`, 1.0 when the critics' mean
  batch maximum `q_max` is above it."""
  rewards = replay.items(buffer).reward
  max_reward = jnp.max(jnp.where(replay.valid_mask(buffer), rewards, -jnp.inf))
  bound = losses.soft_q_bound(max_reward, jnp.exp(params.log_alpha), action_size,
                              config.discount, config.reward_scaling)
  return {'q_bound': bound, 'q_above_bound': (q_max > bound).astype(jnp.float32)}


def make(config: ml_collections.ConfigDict, env) -> Agent:
  validate(config)
  learner = make_learner(config, env)
  buffer = replay.make_replay_buffer(config.buffer_capacity, config.batch_size)
  low, high = (jnp.asarray(b) for b in data.action_bounds(env))
  per_env = config.steps_per_chunk // config.num_envs

  def init(key):
    learner_key, env_key, key = jax.random.split(key, 3)
    learner_state = learner.init(learner_key)
    return TrainState(params=learner_state.params, sac_opt=learner_state.opt,
                      env_state=data.reset(env, env_key, config.num_envs),
                      buffer=buffer.init(data.example_transition(env)), key=key,
                      env_steps=jnp.zeros((), jnp.int32),
                      skipped_updates=jnp.zeros((), jnp.int32))

  def env_step(state: TrainState, _):
    key, act_key, update_key = jax.random.split(state.key, 3)
    env_state, experience = act(env, learner, state.params, state.env_state, act_key,
                                state.env_steps < config.random_steps, low, high)
    state = state.replace(env_state=env_state,
                          buffer=buffer.add(state.buffer, experience.transition),
                          key=key, env_steps=state.env_steps + config.num_envs)
    # Learn once the random phase has filled a batch: updates computed before then
    # are discarded (under the runner's vmap a cond would compute them anyway).
    learning = state.env_steps >= max(config.random_steps, config.batch_size)

    def update(learner_state, k):
      sample_key, step_key = jax.random.split(k)
      batch = buffer.sample(state.buffer, sample_key).experience
      return learner.update(learner_state, batch, step_key)

    updated, losses = jax.lax.scan(
        update, LearnerState(state.params, state.sac_opt),
        jax.random.split(update_key, config.updates_per_step * config.num_envs))
    skipped = jnp.where(learning, losses.pop('skipped_updates').sum(), 0.0)
    state = state.replace(params=keep_if(learning, updated.params, state.params),
                          sac_opt=keep_if(learning, updated.opt, state.sac_opt),
                          skipped_updates=state.skipped_updates + skipped.astype(jnp.int32))
    return state, (experience, jax.tree.map(lambda x: x[-1], losses), skipped)

  def train_chunk(state: TrainState):
    state, (experience, losses, skipped) = jax.lax.scan(env_step, state, None, length=per_env)
    metrics = acting.episode_metrics(experience)
    metrics.update({k: jnp.nanmean(v) for k, v in losses.items()})
    metrics.update(critic_bound(config, env.action_size, state.buffer, state.params,
                                metrics['q_max']))
    metrics['skipped_updates'] = skipped.sum()  # in this chunk; the state keeps the total
    return state, metrics

  return Agent(init=init, train_chunk=train_chunk, make_policy=learner.make_policy,
               steps_per_chunk=config.steps_per_chunk)

"""Model-predictive control: replan at every step, execute the first action.

This first version plans with the task's true dynamics and reward (the JAX-native
tasks expose both), using random shooting; learned models and the lectures'
versions 0.5 / 1.0 / 1.5 / PETS build on it. Every real transition goes into a
replay buffer in the TrainState, the dataset the model-learning versions fit.
"""

from typing import Any

import flax
import jax
import jax.numpy as jnp
import ml_collections

from mbrl_jax import data
from mbrl_jax.agents.base import Agent, check, check_choice, check_positive
from mbrl_jax.data import replay
from mbrl_jax.envs.base import Task
from mbrl_jax.planners import random_shooting, rollout_return

MODELS = ('true',)
PLANNERS = ('random_shooting',)


def default_config() -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.model = 'true'              # the task's own dynamics and reward
  config.planner = 'random_shooting'
  config.horizon = 30                # planning horizon, steps
  config.population = 1000           # action sequences scored per plan
  config.num_envs = 1                # real envs stepped in parallel (per seed)
  config.steps_per_chunk = 200       # real env steps (all envs) in one train_chunk
  config.buffer_capacity = 100_000   # real transitions kept
  return config


@flax.struct.dataclass
class TrainState:
  params: Any                   # what the policy needs; nothing for the true model
  env_state: Any
  buffer: replay.BufferState
  key: jax.Array
  env_steps: jax.Array


def make(config: ml_collections.ConfigDict, env) -> Agent:
  check_choice(config, 'model', MODELS)
  check_choice(config, 'planner', PLANNERS)
  check_positive(config, 'horizon', 'population', 'num_envs', 'steps_per_chunk',
                 'buffer_capacity')
  check(config.steps_per_chunk % config.num_envs == 0,
        f'config.steps_per_chunk ({config.steps_per_chunk}) must be a multiple of '
        f'config.num_envs ({config.num_envs}).')
  check(config.buffer_capacity >= config.steps_per_chunk,
        f'config.buffer_capacity must hold one chunk of transitions '
        f'({config.steps_per_chunk}), got {config.buffer_capacity}.')
  task = env.unwrapped
  check(isinstance(task, Task), f"mpc with model='true' needs a JAX-native task with known "
        f"dynamics, not {type(task).__name__}.")
  low, high = (jnp.asarray(b) for b in data.action_bounds(env))
  buffer = replay.make_replay_buffer(config.buffer_capacity, sample_batch_size=1)

  def make_policy(params, deterministic: bool = True):
    """Plans from scratch at every call; the planner's sampling uses `key` either way."""
    del params, deterministic

    def policy(obs, key):
      objective = lambda actions: rollout_return(task.dynamics, task.reward_fn, obs, actions,
                                                 task.termination_fn)
      plan, _ = random_shooting(objective, key, low, high, config.horizon, config.population)
      return plan[0]

    return policy

  def init(key):
    reset_key, key = jax.random.split(key)
    env_state = data.reset(env, reset_key, config.num_envs)
    return TrainState(params={}, env_state=env_state,
                      buffer=buffer.init(data.example_transition(env)), key=key,
                      env_steps=jnp.zeros((), jnp.int32))

  def train_chunk(state: TrainState):
    key, collect_key = jax.random.split(state.key)
    policy = make_policy(state.params, deterministic=False)
    env_state, tr = data.collect(env, lambda params, obs, k: policy(obs, k), state.params,
                                 state.env_state, collect_key,
                                 config.steps_per_chunk // config.num_envs)
    flat = jax.tree.map(lambda x: x.reshape((-1,) + x.shape[2:]), tr)
    episodes = tr.done.sum()
    metrics = {
        'episode_return': jnp.where(episodes > 0,
                                    (tr.episode_return * tr.done).sum() / episodes, jnp.nan),
        'episodes': episodes,
        'reward': tr.reward.mean(),
    }
    state = state.replace(env_state=env_state, buffer=buffer.add(state.buffer, flat), key=key,
                          env_steps=state.env_steps + config.steps_per_chunk)
    return state, metrics

  return Agent(init=init, train_chunk=train_chunk, make_policy=make_policy,
               steps_per_chunk=config.steps_per_chunk)

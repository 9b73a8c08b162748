"""The loop that model-based agents share, as in the lectures: collect real steps
with the current controller, refit the dynamics model on every real step so far,
then improve the controller with the model, once the random phase is over.

An agent on this skeleton supplies `collect(state, key) -> (state, experience)`
(its way of acting: a policy's, built by `collect_with`, or MPC's planner), its model
`Trainer` and buffer, and, if it learns a policy, `improve(state, key) -> (state,
stats)`; `chunk` runs the three phases inside one compiled chunk. The random phase
covers the chunks that start before `random_steps` real steps. The model is
refitted after every chunk from the end of the random phase on (or, with
`fit_once`, only after the chunk that ends it). Before that the improvement is
computed and discarded with a select: under the runner's vmap over seeds a `cond`
would run it anyway.

The TrainState needs the fields `params.model` (a ModelState, or {} without a
model), `model_opt`, `env_state`, `env_steps`, `buffer`, `key`, and with
`improve`, `skipped_updates`.

(Not an agent itself: the registry skips it, as it has no `make`.)
"""

import functools
from typing import Any, Callable, Dict, NamedTuple, Optional

import flax
import jax
import jax.numpy as jnp

from mbrl_jax.data import acting
from mbrl_jax import models
from mbrl_jax.policies import tanh_gaussian
from mbrl_jax.agents.base import Agent
from mbrl_jax.core.checks import check
from mbrl_jax.data import replay
from mbrl_jax.envs.base import pure_functions
from mbrl_jax.core.guards import keep_if


# The model of every agent's 'tiny' size: seconds on a CPU, for tests and smoke runs.
TINY_MODEL = dict(num_members=2, num_elites=2, width=8, num_layers=2, batch_size=8,
                  max_epochs=2)


@flax.struct.dataclass
class Params:
  """A policy learner's params (pathwise, model_pg): what make_policy and a resume need."""
  policy: Any
  value: Any          # the critic, {} without one
  target_value: Any   # its Polyak-averaged copy, {} where the agent has none
  model: Any          # the ModelState, {} without a model


@flax.struct.dataclass
class TrainState:
  """The state of a policy learner on this skeleton (pathwise, model_pg)."""
  params: Params
  policy_opt: Any
  value_opt: Any              # {} without a value function
  model_opt: Any              # {} without a model
  env_state: Any
  buffer: Any                 # replay.BufferState, or () without a model
  key: jax.Array
  env_steps: jax.Array
  skipped_updates: jax.Array  # policy and value steps skipped for a non-finite gradient


def model_metrics(fit_metrics: Dict[str, jax.Array], model, fitted=True
                  ) -> Dict[str, jax.Array]:
  """The model's share of a chunk's metrics: the elites' mean holdout MSE, the
  epochs of the fit and the minibatch steps it skipped for a non-finite loss; NaN
  and 0 in a chunk that did not fit (`fitted`, traced, false). Every agent with a
  model reports these."""
  elite_mse = fit_metrics['holdout_mse'][model.elites].mean()
  return {'model_holdout_mse': jnp.where(fitted, elite_mse, jnp.nan),
          'model_epochs': jnp.where(fitted, fit_metrics['epochs'], 0),
          'model_skipped_updates': jnp.where(fitted, fit_metrics['skipped_updates'],
                                             0).astype(jnp.float32)}


class ModelParts(NamedTuple):
  """What an agent on this loop learns its model with, and imagines with it."""
  ensemble: models.Ensemble
  trainer: models.Trainer
  buffer: Any                       # the replay buffer of real transitions
  reward_fn: Optional[Callable]     # the task's; None where the model learns the reward
  termination_fn: Optional[Callable]


def model_parts(config, env, sample_batch_size: int) -> ModelParts:
  """The ensemble of `config.model`, its trainer, a buffer of `config.buffer_capacity`
  real transitions sampled `sample_batch_size` at a time, and the task's reward and
  termination functions (None where the model learns them: `config.model.learn_reward`,
  `learn_termination`)."""
  ensemble = models.Ensemble(config.model, env.observation_size, env.action_size)
  reward_fn, termination_fn = pure_functions(env)
  return ModelParts(ensemble, models.Trainer(ensemble),
                    replay.make_replay_buffer(config.buffer_capacity, sample_batch_size),
                    None if config.model.learn_reward else reward_fn,
                    None if config.model.learn_termination else termination_fn)


def validate(config, env, agent: str, starts: Optional[str] = None,
             learned_reward_ok: bool = True, starts_from_buffer: bool = False) -> None:
  """The config checks every agent on this loop shares: whole steps per env in a
  chunk, a buffer that holds a chunk, `config[starts]` (the imagined start states
  or particles; None without a model) a multiple of the elites for TS propagation
  and, where they are drawn from the buffer (`starts_from_buffer`), no more than it
  holds, and a reward function: the task's, or (`learned_reward_ok`) the model's head."""
  check(config.steps_per_chunk % config.num_envs == 0,
        f'config.steps_per_chunk ({config.steps_per_chunk}) must be a multiple of '
        f'config.num_envs ({config.num_envs}).')
  check(config.buffer_capacity >= config.steps_per_chunk,
        f'config.buffer_capacity must hold one chunk of transitions '
        f'({config.steps_per_chunk}), got {config.buffer_capacity}.')
  if starts is not None:
    elites = config.model.num_elites
    check(config.propagation == 'expectation' or config[starts] % elites == 0,
          f'config.{starts} ({config[starts]}) must be a multiple of '
          f'config.model.num_elites ({elites}) for {config.propagation!r} propagation.')
    check(not starts_from_buffer or config[starts] <= config.buffer_capacity,
          f'config.{starts} ({config[starts]}) must not exceed config.buffer_capacity '
          f'({config.buffer_capacity}): the start states are drawn from the buffer.')
  or_learned = ' or config.model.learn_reward' if learned_reward_ok else ''
  check(pure_functions(env)[0] is not None or (learned_reward_ok and config.model.learn_reward),
        f'{agent} needs the task\'s reward function (a JAX-native task or a DM Control '
        f'task whose reward reads only the observation){or_learned}; '
        f'{type(env.unwrapped).__name__} has none.')


def collect_with(env, policy_of: Callable[[Any], acting.BatchPolicy], num_steps: int,
                 random_steps: int, low, high) -> Callable:
  """collect(state, key): `num_steps` steps of every real env under the batch policy
  `policy_of(state)`, or uniform random actions in [low, high] in a chunk that
  starts before `random_steps` real steps (all envs)."""
  def collect(state, key):
    explore = state.env_steps < random_steps
    policy = acting.uniform_while(policy_of(state), explore, low, high)
    env_state, experience = acting.unroll(env, state.env_state, policy, key, num_steps)
    return state.replace(env_state=env_state,
                         env_steps=state.env_steps + num_steps * env_state.obs.shape[0]
                         ), experience
  return collect


def refit(state, buffer, trainer: Optional[models.Trainer], transitions, key, enabled=True):
  """Adds transitions (leaves [T, N, ...]) to the buffer and, where `enabled`
  (traced), refits the model on all of it. Returns (state, the model's metrics;
  none without a trainer)."""
  state = state.replace(buffer=buffer.add(state.buffer, acting.flatten_time(transitions)))
  if trainer is None:
    return state, {}
  fitted, fit_metrics = trainer.fit(
      models.TrainerState(state.params.model, state.model_opt), replay.items(state.buffer),
      replay.valid_mask(state.buffer), key, enabled)
  state = state.replace(params=state.params.replace(model=fitted.model),
                        model_opt=fitted.opt_state)
  return state, model_metrics(fit_metrics, fitted.model, enabled)


def chunk(state, collect: Callable, buffer, trainer: Optional[models.Trainer],
          random_steps: int, improve: Optional[Callable] = None, fit_once: bool = False):
  """One chunk of the loop: (state, metrics).

  metrics: the real episodes', the model's, and (past the random phase; NaN and 0
  before) the scalars `improve` reported, whose `skipped_updates` is added to the
  state's count."""
  if improve is None:
    key, collect_key, fit_key = jax.random.split(state.key, 3)
  else:
    key, collect_key, fit_key, improve_key = jax.random.split(state.key, 4)
  steps_before = state.env_steps
  state, experience = collect(state, collect_key)
  learning = state.env_steps >= random_steps
  fit_now = learning & (steps_before < random_steps) if fit_once else learning
  state, fit_metrics = refit(state, buffer, trainer, experience.transition, fit_key, fit_now)
  metrics = {**acting.episode_metrics(experience), **fit_metrics}
  if improve is not None:
    improved, stats = improve(state, improve_key)
    state = keep_if(learning, improved, state)
    skipped = jnp.where(learning, stats.pop('skipped_updates'), 0.0)
    metrics.update({k: jnp.where(learning, v, jnp.nan) for k, v in stats.items()})
    metrics['skipped_updates'] = skipped
    state = state.replace(skipped_updates=state.skipped_updates + skipped.astype(jnp.int32))
  return state.replace(key=key), metrics


def policy_learner(config, env, policy: tanh_gaussian.TanhGaussianPolicy, init: Callable,
                   improve: Callable, buffer, trainer: models.Trainer) -> Agent:
  """The Agent of a policy learner on this loop (pathwise through a model, model_pg):
  it collects with samples of `policy` (params.policy) and runs `chunk` with
  `improve`; its make_policy is the policy's mode (deterministic) or a sample."""
  sample = lambda state: functools.partial(policy.sample, state.params.policy)
  collect = collect_with(env, sample, config.steps_per_chunk // config.num_envs,
                         config.random_steps, policy.low, policy.high)

  def train_chunk(state):
    return chunk(state, collect, buffer, trainer, config.random_steps, improve)

  return Agent(init=init, train_chunk=train_chunk, make_policy=tanh_gaussian.make_policy_fn(policy),
               steps_per_chunk=config.steps_per_chunk)

"""Pathwise's loop: `make` picks the builder of `config.dynamics`, which supplies only
its window (through the env's own step, or through the learned ensemble on
model_based's loop); the policy and critic steps, the scan of updates, init and
the metrics are shared by both."""

import functools
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import ml_collections
import optax

from mbrl_jax import data, models
from mbrl_jax.agents import actor_critic, model_based
from mbrl_jax.agents.base import Agent
from mbrl_jax.agents.pathwise import losses
from mbrl_jax.agents.pathwise.config import validate
from mbrl_jax.core import returns
from mbrl_jax.core.guards import apply_if_finite
from mbrl_jax.data import acting
from mbrl_jax.policies import tanh_gaussian

Params, TrainState = model_based.Params, model_based.TrainState  # value: {} without a critic


class Window(NamedTuple):
  """One update's window, once differentiated."""
  loss: jax.Array
  transitions: data.Transition  # [H, N]: what the critic fits
  alive: jax.Array              # [H, N]: the critic's weights, 0 after a termination
  env_state: Any                # the real envs after the window
  experience: Any               # the window's real experience; None through a model


def make(config: ml_collections.ConfigDict, env) -> Agent:
  validate(config, env)
  build = through_model if config.dynamics == 'model' else through_env
  return build(config, env)


def through_env(config: ml_collections.ConfigDict, env) -> Agent:
  """Windows of the real envs' own differentiable step: each update rolls them
  `horizon` steps and the next window continues from the states reached; every step
  is counted."""
  nets = make_nets(config, env)
  policy = nets.policy

  def window(policy_params, value_params, env_state, key):
    env_state = jax.lax.stop_gradient(env_state)  # truncated BPTT: no gradient across windows
    act = lambda obs, k: policy.sample(policy_params, obs, k)
    final, experience = acting.unroll(env, env_state, act, key, config.horizon)
    loss = losses.window_loss(experience.transition, final.obs, critic(config, nets, value_params),
                              config.discount, config.reward_scaling)
    return loss, (final, experience)

  def differentiate(state: TrainState, window_key, start_key):
    del start_key  # the window starts where the last one ended
    p = state.params
    (loss, (env_state, experience)), grads = jax.value_and_grad(window, has_aux=True)(
        p.policy, p.value, state.env_state, window_key)
    tr = experience.transition
    return Window(loss, tr, jnp.ones_like(tr.done), env_state, experience), grads

  updates = make_updates(config, nets, differentiate,
                         config.steps_per_chunk // (config.num_envs * config.horizon))

  def train_chunk(state: TrainState):
    key, update_key = jax.random.split(state.key)
    state, experience, stats = updates(state, update_key)
    metrics = {**acting.episode_metrics(experience), **stats}
    state = state.replace(
        key=key, env_steps=state.env_steps + config.steps_per_chunk,
        skipped_updates=state.skipped_updates + stats['skipped_updates'].astype(jnp.int32))
    return state, metrics

  no_model = lambda key: ({}, {}, ())  # model, its optimizer state, buffer
  return Agent(init=make_init(config, env, nets, no_model), train_chunk=train_chunk,
               make_policy=tanh_gaussian.make_policy_fn(policy),
               steps_per_chunk=config.steps_per_chunk)


def through_model(config: ml_collections.ConfigDict, env) -> Agent:
  """Windows through the learned ensemble (`models.rollout`, reparameterized members)
  from `num_starts` states of the real buffer, `updates_per_chunk` per chunk, on
  model_based's collect-refit-improve loop; only the collected steps are counted."""
  nets = make_nets(config, env)
  policy = nets.policy
  ensemble, trainer, buffer, reward_fn, termination_fn = model_based.model_parts(
      config, env, config.num_starts)

  def window(policy_params, value_params, model, start_obs, key):
    out = models.rollout(ensemble, model, key, start_obs, config.horizon, config.propagation,
                         policy=lambda obs, k: policy.sample(policy_params, obs, k),
                         reward_fn=reward_fn, termination_fn=termination_fn)
    tr = out.transitions(time_major=True)
    loss = losses.window_loss(tr, out.obs[:, -1], critic(config, nets, value_params),
                              config.discount, config.reward_scaling)
    return loss, tr

  def differentiate(state: TrainState, window_key, start_key):
    p = state.params
    start = buffer.sample(state.buffer, start_key).experience.obs
    (loss, tr), grads = jax.value_and_grad(window, has_aux=True)(
        p.policy, p.value, p.model, start, window_key)
    return Window(loss, tr, returns.alive_mask(tr.done), state.env_state, None), grads

  updates = make_updates(config, nets, differentiate, config.updates_per_chunk)

  def improve(state: TrainState, key):
    state, _, stats = updates(state, key)
    return state, stats

  def init_model(key):
    fitted = trainer.init(key)
    return fitted.model, fitted.opt_state, buffer.init(data.example_transition(env))

  return model_based.policy_learner(config, env, policy, make_init(config, env, nets, init_model),
                                    improve, buffer, trainer)


# --- what both builders share ---------------------------------------------------------
def make_nets(config, env) -> actor_critic.ActorCritic:
  return actor_critic.actor_critic(config, env, config.value.hidden_sizes,
                                   config.value.learning_rate)


def critic(config, nets: actor_critic.ActorCritic, value_params) -> Callable:
  """obs -> V(obs) of `value_params`; zeros without a critic (`value_bootstrap` off)."""
  if config.value_bootstrap:
    return functools.partial(nets.value_apply, value_params)
  return lambda obs: jnp.zeros(obs.shape[:-1])


def critic_update(config, nets: actor_critic.ActorCritic, params: Params, value_opt,
                  window: data.Transition, weight):
  """`config.value.updates` steps towards the TD(lambda) targets of the target critic,
  then the Polyak step of the target; returns (params, value_opt, loss, skipped)."""
  targets = losses.value_targets(window, critic(config, nets, params.target_value),
                                 config.discount, config.value.lambda_, config.reward_scaling)
  value_params, value_opt, loss, skipped = actor_critic.fit_value(
      nets.value_apply, nets.value_optimizer, params.value, value_opt, window.obs, targets,
      weight, config.value.updates)
  target = optax.incremental_update(value_params, params.target_value, config.value.tau)
  return params.replace(value=value_params, target_value=target), value_opt, loss, skipped


def make_updates(config, nets: actor_critic.ActorCritic, differentiate: Callable,
                 num_updates: int) -> Callable:
  """updates(state, key) -> (state, the windows' real experience or None, metrics):
  `num_updates` policy (and critic) steps in a scan, each on the window and gradient
  of `differentiate(state, window_key, start_key) -> (Window, policy grads)`."""
  def update(state: TrainState, key):
    # Two keys whatever the dynamics: through a model the second draws the start states.
    window_key, start_key = jax.random.split(key)
    window, grads = differentiate(state, window_key, start_key)
    p = state.params
    policy_params, policy_opt, skipped, grad_norm = apply_if_finite(
        nets.policy_optimizer, p.policy, state.policy_opt, grads)
    params, value_opt, value_loss = p.replace(policy=policy_params), state.value_opt, jnp.nan
    if config.value_bootstrap:
      params, value_opt, value_loss, value_skipped = critic_update(
          config, nets, params, value_opt, window.transitions, window.alive)
      skipped = skipped + value_skipped
    state = state.replace(params=params, policy_opt=policy_opt, value_opt=value_opt,
                          env_state=window.env_state)
    return state, (window.loss, grad_norm, skipped, value_loss, window.experience)

  def updates(state: TrainState, key):
    state, (policy_losses, norms, skipped, value_losses, experience) = jax.lax.scan(
        update, state, jax.random.split(key, num_updates))
    return state, experience, summarize(policy_losses, norms, skipped, value_losses,
                                        config.value_bootstrap)
  return updates


def make_init(config, env, nets: actor_critic.ActorCritic, init_model: Callable) -> Callable:
  """init(key) -> TrainState; init_model(key) -> (model, its optimizer state, buffer)."""
  def init(key):
    policy_key, value_key, model_key, env_key, key = jax.random.split(key, 5)
    value = nets.value_init(value_key) if config.value_bootstrap else {}
    model, model_opt, buffer_state = init_model(model_key)
    params = Params(policy=nets.policy.init(policy_key), value=value, target_value=value,
                    model=model)
    return TrainState(params=params, policy_opt=nets.policy_optimizer.init(params.policy),
                      value_opt=nets.value_optimizer.init(value) if config.value_bootstrap else {},
                      model_opt=model_opt, env_state=data.reset(env, env_key, config.num_envs),
                      buffer=buffer_state, key=key, env_steps=jnp.zeros((), jnp.int32),
                      skipped_updates=jnp.zeros((), jnp.int32))
  return init


def summarize(policy_losses, grad_norms, skipped, value_losses, with_value: bool):
  """A chunk's update metrics: the mean policy loss, the mean of the finite gradient
  norms (NaN if none is), the skipped steps, and with a critic its mean loss."""
  finite = jnp.isfinite(grad_norms)
  mean_norm = jnp.where(finite, grad_norms, 0.0).sum() / jnp.maximum(finite.sum(), 1)
  metrics = {'policy_loss': policy_losses.mean(),
             'grad_norm': jnp.where(finite.any(), mean_norm, jnp.nan),
             'skipped_updates': skipped.sum()}
  if with_value:
    metrics['value_loss'] = value_losses.mean()
  return metrics

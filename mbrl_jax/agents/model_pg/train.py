"""model_pg's loop: each chunk collects real steps and refits the ensemble
(model_based's loop); then `updates_per_chunk` times it imagines a batch from
buffer states (`imagine`) and improves the policy and the value on it with the
algorithm's update, which `make` picks once from UPDATES."""

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import ml_collections

from mbrl_jax import data, estimators, models
from mbrl_jax.core import returns
from mbrl_jax.agents import actor_critic, model_based
from mbrl_jax.agents.base import Agent
from mbrl_jax.agents.model_pg import losses
from mbrl_jax.agents.model_pg.config import validate
from mbrl_jax.core.guards import apply_if_finite

Params, TrainState = model_based.Params, model_based.TrainState  # target_value: {}


class Imagined(NamedTuple):
  """Imagined windows through the model, time-major [H, N]."""
  obs: jax.Array
  action: jax.Array
  reward: jax.Array        # scaled by config.reward_scaling
  done: jax.Array          # cumulative, as models.rollout gives them
  next_obs: jax.Array
  old_log_prob: jax.Array  # of the behaviour policy that imagined them
  alive: jax.Array         # 1.0 up to and including the terminating step


class Samples(NamedTuple):
  """PPO's imagined steps flattened to [H * N] (or one minibatch of them)."""
  obs: jax.Array
  action: jax.Array
  old_log_prob: jax.Array
  advantage: jax.Array
  target: jax.Array        # the value's GAE(lambda) return
  weight: jax.Array        # the alive mask


class StepStats(NamedTuple):
  """What one policy step and its value steps report."""
  policy_loss: jax.Array
  value_loss: jax.Array    # the last value step's
  grad_norm: jax.Array     # the policy gradient's
  skipped: jax.Array       # policy and value steps skipped for a non-finite gradient


# (state, batch, key) -> (state, stats): one algorithm's improvement on one batch.
Update = Callable[[TrainState, Imagined, jax.Array], tuple[TrainState, dict]]


def imagine(config, policy, parts: model_based.ModelParts, params: Params, start_obs,
            key) -> Imagined:
  """`horizon`-step windows from start_obs [N], actions sampled from the policy,
  with no gradient through them."""
  out = models.rollout(parts.ensemble, params.model, key, start_obs, config.horizon,
                       config.propagation,
                       policy=lambda obs, k: policy.sample(params.policy, obs, k),
                       reward_fn=parts.reward_fn, termination_fn=parts.termination_fn)
  tr = jax.lax.stop_gradient(out.transitions(time_major=True))
  return Imagined(obs=tr.obs, action=tr.action, reward=config.reward_scaling * tr.reward,
                  done=tr.done, next_obs=tr.next_obs,
                  old_log_prob=policy.log_prob(params.policy, tr.obs, tr.action),
                  alive=returns.alive_mask(tr.done))


def actor_critic_step(nets: actor_critic.ActorCritic, state: TrainState, policy_loss, obs,
                      targets, weight, value_steps: int):
  """One guarded step of the policy on policy_loss(policy params), then `value_steps`
  guarded steps of V(s) towards `targets` (actor_critic.fit_value: the regression of
  losses.value_loss)."""
  p = state.params
  loss, grads = jax.value_and_grad(policy_loss)(p.policy)
  policy_params, policy_opt, skipped, norm = apply_if_finite(
      nets.policy_optimizer, p.policy, state.policy_opt, grads)
  value_params, value_opt, value_loss, value_skipped = actor_critic.fit_value(
      nets.value_apply, nets.value_optimizer, p.value, state.value_opt, obs, targets, weight,
      value_steps)
  state = state.replace(params=p.replace(policy=policy_params, value=value_params),
                        policy_opt=policy_opt, value_opt=value_opt)
  return state, StepStats(loss, value_loss, norm, skipped + value_skipped)


def reinforce_update(config, nets: actor_critic.ActorCritic) -> Update:
  """REINFORCE with a baseline: one policy step on the whole batch, then
  `reinforce.value_updates` value steps towards its returns."""
  policy, value_apply = nets.policy, nets.value_apply

  def update(state: TrainState, batch: Imagined, key):
    del key  # the batch holds all the randomness
    p = state.params
    # The window cuts an endless task short: its tail is V(s_H), unless it terminated.
    tail = (1.0 - batch.done[-1]) * value_apply(p.value, batch.next_obs[-1])
    values = value_apply(p.value, batch.obs) if config.reinforce.baseline == 'value' else None
    advantages, to_go = losses.reinforce_advantages(batch.reward, tail, batch.alive,
                                                    config.discount, values)
    if config.normalize_advantage:
      advantages = estimators.normalize_advantages(advantages, batch.alive)

    def loss(policy_params):
      return losses.reinforce_loss(policy.log_prob(policy_params, batch.obs, batch.action),
                                   advantages, batch.alive)

    state, stats = actor_critic_step(nets, state, loss, batch.obs, to_go, batch.alive,
                                     config.reinforce.value_updates)
    return state, stats._asdict()
  return update


def ppo_update(config, nets: actor_critic.ActorCritic) -> Update:
  """PPO: `ppo.epochs` passes over `ppo.num_minibatches` shuffled minibatches, each a
  policy step on the clipped loss and a value step towards the GAE(lambda) returns."""
  policy, value_apply, ppo = nets.policy, nets.value_apply, config.ppo

  def update(state: TrainState, batch: Imagined, key):
    p = state.params
    # GAE(lambda) (Schulman et al. 2016, eq. 16), closed with V(s_H) at the window's end.
    values = value_apply(p.value, batch.obs)
    advantages, targets = returns.gae(batch.reward, values,
                                      value_apply(p.value, batch.next_obs[-1]), batch.done,
                                      config.discount, config.gae_lambda)
    flat = lambda x: x.reshape((-1,) + x.shape[2:])
    samples = Samples(*map(flat, (batch.obs, batch.action, batch.old_log_prob, advantages,
                                  targets, batch.alive)))
    num = samples.obs.shape[0]

    def minibatch(carry, idx):
      state, entropy_key = carry
      mb = jax.tree.map(lambda x: x[idx], samples)
      adv = mb.advantage
      if config.normalize_advantage:
        adv = estimators.normalize_advantages(adv, mb.weight)
      entropy_key, k = jax.random.split(entropy_key)

      def loss(policy_params):
        log_prob = policy.log_prob(policy_params, mb.obs, mb.action)
        entropy = policy.entropy(policy_params, mb.obs, k) if ppo.entropy_cost else None
        return losses.ppo_loss(log_prob, mb.old_log_prob, adv, mb.weight, ppo.clip_epsilon,
                               ppo.entropy_cost, entropy)

      state, stats = actor_critic_step(nets, state, loss, mb.obs, mb.target, mb.weight, 1)
      return (state, entropy_key), stats

    perm_keys = jax.random.split(key, ppo.epochs)
    order = jax.vmap(lambda k: jax.random.permutation(k, num))(perm_keys)
    order = order.reshape((-1, num // ppo.num_minibatches))  # epochs * num_minibatches
    (state, _), stats = jax.lax.scan(minibatch, (state, key), order)
    new_log_prob = policy.log_prob(state.params.policy, batch.obs, batch.action)
    stats = {k: v.sum() if k == 'skipped' else jnp.nanmean(v)
             for k, v in stats._asdict().items()}
    stats['approx_kl'] = (batch.alive * (batch.old_log_prob - new_log_prob)).sum() / jnp.maximum(
        batch.alive.sum(), 1.0)
    return state, stats
  return update


UPDATES = {'reinforce': reinforce_update, 'ppo': ppo_update}  # config.algorithm -> update


def make(config: ml_collections.ConfigDict, env) -> Agent:
  validate(config, env)
  nets = actor_critic.actor_critic(config, env, config.hidden_sizes, config.value_learning_rate)
  parts = model_based.model_parts(config, env, config.num_starts)
  update = UPDATES[config.algorithm](config, nets)

  def imagine_and_update(state: TrainState, key):
    start_key, imagine_key, update_key = jax.random.split(key, 3)
    start = parts.buffer.sample(state.buffer, start_key).experience.obs
    batch = imagine(config, nets.policy, parts, state.params, start, imagine_key)
    state, stats = update(state, batch, update_key)
    stats['imagined_return'] = batch.reward.sum(0).mean() / config.reward_scaling
    return state, stats

  # --- the agent contract -------------------------------------------------------------
  def init(key):
    policy_key, value_key, model_key, env_key, key = jax.random.split(key, 5)
    trainer_state = parts.trainer.init(model_key)
    params = Params(policy=nets.policy.init(policy_key), value=nets.value_init(value_key),
                    target_value={}, model=trainer_state.model)
    return TrainState(params=params, policy_opt=nets.policy_optimizer.init(params.policy),
                      value_opt=nets.value_optimizer.init(params.value),
                      model_opt=trainer_state.opt_state,
                      env_state=data.reset(env, env_key, config.num_envs),
                      buffer=parts.buffer.init(data.example_transition(env)), key=key,
                      env_steps=jnp.zeros((), jnp.int32),
                      skipped_updates=jnp.zeros((), jnp.int32))

  def improve(state: TrainState, key):
    state, stats = jax.lax.scan(imagine_and_update, state,
                                jax.random.split(key, config.updates_per_chunk))
    skipped = stats.pop('skipped').sum()
    return state, {**{k: v.mean() for k, v in stats.items()}, 'skipped_updates': skipped}

  return model_based.policy_learner(config, env, nets.policy, init, improve, parts.buffer,
                                    parts.trainer)

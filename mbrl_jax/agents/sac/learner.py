"""SAC's networks, losses and update, for any source of transitions (MBPO mixes
model data into the batches): brax.training's SAC networks and losses."""

from typing import Any, Callable, NamedTuple, Tuple

import flax
import jax
import jax.numpy as jnp
import ml_collections
import optax
from brax.training import types as brax_types
from brax.training.agents.sac import losses as sac_losses
from brax.training.agents.sac import networks as sac_networks

from mbrl_jax import data
from mbrl_jax.core.guards import all_finite, keep_if
from mbrl_jax.agents.sac import losses
from mbrl_jax.core.networks import NO_NORMALIZER, from_bounds, to_bounds


@flax.struct.dataclass
class SACParams:
  policy: Any
  q: Any
  target_q: Any
  log_alpha: jax.Array


@flax.struct.dataclass
class SACOptState:
  policy: Any
  q: Any
  alpha: Any


@flax.struct.dataclass
class LearnerState:
  params: SACParams
  opt: SACOptState


class Learner(NamedTuple):
  """SAC's networks and update, for any source of transitions (MBPO mixes model data)."""
  init: Callable[[jax.Array], LearnerState]
  update: Callable[..., Tuple[LearnerState, dict]]   # (state, batch, key, critic_loss=None)
  make_policy: Callable[[SACParams, bool], Callable]  # actions in the env's bounds
  sample_action: Callable  # (policy params, obs [..., obs], key) -> (action in [-1, 1], log_prob)
  q_values: Callable       # (q params, obs, action in [-1, 1]) -> [..., 2]
  to_env: Callable
  from_env: Callable


def make_learner(config: ml_collections.ConfigDict, env) -> Learner:
  """SAC's parts from config's hidden_sizes, learning_rate, discount, reward_scaling, tau."""
  obs_size, act_size = env.observation_size, env.action_size
  networks = sac_networks.make_sac_networks(obs_size, act_size,
                                            hidden_layer_sizes=tuple(config.hidden_sizes))
  dist = networks.parametric_action_distribution
  _, critic_loss, actor_loss = sac_losses.make_losses(
      networks, config.reward_scaling, config.discount, act_size)
  entropy_target = losses.target_entropy(config, act_size)
  optimizer = optax.adam(config.learning_rate)
  low, high = (jnp.asarray(b) for b in data.action_bounds(env))

  to_env = lambda action: to_bounds(action, low, high)  # the policy acts in [-1, 1]
  from_env = lambda action: from_bounds(action, low, high)

  def make_policy(params: SACParams, deterministic: bool = True):
    def policy(obs, key):
      logits = networks.policy_network.apply(NO_NORMALIZER, params.policy, obs)
      action = dist.mode(logits) if deterministic else dist.sample(logits, key)
      return to_env(action)
    return policy

  def sample_action(policy_params, obs, key):
    logits = networks.policy_network.apply(NO_NORMALIZER, policy_params, obs)
    raw = dist.sample_no_postprocessing(logits, key)
    return dist.postprocess(raw), dist.log_prob(logits, raw)

  def q_values(q_params, obs, action):
    return networks.q_network.apply(NO_NORMALIZER, q_params, obs, action)

  def init(key):
    policy_key, q_key = jax.random.split(key)
    q = networks.q_network.init(q_key)
    params = SACParams(policy=networks.policy_network.init(policy_key), q=q, target_q=q,
                       log_alpha=jnp.zeros(()))
    return LearnerState(params, SACOptState(policy=optimizer.init(params.policy),
                                            q=optimizer.init(q),
                                            alpha=optimizer.init(params.log_alpha)))

  def update(state: LearnerState, batch: data.Transition, key, critic_loss_fn=None):
    """One SAC step on a batch (env-bound actions): temperature, critics, actor, targets.

    critic_loss_fn(q, policy, target_q, alpha, batch, key) replaces the one-step
    soft TD loss (MBPO's MVE targets). If any of the three losses or gradients has
    a NaN or inf entry, the whole step is skipped: the state comes back unchanged
    and the metric `skipped_updates` is 1."""
    alpha_key, critic_key, actor_key = jax.random.split(key, 3)
    terminal = batch.done * (1.0 - batch.truncation)
    transitions = brax_types.Transition(
        observation=batch.obs, action=from_env(batch.action), reward=batch.reward,
        discount=1.0 - terminal, next_observation=batch.next_obs,
        extras={'state_extras': {'truncation': jnp.zeros_like(batch.reward)}})
    p, opt = state.params, state.opt
    _, log_prob = sample_action(p.policy, batch.obs, alpha_key)
    a_loss, a_grad = jax.value_and_grad(losses.alpha_loss)(p.log_alpha, log_prob,
                                                           entropy_target)
    a_step, alpha_opt = optimizer.update(a_grad, opt.alpha)
    log_alpha = optax.apply_updates(p.log_alpha, a_step)
    alpha = jnp.exp(p.log_alpha)
    if critic_loss_fn is None:
      c_loss, c_grad = jax.value_and_grad(critic_loss)(p.q, p.policy, NO_NORMALIZER, p.target_q,
                                                       alpha, transitions, critic_key)
    else:
      c_loss, c_grad = jax.value_and_grad(critic_loss_fn)(p.q, p.policy, p.target_q, alpha,
                                                          batch, critic_key)
    c_step, q_opt = optimizer.update(c_grad, opt.q)
    q = optax.apply_updates(p.q, c_step)
    p_loss, p_grad = jax.value_and_grad(actor_loss)(p.policy, NO_NORMALIZER, p.q, alpha,
                                                    transitions, actor_key)
    p_step, policy_opt = optimizer.update(p_grad, opt.policy)
    policy = optax.apply_updates(p.policy, p_step)
    target_q = optax.incremental_update(q, p.target_q, config.tau)
    new = LearnerState(SACParams(policy=policy, q=q, target_q=target_q, log_alpha=log_alpha),
                       SACOptState(policy=policy_opt, q=q_opt, alpha=alpha_opt))
    finite = all_finite((a_loss, a_grad, c_loss, c_grad, p_loss, p_grad))
    q = q_values(p.q, batch.obs, transitions.action).min(-1)
    return keep_if(finite, new, state), {
        'critic_loss': c_loss, 'actor_loss': p_loss, 'alpha_loss': a_loss, 'alpha': alpha,
        'q_mean': q.mean(), 'q_max': q.max(), 'entropy': -log_prob.mean(),
        'skipped_updates': 1.0 - finite.astype(jnp.float32)}

  return Learner(init=init, update=update, make_policy=make_policy,
                 sample_action=sample_action, q_values=q_values, to_env=to_env,
                 from_env=from_env)

"""What the policy-learning agents (pathwise, model_pg) share: their config checks,
and the actor and critic they learn: the tanh-Gaussian policy
(policies.tanh_gaussian), a state-value MLP, and their clipped Adam optimizers."""

from collections.abc import Callable, Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax
from brax.training import networks

from mbrl_jax import models
from mbrl_jax.core.checks import check, check_choice
from mbrl_jax.core.guards import apply_if_finite
from mbrl_jax.core.networks import ACTIVATIONS, NO_NORMALIZER, check_activation
from mbrl_jax.data import env_data
from mbrl_jax.policies.tanh_gaussian import TanhGaussianPolicy


def validate(config) -> None:
  """The config checks every policy learner here shares: propagation, activation,
  network sizes, random phase, learning rate, policy std scale and discount."""
  check_choice(config, 'propagation', models.PARTICLE_PROPAGATIONS)
  check_activation(config)
  check(all(isinstance(h, int) and h >= 1 for h in config.hidden_sizes),
        f'config.hidden_sizes must be positive integers, got {tuple(config.hidden_sizes)}.')
  check(isinstance(config.random_steps, int) and config.random_steps >= 0,
        f'config.random_steps must be an integer >= 0, got {config.random_steps!r}.')
  check(0 <= config.discount <= 1 and config.learning_rate > 0 and config.std_scale > 0,
        f'need 0 <= discount <= 1, learning_rate > 0 and std_scale > 0, got discount='
        f'{config.discount}, learning_rate={config.learning_rate}, std_scale={config.std_scale}.')


def make_value_network(obs_size: int, hidden_sizes: Sequence[int], activation: str):
  """V(s): init(key) -> params, apply(params, obs [..., obs]) -> [...]."""
  net = networks.make_value_network(obs_size, hidden_layer_sizes=tuple(hidden_sizes),
                                    activation=ACTIVATIONS[activation])
  return net.init, lambda params, obs: net.apply(NO_NORMALIZER, params, obs)


class ActorCritic(NamedTuple):
  """A policy learner's networks and optimizers."""
  policy: TanhGaussianPolicy
  policy_optimizer: optax.GradientTransformation
  value_init: Callable       # key -> params
  value_apply: Callable      # (params, obs [..., obs]) -> [...]
  value_optimizer: optax.GradientTransformation


def actor_critic(config, env, value_hidden_sizes, value_learning_rate: float) -> ActorCritic:
  """The tanh-Gaussian policy within the env's bounds (config's hidden_sizes,
  activation, std_scale), V(s), and their clipped Adam optimizers."""
  obs_size = env.observation_size
  low, high = (jnp.asarray(b) for b in env_data.action_bounds(env))
  policy = TanhGaussianPolicy(obs_size, env.action_size, config.hidden_sizes,
                              config.activation, low, high, config.std_scale)
  value_init, value_apply = make_value_network(obs_size, value_hidden_sizes, config.activation)
  return ActorCritic(policy, make_optimizer(config.learning_rate, config.max_grad_norm),
                     value_init, value_apply,
                     make_optimizer(value_learning_rate, config.max_grad_norm))


def make_optimizer(learning_rate: float, max_grad_norm: float) -> optax.GradientTransformation:
  """Adam after clipping the gradient's global norm (max_grad_norm <= 0: no clipping)."""
  if max_grad_norm > 0:
    return optax.chain(optax.clip_by_global_norm(max_grad_norm), optax.adam(learning_rate))
  return optax.adam(learning_rate)



def fit_value(value_apply: Callable, optimizer: optax.GradientTransformation, params, opt_state,
              obs, targets, weight, steps: int):
  """`steps` guarded optimizer steps of V(s) towards `targets`, minimising the
  weighted mean squared error sum(w (V(s) - target)^2) / sum(w) (w: the alive mask,
  so nothing after a termination counts). Returns (params, opt_state, the last
  step's loss, steps skipped for a non-finite gradient)."""
  def loss_fn(value_params):
    err = value_apply(value_params, obs) - targets
    return (weight * err**2).sum() / jnp.maximum(weight.sum(), 1.0)

  def one(carry, _):
    params, opt_state, skipped = carry
    loss, grads = jax.value_and_grad(loss_fn)(params)
    params, opt_state, skip, _ = apply_if_finite(optimizer, params, opt_state, grads)
    return (params, opt_state, skipped + skip), loss

  (params, opt_state, skipped), losses = jax.lax.scan(
      one, (params, opt_state, jnp.zeros(())), None, length=steps)
  return params, opt_state, losses[-1], skipped

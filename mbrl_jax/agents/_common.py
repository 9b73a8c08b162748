"""Pieces shared by the policy-learning agents (pathwise, model_pg).

A tanh-squashed Gaussian policy acting within the env's action bounds (brax's
policy MLP and NormalTanhDistribution), a state-value MLP, and the guarded
optimizer step of mbrl_jax.guards (re-exported here): a gradient with any NaN or
inf entry is not applied, and the caller counts it.
"""

from collections.abc import Callable, Sequence
from typing import NamedTuple

import flax.linen as nn
import jax.numpy as jnp
import optax
from brax.training import distribution, networks

from mbrl_jax import models
from mbrl_jax.checks import check, check_choice
from mbrl_jax.data import env_data
from mbrl_jax.guards import all_finite, apply_if_finite, keep_if  # noqa: F401 (used by agents)

ACTIVATIONS = {'elu': nn.elu, 'relu': nn.relu, 'tanh': nn.tanh, 'silu': nn.silu}
NO_NORMALIZER = ()  # brax's networks take normalizer params; we feed raw observations
_EDGE = 1.0 - 1e-6  # |tanh| cap when recovering a pre-tanh action from a bounded one


class TanhGaussianPolicy:
  """a = low + (tanh(x) + 1) (high - low) / 2, x ~ N(mu(s), sigma(s)); all methods
  take a batch of observations [..., obs] and are pure."""

  def __init__(self, obs_size: int, act_size: int, hidden_sizes: Sequence[int],
               activation: str, low, high, std_scale: float = 1.0):
    self.dist = distribution.NormalTanhDistribution(event_size=act_size, var_scale=std_scale)
    self.net = networks.make_policy_network(self.dist.param_size, obs_size,
                                            hidden_layer_sizes=tuple(hidden_sizes),
                                            activation=ACTIVATIONS[activation])
    self.low, self.high = jnp.asarray(low), jnp.asarray(high)

  def init(self, key):
    return self.net.init(key)

  def logits(self, params, obs):
    return self.net.apply(NO_NORMALIZER, params, obs)

  def to_env(self, squashed):
    return self.low + (squashed + 1.0) * (self.high - self.low) / 2.0

  def from_env(self, action):
    return 2.0 * (action - self.low) / (self.high - self.low) - 1.0

  def sample(self, params, obs, key):
    """A reparameterized sample: differentiable in params (and obs)."""
    return self.to_env(self.dist.sample(self.logits(params, obs), key))

  def mode(self, params, obs):
    return self.to_env(self.dist.mode(self.logits(params, obs)))

  def raw_action(self, action):
    """The pre-tanh value of a bounded action (clipped off the edges, so finite)."""
    return jnp.arctanh(jnp.clip(self.from_env(action), -_EDGE, _EDGE))

  def log_prob(self, params, obs, action):
    """log density of the squashed action (up to the constant of the affine map
    to the bounds, which cancels in every ratio and gradient we take)."""
    return self.dist.log_prob(self.logits(params, obs), self.raw_action(action))

  def entropy(self, params, obs, key):
    return self.dist.entropy(self.logits(params, obs), key)




def check_policy_learner(config) -> None:
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


def check_activation(config) -> str:
  if config.activation not in ACTIVATIONS:
    raise ValueError(f'config.activation must be one of {", ".join(map(repr, ACTIVATIONS))}; '
                     f'got {config.activation!r}.')
  return config.activation


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


def make_policy_fn(policy: TanhGaussianPolicy):
  """make_policy of the agent contract for agents whose params hold `policy`."""
  def make_policy(params, deterministic: bool = True):
    def act(obs, key):
      if deterministic:
        return policy.mode(params.policy, obs)
      return policy.sample(params.policy, obs, key)
    return act
  return make_policy

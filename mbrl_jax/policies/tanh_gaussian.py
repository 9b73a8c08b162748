"""The tanh-squashed Gaussian policy of the policy-learning agents (pathwise, model_pg):
brax.training's policy MLP and NormalTanhDistribution, acting within the env's
bounds.

a = low + (tanh(x) + 1) (high - low) / 2,  x ~ N(mu(s), sigma(s)).
"""

from collections.abc import Sequence

import jax.numpy as jnp
from brax.training import distribution, networks

from mbrl_jax.core.networks import ACTIVATIONS, NO_NORMALIZER, from_bounds, to_bounds

EDGE = 1.0 - 1e-6  # |tanh| cap when recovering a pre-tanh action from a bounded one


class TanhGaussianPolicy:
  """All methods take a batch of observations [..., obs] and are pure."""

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
    return to_bounds(squashed, self.low, self.high)

  def from_env(self, action):
    return from_bounds(action, self.low, self.high)

  def sample(self, params, obs, key):
    """A reparameterized sample: differentiable in params (and obs)."""
    return self.to_env(self.dist.sample(self.logits(params, obs), key))

  def mode(self, params, obs):
    return self.to_env(self.dist.mode(self.logits(params, obs)))

  def raw_action(self, action):
    """The pre-tanh value of a bounded action (clipped off the edges, so finite)."""
    return jnp.arctanh(jnp.clip(self.from_env(action), -EDGE, EDGE))

  def log_prob(self, params, obs, action):
    """log density of the squashed action (up to the constant of the affine map
    to the bounds, which cancels in every ratio and gradient we take)."""
    return self.dist.log_prob(self.logits(params, obs), self.raw_action(action))

  def entropy(self, params, obs, key):
    return self.dist.entropy(self.logits(params, obs), key)


def make_policy_fn(policy: TanhGaussianPolicy):
  """make_policy of the agent contract for agents whose params hold `policy`:
  (params, deterministic) -> (obs, key) -> action, the mode or a sample."""
  def make_policy(params, deterministic: bool = True):
    def act(obs, key):
      if deterministic:
        return policy.mode(params.policy, obs)
      return policy.sample(params.policy, obs, key)
    return act
  return make_policy

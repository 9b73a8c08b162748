"""Ensembles of MLP dynamics models: stacked member params, one vmap over members.

Each member maps a normalized (obs, action) to a normalized target: the change of
the observation (or, for `absolute_dims`, the next value itself) and, optionally,
the reward. Gaussian members output a mean and a log-variance kept between learned
soft bounds (PETS); deterministic members output the mean only (the lectures'
version 0.5 model is one deterministic member). An optional head predicts the
termination logit.
"""

from typing import Any, NamedTuple, Optional

import flax
import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from mbrl_jax.core.networks import ACTIVATIONS
from mbrl_jax.core.checks import check, check_choice
from mbrl_jax.data import normalizer

KINDS = ('gaussian', 'deterministic')


def default_config() -> ml_collections.ConfigDict:
  """MBPO's model: 7 Gaussian members, 5 elites, 4 hidden layers of 200, swish."""
  config = ml_collections.ConfigDict()
  config.kind = 'gaussian'
  config.num_members = 7
  config.num_elites = 5
  config.num_layers = 4
  config.width = 200
  config.activation = 'silu'
  config.weight_decay = 5e-5           # AdamW's decoupled decay of the kernels
  # L2 penalties in the loss, one per Dense layer (hidden layers, then the output):
  # lambda_i / 2 ||W_i||^2 per member, as the MBPO paper's code (2.5e-5, 5e-5, 7.5e-5,
  # 7.5e-5, 1e-4 for its 4 hidden layers); () for none.
  config.l2_decays = ()
  config.learning_rate = 1e-3
  config.batch_size = 256
  config.holdout_fraction = 0.2
  config.max_holdout = 5000
  config.max_epochs = 200              # 0: no cap (the MBPO paper's code has none)
  config.patience = 5                  # epochs without 1% holdout improvement
  config.improvement_threshold = 0.01
  config.absolute_dims = ()            # observation dims predicted as values, not changes
  config.angle_dims = ()               # observation dims fed to the net as (sin, cos)
  config.learn_reward = False
  config.learn_termination = False
  return config


class MemberNet(nn.Module):
  """One member: an MLP with a mean (and log-variance, termination) head."""
  target_size: int
  width: int
  num_layers: int
  activation: str
  gaussian: bool
  termination: bool

  @nn.compact
  def __call__(self, x):
    act = ACTIVATIONS[self.activation]
    for _ in range(self.num_layers):
      x = act(nn.Dense(self.width)(x))
    out = {}
    if self.gaussian:
      mean, raw_logvar = jnp.split(nn.Dense(2 * self.target_size)(x), 2, axis=-1)
      max_logvar = self.param('max_logvar', nn.initializers.constant(0.5), (self.target_size,))
      min_logvar = self.param('min_logvar', nn.initializers.constant(-10.0), (self.target_size,))
      logvar = max_logvar - nn.softplus(max_logvar - raw_logvar)
      out['logvar'] = min_logvar + nn.softplus(logvar - min_logvar)
    else:
      mean = nn.Dense(self.target_size)(x)
    out['mean'] = mean
    if self.termination:
      out['termination_logit'] = nn.Dense(1)(x)[..., 0]
    return out


@flax.struct.dataclass
class ModelState:
  """Everything needed to predict: stacked member params and the normalizers."""
  params: Any                           # leaves [num_members, ...]
  input_norm: normalizer.NormalizerState
  target_norm: normalizer.NormalizerState
  elites: jax.Array                     # [num_elites] member indices, best first


class Prediction(NamedTuple):
  """One step's prediction per member, in real (unnormalized) units."""
  target_mean: jax.Array               # [..., target_size]
  target_std: jax.Array                # zeros for deterministic members
  termination_logit: Optional[jax.Array]


class Ensemble:
  """The static structure of an ensemble; all methods are pure functions."""

  def __init__(self, config: ml_collections.ConfigDict, obs_size: int, action_size: int):
    check_choice(config, 'kind', KINDS)
    check_choice(config, 'activation', tuple(ACTIVATIONS))
    for name in ('num_members', 'num_elites', 'num_layers', 'width'):
      check(isinstance(config[name], int) and config[name] >= 1,
            f'config.{name} must be an integer >= 1, got {config[name]!r}.')
    check(config.num_elites <= config.num_members,
          f'config.num_elites ({config.num_elites}) must not exceed config.num_members '
          f'({config.num_members}).')
    absolute = tuple(int(d) for d in config.absolute_dims)
    angles = tuple(int(d) for d in config.angle_dims)
    for name, dims in (('absolute_dims', absolute), ('angle_dims', angles)):
      check(all(0 <= d < obs_size for d in dims),
            f'config.{name} must be observation dims in [0, {obs_size}), got {dims}.')
    self.config = config
    self.obs_size, self.action_size = obs_size, action_size
    self.target_size = obs_size + int(config.learn_reward)
    self.num_members, self.num_elites = config.num_members, config.num_elites
    self.gaussian = config.kind == 'gaussian'
    delta = np.ones(obs_size, bool)
    delta[list(absolute)] = False
    self.delta_dims = delta
    # An angle enters the net as (sin, cos): continuous across the wrap (PETS' cart-pole).
    self.angle_dims = np.array(sorted(set(angles)), int)
    self.plain_dims = np.array([d for d in range(obs_size) if d not in set(angles)], int)
    self.input_size = obs_size + len(self.angle_dims) + action_size
    self.net = MemberNet(self.target_size, config.width, config.num_layers, config.activation,
                         self.gaussian, bool(config.learn_termination))

  # --- parameters ---------------------------------------------------------------
  def init(self, key: jax.Array) -> ModelState:
    dummy = jnp.zeros((1, self.input_size))
    params = jax.vmap(self.net.init, in_axes=(0, None))(
        jax.random.split(key, self.num_members), dummy)
    return ModelState(params=params,
                      input_norm=normalizer.init(self.input_size),
                      target_norm=normalizer.init(self.target_size),
                      elites=jnp.arange(self.num_elites))

  # --- data <-> targets -------------------------------------------------------------
  def inputs(self, obs, action):
    """The net's input features: obs (angles as sin and cos) and action."""
    self._check_shapes(obs, action)
    if not len(self.angle_dims):
      return jnp.concatenate([obs, action], axis=-1)
    angles = obs[..., self.angle_dims]
    return jnp.concatenate([obs[..., self.plain_dims], jnp.sin(angles), jnp.cos(angles), action],
                           axis=-1)

  def targets(self, obs, next_obs, reward=None):
    """What the members learn to predict, from a real transition."""
    target = jnp.where(self.delta_dims, next_obs - obs, next_obs)
    if self.config.learn_reward:
      target = jnp.concatenate([target, reward[..., None]], axis=-1)
    return target

  def next_obs(self, obs, target):
    """The observation (and reward, if learned) a target stands for."""
    state = target[..., :self.obs_size]
    next_obs = jnp.where(self.delta_dims, obs + state, state)
    reward = target[..., self.obs_size] if self.config.learn_reward else None
    return next_obs, reward

  # --- prediction -------------------------------------------------------------------
  def predict(self, model: ModelState, obs, action, member_params=None,
              per_member: bool = False) -> Prediction:
    """Every (selected) member's prediction, in real units, leading axis = members.

    obs [..., obs_size] and action [..., action_size] are shared by the members, or,
    with `per_member=True`, have a leading members axis matching `member_params`.
    """
    params = model.params if member_params is None else member_params
    x = normalizer.normalize(model.input_norm, self.inputs(obs, action))
    in_axes = (0, 0) if per_member else (0, None)
    out = jax.vmap(self.net.apply, in_axes=in_axes)(params, x)
    norm = model.target_norm
    mean = normalizer.denormalize(norm, out['mean'])
    std = (jnp.exp(0.5 * out['logvar']) * norm.std if self.gaussian
           else jnp.zeros_like(mean))
    return Prediction(mean, std, out.get('termination_logit'))

  def _check_shapes(self, obs, action):
    if obs.shape[-1] != self.obs_size or action.shape[-1] != self.action_size:
      raise ValueError(f'model expects obs [..., {self.obs_size}] and action '
                       f'[..., {self.action_size}], got {obs.shape} and {action.shape}.')
    if obs.shape[:-1] != action.shape[:-1]:
      raise ValueError(f'obs and action batch shapes differ: {obs.shape} vs {action.shape}.')
    for name, x in (('obs', obs), ('action', action)):
      if not jnp.issubdtype(x.dtype, jnp.floating):
        raise ValueError(f'model {name} must be floating point, got {x.dtype}.')

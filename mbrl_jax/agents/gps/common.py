"""What both GPS variants (mdgps, badmm) are made of: their shared settings, the
global policy's network and optimizer, the initial local controllers, sampling and
fitting every condition, the catch-up S-step and the policy's evaluation."""

from typing import Any, Callable, NamedTuple

import flax
import jax
import jax.numpy as jnp
import ml_collections
import optax

from mbrl_jax.data import acting
from mbrl_jax import data
from mbrl_jax.policies import gaussian_mlp
from mbrl_jax.planners import lqr_flm
from mbrl_jax.policies import linear_gaussian as lg


def base_config() -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.num_samples = 5            # trajectories of each local controller per iteration
  config.sigma0 = 1e-4              # variance of the start-state noise (times I)
  config.init_std = 0.5             # initial p_i: zero-mean actions with this std
  config.epsilon = 1.0              # initial KL bound of the C-step (nats, whole trajectory)
  config.epsilon_range = (0.1, 10.0)
  config.shared_step = True         # one step size for all conditions (the GPS code's)
  config.num_clusters = 1           # GMM prior of the dynamics fit (0: plain OLS)
  config.prior_strength = 1.0
  config.hidden_sizes = (64, 64)
  config.activation = 'tanh'
  config.learning_rate = 1e-3
  config.sgd_steps = 1000           # Adam steps per S-step
  config.batch_size = 128
  return config


@flax.struct.dataclass
class SharedState:
  """What both variants carry between iterations; [C] leads per-condition leaves."""
  params: Any                               # pi_theta's MLP
  opt_state: Any
  policy_var: jax.Array                     # [m] pi_theta's diagonal covariance
  controllers: lg.LinearGaussianController  # [C, T, ...] the local controllers p_i
  epsilon: jax.Array                        # [C] the C-step's KL bounds
  iteration: jax.Array                      # scalar int


class Algorithm(NamedTuple):
  """A GPS variant as pure functions (mdgps.build, badmm.build: `build` below)."""
  init: Callable          # (key, num_conditions) -> state
  iteration: Callable     # (state, starts [C, n], key) -> (state, metrics); jit it
  policy_apply: Callable  # (params, obs [..., n]) -> mean action [..., m]
  evaluate: Callable      # (params, starts [C, n], key) -> (cost [C], final obs [C, n])


class Setup(NamedTuple):
  cost: Callable          # (x, u, t) -> scalar: minus the env's reward
  sizes: tuple            # (T, n, m)
  sigma0: jax.Array       # [n, n] the start-state noise
  net: Any               # a flax module: state [..., n] -> mean action [..., m]
  optimizer: optax.GradientTransformation
  evaluate: Callable      # (params, starts [C, n], key) -> (cost [C], final obs [C, n])


def setup(env, config, network=None, optimizer=None) -> Setup:
  """The shared parts. network: the global policy's mean as a flax module of the
  state [..., n] -> action [..., m] (default: an MLP of config.hidden_sizes; a
  visuomotor one renders the state and sees only pixels and joints); optimizer: its
  optax transformation (default: Adam at config.learning_rate; mask one to freeze
  parts of the network)."""
  T, n, m = data.episode_decisions(env), env.observation_size, env.action_size
  net = network or gaussian_mlp.MLP(tuple(config.hidden_sizes), m, config.activation)

  def evaluate(params, starts, key):
    """pi_theta's mean run deterministically from each start for T steps."""
    env_state = data.reset_to(env, key, starts)
    _, experience = acting.unroll(env, env_state, lambda obs, _: net.apply(params, obs), key, T)
    tr = experience.transition
    return -tr.reward.sum(0), tr.next_obs[-1]

  return Setup(lqr_flm.cost_fn(env), (T, n, m), config.sigma0 * jnp.eye(n), net,
               optimizer or optax.adam(config.learning_rate), evaluate)


def build(variant: Callable, env, config, network=None, optimizer=None) -> Algorithm:
  """A GPS variant on a JAX-native task (its observation is its state) with the cost
  minus its reward (lqr_flm.cost_fn). variant(env, config, parts) -> (init,
  iteration) is the variant's own part (mdgps.init_and_iteration,
  badmm.init_and_iteration); parts are `setup`'s (network and optimizer as there)."""
  parts = setup(env, config, network, optimizer)
  init, iteration = variant(env, config, parts)
  return Algorithm(init, iteration, parts.net.apply, parts.evaluate)


def initial_state(setup_: Setup, config, key, num_conditions: int) -> dict:
  """The fields both variants' states start with: the policy's params, optimizer state
  and variance [m], zero-mean open-loop controllers with std config.init_std [C, T,
  ...], the KL bounds [C], iteration 0. float32 throughout (not weak-typed: the
  iteration's output state then compiles the same)."""
  T, n, m = setup_.sizes
  params = setup_.net.init(key, jnp.zeros(n))
  start = lg.open_loop(jnp.zeros((T, m)), config.init_std**2 * jnp.eye(m), n)
  full = lambda size, value: jnp.full(size, value, jnp.float32)
  return dict(params=params, opt_state=setup_.optimizer.init(params),
              policy_var=full(m, config.init_std**2),
              controllers=jax.tree.map(
                  lambda a: jnp.broadcast_to(a, (num_conditions,) + a.shape), start),
              epsilon=full(num_conditions, config.epsilon), iteration=jnp.zeros((), jnp.int32))


def not_judged(num_conditions: int) -> jax.Array:
  """NaN per condition: no iteration's cost judged (or predicted) yet."""
  return jnp.full(num_conditions, jnp.nan, jnp.float32)


def sample_and_fit(env, config, sigma0, controllers, starts, sample_key, fit_key):
  """Every condition's samples of its controller and their dynamics fit (vmapped):
  (samples [C], dynamics [C], X [C, N, T, n] the states the actions were taken in)."""
  C = starts.shape[0]
  samples = jax.vmap(lambda p, x0, k: lqr_flm.sample(env, p, x0, sigma0, k, config.num_samples))(
      controllers, starts, jax.random.split(sample_key, C))
  dynamics = jax.vmap(lambda s, k: lqr_flm.fit_dynamics(s, k, config.num_clusters,
                                                      config.prior_strength))(
      samples, jax.random.split(fit_key, C))
  return samples, dynamics, samples.X[:, :, :-1]


def regress_policy(setup_: Setup, config, params, opt_state, X, mean, precision, key):
  """The S-step's regression of pi_theta onto the controllers' means [C, N, T, m] at the
  states X [C, N, T, n], weighted by their precisions [C, T, m, m] (shared by a
  condition's samples): (params, opt_state, losses, skipped)."""
  _, n, m = setup_.sizes
  precision_each = jnp.broadcast_to(precision[:, None], mean.shape + (m,))
  return gaussian_mlp.s_step(setup_.net.apply, setup_.optimizer, params, opt_state,
                             X.reshape((-1, n)), mean.reshape((-1, m)),
                             precision_each.reshape((-1, m, m)), key, config.sgd_steps,
                             config.batch_size)


def catch_up(first, s_step: Callable, state_parts, config):
  """On the first iteration pi_theta is random: regress it onto the controllers
  sampled first (the GPS code's catch-up); later, keep it. state_parts: (params,
  opt_state, policy_var); s_step() -> (params, opt_state, var, (losses, skipped))."""
  keep = lambda: (*state_parts, (jnp.zeros(config.sgd_steps), jnp.zeros(())))
  return jax.lax.cond(first, s_step, keep)

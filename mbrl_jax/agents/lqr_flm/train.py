"""LQR-FLM's loop, one iteration per call, every condition at once (a vmap):

1. run each condition's controller on the env for N samples of T steps from its
   initial state (plus a little Gaussian noise, sigma0, so that x_0 varies);
2. fit time-varying linear-Gaussian dynamics to those samples (OLS);
3. improve the controller with `trajectory_opt.update` in a KL trust region of
   size epsilon around it;
4. adapt epsilon from the improvement the last step predicted against the one the
   new samples show (the GPS papers' rule): a step that did as well as predicted
   grows it, one that did worse than predicted shrinks it.

On a JAX-native task (its observation is the full state) a condition's start is an
observation and the cost is minus its reward, c(x, u, t) = task.cost(x, u, t), with
no terminal cost (the env's return has none). Any other env (Brax) takes its
starts as env states (each condition's reset state, every sample from it) and a
cost c(obs, u, t) written for its observation; its local models are then fitted to
observations, which must carry the state for them to be Markov.
"""

from typing import NamedTuple

import flax
import jax
import jax.numpy as jnp

from mbrl_jax import acting, data
from mbrl_jax.agents.lqr_flm import trajectory_opt
from mbrl_jax.checks import check
from brax.envs.base import State

from mbrl_jax.envs.base import task_of
from mbrl_jax.models import linear_gaussian as lgd
from mbrl_jax.policies import linear_gaussian as lg


class Samples(NamedTuple):
  X: jax.Array      # [N, T+1, n]
  U: jax.Array      # [N, T, m]
  cost: jax.Array   # [N] each trajectory's total cost (minus its return)


@flax.struct.dataclass
class Condition:
  """One initial state's controller and trust region (leaves get a leading [C])."""
  controller: lg.LinearGaussianController
  epsilon: jax.Array
  last_cost: jax.Array       # the mean cost of the samples before the last update
  predicted_cost: jax.Array  # what that update predicted its controller would cost


def cost_fn(env):
  """c(x, u, t) = -reward for t < T, 0 at the end: the env's return, negated."""
  task = task_of(env)
  check(task is not None, f'lqr_flm needs a JAX-native task (its state as observation), not '
                          f'{type(env.unwrapped).__name__}.')
  horizon = data.episode_decisions(env)

  def cost(x, u, t):
    return jnp.where(t < horizon, task.cost(x, u, t), 0.0)
  return cost


def start_obs(start) -> jax.Array:
  """A condition's initial observation: the start itself, or an env state's obs."""
  return start.obs if isinstance(start, State) else start


def sample(env, controller: lg.LinearGaussianController, start, sigma0, key,
           num_samples: int) -> Samples:
  """N trajectories of the controller on the env: from x0 + N(0, sigma0) when start
  is an observation x0 (a JAX-native task), from the env state itself when it is
  one (sigma0 unused)."""
  horizon = controller.K.shape[0]
  start_key, noise_key, key = jax.random.split(key, 3)
  if isinstance(start, State):
    state = jax.tree.map(lambda a: jnp.broadcast_to(a, (num_samples,) + a.shape), start)
  else:
    noise = jax.random.multivariate_normal(noise_key, jnp.zeros_like(start), sigma0,
                                           (num_samples,))
    state = data.reset_to(env, start_key, start + noise)

  def step(state, inputs):
    t, step_key = inputs
    keys = jax.random.split(step_key, num_samples)
    action = jax.vmap(lg.sample, (None, 0, None, 0))(controller, state.obs, t, keys)
    return acting.env_step(env, state, action)

  _, experience = jax.lax.scan(step, state, (jnp.arange(horizon), jax.random.split(key, horizon)))
  tr = jax.tree.map(lambda x: jnp.moveaxis(x, 0, 1), experience.transition)  # sample-major
  X = jnp.concatenate([tr.obs, tr.next_obs[:, -1:]], axis=1)
  return Samples(X, tr.action, -tr.reward.sum(1))


def initial_condition(controller: lg.LinearGaussianController, epsilon) -> Condition:
  nan = jnp.asarray(jnp.nan, jnp.float32)
  return Condition(controller, jnp.asarray(epsilon, jnp.float32), nan, nan)


def adapt_epsilon(epsilon, previous_cost, predicted_cost, actual_cost, low=0.1, high=10.0):
  """The GPS step-size rule: multiplier predicted / (2 max(predicted - actual, 1e-4)) of
  the improvements, clipped to [0.1, 10]; epsilon kept in [low, high]. A first
  iteration (no prediction yet, NaN) keeps epsilon."""
  predicted = previous_cost - predicted_cost
  actual = previous_cost - actual_cost
  multiplier = predicted / (2.0 * jnp.maximum(predicted - actual, 1e-4))
  new = jnp.clip(epsilon * jnp.clip(multiplier, 0.1, 10.0), low, high)
  return jnp.where(jnp.isfinite(predicted_cost) & (predicted > 0), new, epsilon)


def fit_dynamics(samples: Samples, key, num_clusters: int, prior_strength: float,
                 regularization: float = 1e-6) -> lgd.LinearDynamics:
  """Local dynamics from the samples: with num_clusters >= 1, regression under the
  prior of a Gaussian mixture fitted to all the samples' transitions (every t), the
  prior that lets 5 samples fit n + m + 1 regressors per step; with 0, plain OLS."""
  if num_clusters == 0:
    return lgd.fit_ols(samples.X, samples.U, regularization)
  Z = lgd.joint_samples(samples.X, samples.U)  # [T, N, d]
  gmm = lgd.gmm_fit(Z.reshape((-1, Z.shape[-1])), num_clusters, key, iterations=20,
                    regularization=regularization)
  prior = lgd.gmm_prior(gmm, Z, prior_strength)
  return lgd.fit_with_prior(samples.X, samples.U, prior, regularization)


def make_iteration(env, num_samples: int, sigma0, num_clusters: int = 1,
                   prior_strength: float = 1.0, epsilon_range=(0.1, 10.0),
                   regularization: float = 1e-6, cost=None):
  """iteration(condition, start, key) -> (condition, metrics) for one condition; vmap
  it over conditions. start: an observation, or an env state (see `sample`). epsilon
  (nats) stays within `epsilon_range`. cost (x, u, t) -> scalar: by default minus
  the task's reward (`cost_fn`). metrics: the samples' mean cost (of the controller
  before this update), the update's KL, eta and epsilon, and the cost it predicts."""
  cost = cost_fn(env) if cost is None else cost
  sigma0 = jnp.asarray(sigma0)

  def iteration(condition: Condition, start, key):
    sample_key, fit_key = jax.random.split(key)
    samples = sample(env, condition.controller, start, sigma0, sample_key, num_samples)
    x0 = start_obs(start)
    actual = samples.cost.mean()
    epsilon = adapt_epsilon(condition.epsilon, condition.last_cost, condition.predicted_cost,
                            actual, *epsilon_range)
    dynamics = fit_dynamics(samples, fit_key, num_clusters, prior_strength, regularization)
    step = trajectory_opt.update(dynamics, cost, condition.controller, epsilon, x0, sigma0)
    quadratic = trajectory_opt.quadratic_cost(
        cost, lg.trajectory_marginals(condition.controller, dynamics, x0, sigma0))
    # The prediction, in the real cost's units: the samples' cost plus the change the
    # local model predicts.
    predicted = actual + (
        trajectory_opt.expected_cost(step.controller, dynamics, quadratic, x0, sigma0)
        - trajectory_opt.expected_cost(condition.controller, dynamics, quadratic, x0, sigma0))
    metrics = {'cost': actual, 'kl': step.kl, 'eta': step.eta, 'epsilon': epsilon,
               'predicted_cost': predicted, 'failed': trajectory_opt.failed(step)}
    return Condition(step.controller, epsilon, actual, predicted), metrics

  return iteration

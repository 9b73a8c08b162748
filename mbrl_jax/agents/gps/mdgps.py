"""Guided policy search by approximate mirror descent (MDGPS; Montgomery & Levine 2016,
"Guided Policy Search via Approximate Mirror Descent"), off-policy variant.

A neural global policy pi_theta and one time-varying linear-Gaussian controller
p_i per condition (initial state x0_i). Each iteration, every condition in one vmap:

  1. sample N trajectories of p_i on the env (the off-policy variant: the local
     controllers are run, not pi_theta; the on-policy one samples pi_theta);
  2. fit local dynamics to them (lqr_flm.train.fit_dynamics, GMM prior);
  3. linearise pi_theta at the sampled states: pi_bar_i (policy.linearize);
  4. C-step: p_i <- argmin E_p[cost] s.t. KL(p || pi_bar_i) <= epsilon_i, the
     LQR-FLM step (trajectory_opt.update) with the KL taken to the linearised
     global policy rather than to the old p_i: the mirror-descent step;
  5. S-step: pi_theta <- the policy closest to the new p_i at the sampled states
     (policy.s_step: precision-weighted regression of the mean, closed-form
     covariance).
On the first iteration an S-step onto the initial controllers comes before 3, so
that pi_bar starts near them (as the GPS code's "catch the policy up").

Step size (the GPS code's 'laplace' rule): with C_hat(pi, f) the expected cost of
a linear-Gaussian pi under fitted dynamics f (the cost expanded to second order
about pi's marginals), the improvement predicted last iteration,
C_hat(pi_bar_prev, f_prev) - C_hat(p_new, f_prev), is compared with the one
achieved, C_hat(pi_bar_prev, f_prev) - C_hat(pi_bar_now, f_now): epsilon is
multiplied by predicted / (2 (predicted - achieved)) (lqr_flm.train.adapt_epsilon,
clipped). With config.shared_step the improvements are averaged over conditions
first and every condition gets the same step (as the GPS code does: the global
policy is shared).
"""

from typing import Any, Callable, NamedTuple

import flax
import jax
import jax.numpy as jnp
import ml_collections
import optax

from mbrl_jax import acting, data
from mbrl_jax.agents.gps import policy
from mbrl_jax.agents.lqr_flm import train, trajectory_opt
from mbrl_jax.policies import linear_gaussian as lg


def default_config() -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.num_samples = 5            # trajectories of each local controller per iteration
  config.sigma0 = 1e-4              # variance of the start-state noise (times I)
  config.init_std = 0.5             # initial p_i: zero-mean actions with this std
  config.epsilon = 1.0              # initial KL bound of the C-step (nats, whole trajectory)
  config.epsilon_range = (0.1, 10.0)
  config.shared_step = True         # one step size for all conditions (the GPS code's)
  config.num_clusters = 1           # GMM prior of the dynamics fit (0: plain OLS)
  config.prior_strength = 1.0
  config.ridge = 1e-6               # of the policy linearisation's least squares
  config.hidden_sizes = (64, 64)
  config.activation = 'tanh'
  config.learning_rate = 1e-3
  config.sgd_steps = 1000           # Adam steps per S-step
  config.batch_size = 128
  return config


@flax.struct.dataclass
class GPSState:
  """Everything MDGPS carries between iterations; [C] leads the per-condition leaves."""
  params: Any                              # pi_theta's MLP
  opt_state: Any
  policy_var: jax.Array                    # [m] pi_theta's diagonal covariance
  controllers: lg.LinearGaussianController  # [C, T, ...] the local controllers p_i
  epsilon: jax.Array                       # [C] the C-step's KL bounds
  laplace: jax.Array     # [C] C_hat(pi_bar, f) of the last iteration (NaN before the first)
  predicted: jax.Array   # [C] C_hat(p_new, f) of the last iteration's C-step
  iteration: jax.Array   # scalar int


class MDGPS(NamedTuple):
  init: Callable          # (key, num_conditions) -> GPSState
  iteration: Callable     # (state, starts [C, n], key) -> (state, metrics); jit it
  policy_apply: Callable  # (params, obs [..., n]) -> mean action [..., m]
  evaluate: Callable      # (params, starts [C, n], key) -> (cost [C], final obs [C, n])


def estimated_cost(cost, controller: lg.LinearGaussianController, dynamics, x0, sigma0):
  """C_hat: E[sum_t c] of a linear-Gaussian controller under fitted dynamics, the cost
  expanded to second order about its own marginals (exact for a quadratic cost)."""
  marginals = lg.trajectory_marginals(controller, dynamics, x0, sigma0)
  quadratic = trajectory_opt.quadratic_cost(cost, marginals)
  return trajectory_opt.expected_cost(controller, dynamics, quadratic, x0, sigma0)


def build(env, config: ml_collections.ConfigDict = None) -> MDGPS:
  """MDGPS on a JAX-native task (its observation is its state) with the cost minus
  its reward (lqr_flm.train.cost_fn)."""
  config = default_config() if config is None else config
  cost = train.cost_fn(env)
  T, n, m = env.episode_length, env.observation_size, env.action_size
  sigma0 = config.sigma0 * jnp.eye(n)
  net = policy.MLP(tuple(config.hidden_sizes), m, config.activation)
  apply = net.apply
  optimizer = optax.adam(config.learning_rate)

  def init(key, num_conditions: int) -> GPSState:
    params = net.init(key, jnp.zeros(n))
    start = lg.open_loop(jnp.zeros((T, m)), config.init_std**2 * jnp.eye(m), n)
    controllers = jax.tree.map(lambda a: jnp.broadcast_to(a, (num_conditions,) + a.shape), start)
    full = lambda size, value: jnp.full(size, value, jnp.float32)  # not weak-typed: the
    nan = full(num_conditions, jnp.nan)  # iteration's output state then compiles the same
    return GPSState(params, optimizer.init(params), full(m, config.init_std**2), controllers,
                    full(num_conditions, config.epsilon), nan, nan, jnp.zeros((), jnp.int32))

  def evaluate(params, starts, key):
    """pi_theta's mean run deterministically from each start for T steps."""
    env_state = data.reset(env, key, starts.shape[0]).replace(obs=starts)
    _, experience = acting.unroll(env, env_state, lambda obs, _: apply(params, obs), key, T)
    tr = experience.transition
    return -tr.reward.sum(0), tr.next_obs[-1]

  def s_step(controllers, X, params, opt_state, key):
    """pi_theta onto the controllers [C] at the states X [C, N, T, n]."""
    mean, precision = jax.vmap(policy.targets)(controllers, X)  # [C, N, T, m], [C, T, m, m]
    precision_each = jnp.broadcast_to(precision[:, None], mean.shape + (m,))
    params, opt_state, losses = policy.s_step(
        apply, optimizer, params, opt_state, X.reshape((-1, n)), mean.reshape((-1, m)),
        precision_each.reshape((-1, m, m)), key, config.sgd_steps, config.batch_size)
    return params, opt_state, policy.policy_variance(precision), losses

  def iteration(state: GPSState, starts, key):
    C = starts.shape[0]
    sample_key, fit_key, catch_up_key, s_key, eval_key = jax.random.split(key, 5)
    samples = jax.vmap(lambda p, x0, k: train.sample(env, p, x0, sigma0, k, config.num_samples))(
        state.controllers, starts, jax.random.split(sample_key, C))
    dynamics = jax.vmap(lambda s, k: train.fit_dynamics(s, k, config.num_clusters,
                                                        config.prior_strength))(
        samples, jax.random.split(fit_key, C))
    X = samples.X[:, :, :-1]  # [C, N, T, n] the states actions were taken in

    # The first iteration's pi_theta is random: first regress it onto the p_i sampled.
    keep = lambda: (state.params, state.opt_state, state.policy_var,
                    jnp.zeros(config.sgd_steps))
    params, opt_state, var, _ = jax.lax.cond(
        state.iteration == 0,
        lambda: s_step(state.controllers, X, state.params, state.opt_state, catch_up_key), keep)

    linear = jax.vmap(lambda x: policy.linearize(apply, params, x, var, config.ridge))(X)
    estimate = jax.vmap(lambda p, f, x0: estimated_cost(cost, p, f, x0, sigma0))
    laplace = estimate(linear, dynamics, starts)
    previous, predicted, achieved = state.laplace, state.predicted, laplace
    if config.shared_step:
      previous, predicted, achieved = (jnp.broadcast_to(a.mean(), (C,))
                                       for a in (previous, predicted, achieved))
    epsilon = train.adapt_epsilon(state.epsilon, previous, predicted, achieved,
                                  *config.epsilon_range)

    step = jax.vmap(lambda f, p, e, x0: trajectory_opt.update(f, cost, p, e, x0, sigma0))(
        dynamics, linear, epsilon, starts)
    new_predicted = estimate(step.controller, dynamics, starts)
    params, opt_state, var, losses = s_step(step.controller, X, params, opt_state, s_key)

    policy_cost, _ = evaluate(params, starts, eval_key)
    metrics = {'cost': samples.cost.mean(1), 'policy_cost': policy_cost, 'laplace': laplace,
               'predicted': new_predicted, 'kl': step.kl, 'eta': step.eta, 'epsilon': epsilon,
               's_loss_first': losses[:10].mean(), 's_loss_last': losses[-10:].mean(),
               'policy_std': jnp.sqrt(var)}
    new_state = GPSState(params, opt_state, var, step.controller, epsilon, laplace, new_predicted,
                         state.iteration + 1)
    return new_state, metrics

  return MDGPS(init, iteration, apply, evaluate)

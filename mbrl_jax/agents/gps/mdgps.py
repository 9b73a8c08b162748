"""Guided policy search by approximate mirror descent (MDGPS; Montgomery & Levine 2016,
"Guided Policy Search via Approximate Mirror Descent"), off-policy variant.

A neural global policy pi_theta and one time-varying linear-Gaussian controller
p_i per condition (initial state x0_i). Each iteration, every condition in one vmap:

  1. sample N trajectories of p_i on the env (the off-policy variant: the local
     controllers are run, not pi_theta; the on-policy one samples pi_theta);
  2. fit local dynamics to them (lqr_flm.fit_dynamics, GMM prior);
  3. linearise pi_theta at the sampled states: pi_bar_i (gaussian_mlp.linearize);
  4. C-step: p_i <- argmin E_p[cost] s.t. KL(p || pi_bar_i) <= epsilon_i, the
     LQR-FLM step (lqr_flm.update) with the KL taken to the linearised
     global policy rather than to the old p_i: the mirror-descent step;
  5. S-step: pi_theta <- the policy closest to the new p_i at the sampled states
     (gaussian_mlp.s_step: precision-weighted regression of the mean, closed-form
     covariance).
On the first iteration an S-step onto the initial controllers comes before 3, so
that pi_bar starts near them (as the GPS code's "catch the policy up").

Step size (the GPS code's 'laplace' rule): with C_hat(pi, f) the expected cost of
a linear-Gaussian pi under fitted dynamics f (the cost expanded to second order
about pi's marginals), the improvement predicted last iteration,
C_hat(pi_bar_prev, f_prev) - C_hat(p_new, f_prev), is compared with the one
achieved, C_hat(pi_bar_prev, f_prev) - C_hat(pi_bar_now, f_now): epsilon is
multiplied by predicted / (2 (predicted - achieved)) (lqr_flm.adapt_epsilon,
clipped). With config.shared_step the improvements are averaged over conditions
first and every condition gets the same step (as the GPS code does: the global
policy is shared).
"""

import flax
import jax
import jax.numpy as jnp
import ml_collections

from mbrl_jax.agents.gps import common
from mbrl_jax.policies import gaussian_mlp
from mbrl_jax.planners import lqr_flm
from mbrl_jax.policies import linear_gaussian as lg


def default_config() -> ml_collections.ConfigDict:
  return common.base_config()


@flax.struct.dataclass
class GPSState(common.SharedState):
  """MDGPS's state: the shared fields, and the step rule's figures of the last
  iteration (NaN before the first)."""
  laplace: jax.Array     # [C] C_hat(pi_bar, f) of the last iteration
  predicted: jax.Array   # [C] C_hat(p_new, f) of the last iteration's C-step


MDGPS = common.Algorithm


def estimated_cost(cost, controller: lg.LinearGaussianController, dynamics, x0, sigma0):
  """C_hat: E[sum_t c] of a linear-Gaussian controller under fitted dynamics, the cost
  expanded to second order about its own marginals (exact for a quadratic cost)."""
  marginals = lg.trajectory_marginals(controller, dynamics, x0, sigma0)
  quadratic = lqr_flm.quadratic_cost(cost, marginals)
  return lqr_flm.expected_cost(controller, dynamics, quadratic, x0, sigma0)


def build(env, config: ml_collections.ConfigDict, network=None, optimizer=None) -> MDGPS:
  """MDGPS on a JAX-native task (common.build); network and optimizer as in
  common.setup."""
  return common.build(init_and_iteration, env, config, network, optimizer)


def init_and_iteration(env, config, parts: common.Setup):
  """MDGPS's init and iteration on the shared parts."""
  cost, sigma0, apply, evaluate = parts.cost, parts.sigma0, parts.net.apply, parts.evaluate

  def init(key, num_conditions: int) -> GPSState:
    unknown = common.not_judged(num_conditions)
    return GPSState(laplace=unknown, predicted=unknown,
                    **common.initial_state(parts, config, key, num_conditions))

  def s_step(controllers, X, params, opt_state, key):
    """pi_theta onto the controllers [C] at the states X [C, N, T, n]."""
    mean, precision = jax.vmap(gaussian_mlp.targets)(controllers, X)  # [C, N, T, m], [C, T, m, m]
    params, opt_state, losses, skipped = common.regress_policy(parts, config, params, opt_state,
                                                               X, mean, precision, key)
    return params, opt_state, gaussian_mlp.policy_variance(precision), (losses, skipped)

  def iteration(state: GPSState, starts, key):
    C = starts.shape[0]
    sample_key, fit_key, catch_up_key, s_key, eval_key = jax.random.split(key, 5)
    samples, dynamics, X = common.sample_and_fit(env, config, sigma0, state.controllers,
                                                 starts, sample_key, fit_key)
    params, opt_state, var, (_, caught_up_skipped) = common.catch_up(
        state.iteration == 0,
        lambda: s_step(state.controllers, X, state.params, state.opt_state, catch_up_key),
        (state.params, state.opt_state, state.policy_var), config)

    linear = jax.vmap(lambda x: gaussian_mlp.linearize(apply, params, x, var))(X)
    estimate = jax.vmap(lambda p, f, x0: estimated_cost(cost, p, f, x0, sigma0))
    laplace = estimate(linear, dynamics, starts)
    previous, predicted, achieved = state.laplace, state.predicted, laplace
    if config.shared_step:
      previous, predicted, achieved = (jnp.broadcast_to(a.mean(), (C,))
                                       for a in (previous, predicted, achieved))
    epsilon = lqr_flm.adapt_epsilon(state.epsilon, previous, predicted, achieved,
                                  *config.epsilon_range)

    step = jax.vmap(lambda f, p, e, x0: lqr_flm.update(f, cost, p, e, x0, sigma0))(
        dynamics, linear, epsilon, starts)
    new_predicted = estimate(step.controller, dynamics, starts)
    params, opt_state, var, (losses, skipped) = s_step(step.controller, X, params, opt_state,
                                                       s_key)

    policy_cost, _ = evaluate(params, starts, eval_key)
    metrics = {'cost': samples.cost.mean(1), 'policy_cost': policy_cost, 'laplace': laplace,
               'predicted': new_predicted, 'kl': step.kl, 'eta': step.eta, 'epsilon': epsilon,
               'failed_c_steps': lqr_flm.failed(step).astype(jnp.float32),
               's_loss_first': losses[:10].mean(), 's_loss_last': losses[-10:].mean(),
               'skipped_updates': skipped + caught_up_skipped,
               'policy_std': jnp.sqrt(var),
               'nonfinite_steps': lqr_flm.nonfinite_steps(samples)}
    new_state = GPSState(params=params, opt_state=opt_state, policy_var=var,
                         controllers=step.controller, epsilon=epsilon,
                         iteration=state.iteration + 1, laplace=laplace, predicted=new_predicted)
    return new_state, metrics

  return init, iteration

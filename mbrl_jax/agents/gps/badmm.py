"""Guided policy search by Bregman ADMM (BADMM; Levine, Finn, Darrell & Abbeel 2016,
"End-to-End Training of Deep Visuomotor Policies", section 4 and appendix A).

A neural global policy pi_theta and one time-varying linear-Gaussian controller
p_i per condition. The constraint p_i(u_t | x_t) = pi_theta(u_t | x_t) is enforced
on the first moment, E_p[u_t] = E_{p(x_t) pi_theta}[u_t], with Lagrange multipliers
lambda_{i,t} [m] and Bregman (KL) penalties of weight nu_{i,t}. Each iteration:

  1. sample N trajectories of every p_i on the env, fit local dynamics to them
     (lqr_flm.sample / fit_dynamics), as MDGPS does;
  2. `inner_iterations` times, in the paper's order:
     a. C-step, per condition: p_i <- argmin E_p[c(x, u) - lambda_t' u_t]
        + sum_t nu_t KL(p(u_t|x_t) || pi_bar(u_t|x_t)) subject to KL(p || p_old) <=
        epsilon, pi_bar the policy linearised at the samples (gaussian_mlp.linearize),
        p_old the controller sampled. Its Lagrangian (eta for the trust region) is a
        maximum-entropy LQR problem with per-step entropy weight nu_t + eta on the
        quadratic cost c - lambda'u - nu_t log pi_bar - eta log p_old
        (`augmented_cost`, `c_step_solve`); eta by bisection (`c_step`);
     b. S-step: pi_theta <- argmin sum_{i,t} E_{x ~ samples}[lambda_t' mu_theta(x)
        + nu_t KL(pi_theta || p_i)]: the weighted regression of MDGPS onto the shifted
        targets mu_p(x) - Sigma_p lambda_t / nu_t with precision nu_t Sigma_p^-1
        (`s_step_targets`);
     c. dual step: lambda_t <- lambda_t + alpha nu_t (E_pi[u_t] - E_p[u_t]), the
        expectations at the sampled states (`dual_step`); at the last inner
        iteration nu_t grows (x nu_increase) where KL(p || pi) at step t is above
        kl_target and shrinks (x nu_decrease) where it is below kl_target / 10
        (`adapt_nu`).
On the first iteration an S-step onto the initial controllers (lambda = 0) comes
first, as in MDGPS. The trust region epsilon adapts as in LQR-FLM (the samples'
cost against the cost the last C-step predicted; lqr_flm.adapt_epsilon), shared over
conditions with config.shared_step.

Differences from the paper / the GPS code: the dual step is the paper's plain
alpha nu_t (E_pi[u] - E_p[u]) (the code preconditions it by Sigma_p^-1 and also has
a feedback-gain multiplier lambda_K; here lambda is a per-step vector only); the
linearisation is the plain least-squares fit (no GMM policy prior); no entropy
regulariser in the S-step; the step-size rule compares sample costs (the code adds
the nu-weighted KL terms to the Laplace estimates).
"""

import flax
import jax
import jax.numpy as jnp
import ml_collections

from mbrl_jax.agents.gps import common
from mbrl_jax.policies import gaussian_mlp
from mbrl_jax.planners import lqr_flm
from mbrl_jax.planners.lqr_flm import QuadraticCost
from mbrl_jax.policies import linear_gaussian as lg


def default_config() -> ml_collections.ConfigDict:
  config = common.base_config()
  config.inner_iterations = 2       # C-, S- and dual steps per batch of samples
  config.nu_init = 0.01   # initial nu_t (cost per nat; the GPS code's init_pol_wt): larger
  # ones anchor p_i to pi_bar where the cost is flat in u and slow the C-step down
  config.nu_range = (1e-3, 1e3)
  config.kl_target = 0.01           # KL(p || pi) per time step (nats) above which nu_t grows
  config.nu_increase = 2.0
  config.nu_decrease = 0.5          # below kl_target / 10
  config.dual_rate = 1.0            # alpha of the multiplier step
  return config


@flax.struct.dataclass
class BADMMState(common.SharedState):
  """BADMM's state: the shared fields (epsilon: the trust regions around the sampled
  controllers), the multipliers and penalty weights, and the step rule's figures."""
  lam: jax.Array         # [C, T, m] the multipliers lambda_{i,t}
  nu: jax.Array          # [C, T] the KL-penalty weights nu_{i,t}
  last_cost: jax.Array   # [C] the samples' mean cost last iteration (NaN before the first)
  predicted: jax.Array   # [C] what the last C-steps predicted it would be now


BADMM = common.Algorithm


def augmented_cost(quadratic: QuadraticCost, linear: lg.LinearGaussianController, lam,
                   nu) -> QuadraticCost:
  """c(x, u) - lambda_t' u - nu_t log pi_bar(u | x) (up to a constant) in z = (x, u):
  the cost quadratic [T] plus the multiplier term (gradient -lambda_t [T, m] in u)
  and nu_t [T] times -log pi_bar's quadratic."""
  n = quadratic.H_final.shape[0]
  H_pi, h_pi = lqr_flm.neg_log_prob_quadratic(linear)
  h = quadratic.h + nu[:, None] * h_pi
  h = h.at[:, n:].add(-lam)
  return QuadraticCost(quadratic.H + nu[:, None, None] * H_pi, h, quadratic.H_final,
                       quadratic.h_final)


def c_step_solve(dynamics, augmented: QuadraticCost, prev: lg.LinearGaussianController, nu,
                 eta) -> tuple:
  """argmin_p E_p[augmented] - sum_t (nu_t + eta) H(p(u_t|x_t)) - eta E_p[log p_old]:
  (controller, ok). The gains are LQR's on augmented - eta log p_old (the entropy
  terms do not depend on the mean); the maximum-entropy covariance at t is
  (nu_t + eta) Q_uu,t^-1 (the GPS code's per-step division with its value-function
  multiplier (nu_{t+1} + eta) / (nu_t + eta) gives the same). ok is false where some
  Q_uu is not positive definite."""
  H_old, h_old = lqr_flm.neg_log_prob_quadratic(prev)
  scale = eta + nu.mean()  # keeps the Riccati pass near unit scale for any eta
  scaled = QuadraticCost((augmented.H + eta * H_old) / scale, (augmented.h + eta * h_old) / scale,
                         augmented.H_final / scale, augmented.h_final / scale)
  K, k, Quu = lqr_flm.plain_lqr(dynamics, scaled)
  ok = jnp.all(jnp.isfinite(K)) & jnp.all(jnp.isfinite(jnp.linalg.cholesky(Quu)))
  return lg.from_q_function(K, k, Quu * (scale / (nu + eta))[:, None, None]), ok


def c_step(dynamics, cost, prev: lg.LinearGaussianController, linear: lg.LinearGaussianController,
           lam, nu, epsilon, mu0, sigma0, log_eta_range=(-10.0, 25.0),
           iterations: int = 50) -> lqr_flm.Update:
  """The C-step of one condition: the controller of `c_step_solve` whose KL to prev
  (the controller sampled) is epsilon, or below it at the smallest eta, by
  bisection on log eta (the KL falls as eta grows). The cost is expanded about
  prev's marginals under `dynamics`. lam [T, m], nu [T]."""
  marginals = lg.trajectory_marginals(prev, dynamics, mu0, sigma0)
  augmented = augmented_cost(lqr_flm.quadratic_cost(cost, marginals), linear, lam, nu)

  def kl_at(log_eta):
    controller, ok = c_step_solve(dynamics, augmented, prev, nu, jnp.exp(log_eta))
    return controller, lg.trajectory_kl(controller, prev, dynamics, mu0, sigma0), ok

  return lqr_flm.search_eta(kl_at, prev, epsilon, log_eta_range, iterations)


def controller_means(controller: lg.LinearGaussianController, X):
  """E_p[u_t | x_t] at the states X [N, T, n]: [N, T, m]."""
  return gaussian_mlp.targets(controller, X)[0]


def s_step_targets(controller: lg.LinearGaussianController, X, lam, nu):
  """The S-step's regression for one condition at X [N, T, n]: E[lambda_t' mu_theta]
  + nu_t KL(pi_theta || p) = nu_t / 2 |mu_theta - mu_p + Sigma_p lambda_t / nu_t|^2
  in the metric Sigma_p^-1 (+ const): targets [N, T, m], precisions nu_t Sigma_p^-1
  [T, m, m]."""
  mean, precision = gaussian_mlp.targets(controller, X)
  shift = jnp.einsum('tab,tb->ta', controller.cov, lam) / nu[:, None]
  return mean - shift, nu[:, None, None] * precision


def dual_step(lam, nu, policy_mean, controller_mean, rate):
  """lambda_t + rate nu_t (E_pi[u_t] - E_p[u_t]), the expectations the means over the
  sampled states of policy_mean and controller_mean [..., N, T, m]; lam [..., T, m],
  nu [..., T]."""
  gap = (policy_mean - controller_mean).mean(-3)
  return lam + rate * nu[..., None] * gap


def policy_kl(controller: lg.LinearGaussianController, apply, params, variance, X):
  """KL(p(u_t|x) || pi_theta(u_t|x)) averaged over the states X [N, T, n]: [T]."""
  mean_p = controller_means(controller, X)
  diff = apply(params, X) - mean_p  # [N, T, m]
  m = variance.shape[-1]
  trace = jnp.einsum('tii,i->t', controller.cov, 1.0 / variance)
  log_det = jnp.log(variance).sum() - jnp.linalg.slogdet(controller.cov)[1]
  mahalanobis = (diff**2 / variance).sum(-1).mean(0)
  return 0.5 * (trace - m + log_det + mahalanobis)


def adapt_nu(nu, kl, target, increase, decrease, low, high):
  """nu_t x increase where kl_t > target, x decrease where kl_t < target / 10, kept in
  [low, high] (the GPS code's multiplicative nu_t schedule, against a fixed target)."""
  factor = jnp.where(kl > target, increase, jnp.where(kl < 0.1 * target, decrease, 1.0))
  return jnp.clip(nu * factor, low, high)


def weighted_policy_variance(precision, nu):
  """The S-step's diagonal variance [m] for the nu-weighted precisions [C, T, m, m]
  (nu [C, T] included): 1 / (sum nu diag P / sum nu)."""
  diag = jnp.diagonal(precision, axis1=-2, axis2=-1).reshape((-1, precision.shape[-1]))
  return nu.sum() / diag.sum(0)


def build(env, config: ml_collections.ConfigDict, network=None, optimizer=None) -> BADMM:
  """BADMM GPS on a JAX-native task (common.build); network and optimizer as in
  common.setup."""
  return common.build(init_and_iteration, env, config, network, optimizer)


def init_and_iteration(env, config, parts: common.Setup):
  """BADMM's init and iteration on the shared parts."""
  cost, sigma0, apply, evaluate = parts.cost, parts.sigma0, parts.net.apply, parts.evaluate
  T, _, m = parts.sizes

  def init(key, num_conditions: int) -> BADMMState:
    unknown = common.not_judged(num_conditions)
    return BADMMState(lam=jnp.zeros((num_conditions, T, m), jnp.float32),
                      nu=jnp.full((num_conditions, T), config.nu_init, jnp.float32),
                      last_cost=unknown, predicted=unknown,
                      **common.initial_state(parts, config, key, num_conditions))

  def s_step(controllers, X, lam, nu, params, opt_state, key):
    """pi_theta onto the controllers [C] at the states X [C, N, T, n], multipliers lam."""
    mean, precision = jax.vmap(s_step_targets)(controllers, X, lam, nu)
    params, opt_state, losses, skipped = common.regress_policy(parts, config, params, opt_state,
                                                               X, mean, precision, key)
    return params, opt_state, weighted_policy_variance(precision, nu), (losses, skipped)

  def iteration(state: BADMMState, starts, key):
    C = starts.shape[0]
    sample_key, fit_key, catch_up_key, inner_key, eval_key = jax.random.split(key, 5)
    samples, dynamics, X = common.sample_and_fit(env, config, sigma0, state.controllers,
                                                 starts, sample_key, fit_key)
    actual = samples.cost.mean(1)

    previous, predicted, achieved = state.last_cost, state.predicted, actual
    if config.shared_step:
      previous, predicted, achieved = (jnp.broadcast_to(a.mean(), (C,))
                                       for a in (previous, predicted, achieved))
    epsilon = lqr_flm.adapt_epsilon(state.epsilon, previous, predicted, achieved,
                                  *config.epsilon_range)
    params, opt_state, var, (_, caught_up_skipped) = common.catch_up(
        state.iteration == 0,
        lambda: s_step(state.controllers, X, state.lam, state.nu, state.params, state.opt_state,
                       catch_up_key),
        (state.params, state.opt_state, state.policy_var), config)

    def inner(carry, inputs):
      params, opt_state, var, lam, nu, _ = carry
      index, key = inputs
      linear = jax.vmap(lambda x: gaussian_mlp.linearize(apply, params, x, var))(X)
      step = jax.vmap(lambda f, p, pi, l, v, e, x0: c_step(f, cost, p, pi, l, v, e, x0, sigma0))(
          dynamics, state.controllers, linear, lam, nu, epsilon, starts)
      params, opt_state, var, losses = s_step(step.controller, X, lam, nu, params, opt_state,
                                              key)
      lam = dual_step(lam, nu, apply(params, X), jax.vmap(controller_means)(step.controller, X),
                      config.dual_rate)
      kl = jax.vmap(lambda p, x: policy_kl(p, apply, params, var, x))(step.controller, X)
      adapted = adapt_nu(nu, kl, config.kl_target, config.nu_increase, config.nu_decrease,
                         *config.nu_range)
      nu = jnp.where(index == config.inner_iterations - 1, adapted, nu)
      outputs = (losses, kl.sum(-1), lqr_flm.failed(step))
      return (params, opt_state, var, lam, nu, step), outputs

    K = config.inner_iterations
    dummy = lqr_flm.Update(state.controllers, jnp.zeros(C), jnp.zeros(C))
    (params, opt_state, var, lam, nu, step), (losses, kls, failed) = jax.lax.scan(
        inner, (params, opt_state, var, state.lam, state.nu, dummy),
        (jnp.arange(K), jax.random.split(inner_key, K)))

    # The next samples' cost as the local model predicts it (LQR-FLM's step-size rule).
    def change(p_new, p_old, f, x0):
      quadratic = lqr_flm.quadratic_cost(
          cost, lg.trajectory_marginals(p_old, f, x0, sigma0))
      expected = lambda p: lqr_flm.expected_cost(p, f, quadratic, x0, sigma0)
      return expected(p_new) - expected(p_old)
    new_predicted = actual + jax.vmap(change)(step.controller, state.controllers, dynamics,
                                              starts)

    policy_cost, _ = evaluate(params, starts, eval_key)
    metrics = {'cost': actual, 'policy_cost': policy_cost, 'predicted': new_predicted,
               'kl': step.kl, 'eta': step.eta, 'epsilon': epsilon, 'policy_kl': kls[-1],
               'nu': nu.mean(-1), 'lambda_norm': jnp.linalg.norm(lam, axis=(-2, -1)),
               'failed_c_steps': failed.sum(0).astype(jnp.float32),
               's_loss_first': losses[0][-1, :10].mean(),
               's_loss_last': losses[0][-1, -10:].mean(),
               'skipped_updates': losses[1].sum() + caught_up_skipped,
               'policy_std': jnp.sqrt(var),
               'nonfinite_steps': lqr_flm.nonfinite_steps(samples)}
    new_state = BADMMState(params=params, opt_state=opt_state, policy_var=var,
                           controllers=step.controller, epsilon=epsilon,
                           iteration=state.iteration + 1, lam=lam, nu=nu, last_cost=actual,
                           predicted=new_predicted)
    return new_state, metrics

  return init, iteration

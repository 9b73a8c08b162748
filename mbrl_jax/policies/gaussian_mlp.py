"""The global policy of guided policy search and its two links to the local controllers.

pi_theta(u | x) = N(mu_theta(x), diag(var)): an MLP mean of the state and a
state-independent diagonal covariance, as in the GPS papers.

  linearize  pi_theta -> pi_bar_i: per time step, mu_theta's Jacobian averaged over
             the states a condition's samples visited, through their mean action,
             with the policy's covariance; the "policy linearisation" the C-step's
             KL constraint is taken against. (The GPS code regresses policy
             samples under a GMM prior instead; a network's Jacobian is exact and
             stays well posed when the samples barely differ, where a regression
             of 5 nearly equal states gives arbitrary gains.)
  s_step     p_i -> pi_theta: minimise sum_i E_{x ~ samples} KL(pi_theta(u|x) ||
             p_i(u|x)) over theta. Its mean part is the precision-weighted
             regression (mu_theta(x) - mu_p(x))' Sigma_p^-1 (mu_theta(x) - mu_p(x)),
             made with a fixed number of Adam steps on random minibatches; its
             covariance part has the closed form var = 1 / mean diag(Sigma_p^-1)
             (the GPS code's, with no entropy regulariser).

Pure functions of arrays; every one jit/vmap-able.
"""

from typing import Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from mbrl_jax.core.guards import apply_if_finite
from mbrl_jax.core.networks import ACTIVATIONS
from mbrl_jax.policies import linear_gaussian as lg


Apply = Callable  # (params, obs [..., n]) -> mean action [..., m]


class MLP(nn.Module):
  """The deterministic mean mu_theta(x): obs [..., n] -> action [..., m]."""
  hidden_sizes: Sequence[int]
  action_size: int
  activation: str = 'tanh'

  @nn.compact
  def __call__(self, obs):
    x = obs
    for width in self.hidden_sizes:
      x = ACTIVATIONS[self.activation](nn.Dense(width)(x))
    return nn.Dense(self.action_size)(x)


def linearize(apply: Apply, params, X, variance) -> lg.LinearGaussianController:
  """pi_bar(u_t | x_t) = N(K_t x_t + k_t, diag(variance)) at the states X [N, T, n] (the
  samples' x_t, t < T): K_t = mean_i d mu_theta / dx (x_it), k_t = mean_i mu_theta(x_it)
  - K_t mean_i x_it. Exact for an affine mu_theta. variance [m]."""
  T, m = X.shape[1], variance.shape[-1]
  mu = lambda x: apply(params, x)
  U = apply(params, X)                                     # [N, T, m]
  J = jax.vmap(jax.vmap(jax.jacfwd(mu)))(X)                # [N, T, m, n]
  K = J.mean(0)
  k = U.mean(0) - jnp.einsum('tmn,tn->tm', K, X.mean(0))
  cov = jnp.broadcast_to(jnp.diag(variance), (T, m, m))
  return lg.LinearGaussianController(K=K, k=k, cov=cov, x_hat=jnp.zeros_like(X[0]),
                                     u_hat=jnp.zeros_like(k))


def targets(controller: lg.LinearGaussianController, X):
  """What the S-step regresses onto at the states X [N, T, n]: the controller's
  mean actions [N, T, m] and its precisions Sigma_p,t^-1 [T, m, m]."""
  T = controller.K.shape[0]
  mean = jax.vmap(jax.vmap(lg.mean_action, (None, 0, 0)), (None, 0, None))(
      controller, X, jnp.arange(T))
  return mean, jnp.linalg.inv(controller.cov)


def policy_variance(precision):
  """The covariance part of the S-step: the diagonal var [m] minimising
  E[tr(P Sigma) - log det Sigma] over the precisions P [..., m, m], 1 / mean diag P."""
  diag = jnp.diagonal(precision, axis1=-2, axis2=-1).reshape((-1, precision.shape[-1]))
  return 1.0 / diag.mean(0)


def weighted_loss(apply: Apply, params, obs, mean, precision):
  """The mean of (mu_theta(x) - mean)' P (mu_theta(x) - mean) over a batch: obs
  [B, n], mean [B, m], precision [B, m, m]."""
  d = apply(params, obs) - mean
  return jnp.einsum('bi,bij,bj->b', d, precision, d).mean()


def s_step(apply: Apply, optimizer: optax.GradientTransformation, params, opt_state, obs, mean,
           precision, key, steps: int, batch_size: int):
  """`steps` Adam (or any optax) steps on the weighted regression, each on a
  minibatch drawn with replacement from obs [D, n], mean [D, m], precision
  [D, m, m]. A step whose loss or gradient has a NaN or inf entry is not applied
  (guards.apply_if_finite) and is counted. Returns (params, opt_state, losses
  [steps] (each minibatch's loss, before its step), skipped steps)."""
  loss_and_grad = jax.value_and_grad(lambda p, idx: weighted_loss(
      apply, p, obs[idx], mean[idx], precision[idx]))

  def step(carry, step_key):
    params, opt_state, skipped = carry
    idx = jax.random.randint(step_key, (batch_size,), 0, obs.shape[0])
    loss, grad = loss_and_grad(params, idx)
    params, opt_state, skip, _ = apply_if_finite(optimizer, params, opt_state, grad, loss)
    return (params, opt_state, skipped + skip), loss

  (params, opt_state, skipped), losses = jax.lax.scan(
      step, (params, opt_state, jnp.zeros(())), jax.random.split(key, steps))
  return params, opt_state, losses, skipped

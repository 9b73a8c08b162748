"""model_pg's losses: pure functions of imagined batches, time-major [H, N] (or a
flat minibatch [B]); `weight` is the alive mask, so nothing after a termination
counts. PPO's advantages come from `returns.gae` (Schulman et al. 2016, eq. 16)."""

import jax.numpy as jnp

from mbrl_jax import estimators
from mbrl_jax.core import returns


def reinforce_advantages(rewards, tail, weight, discount: float, values=None):
  """REINFORCE's returns and advantages: return minus a baseline (Williams 1992's
  reinforcement baseline, there subtracted from the reward).

  The return is the discounted reward-to-go within the window plus
  gamma^(H - t) tail (tail [N]: V(s_H), or 0 where the window terminated);
  the baseline is `values` (V(s_t), [H, N]) or, without them, the alive-weighted
  batch mean of the return at each step. Returns (advantages, returns)."""
  to_go = returns.reward_to_go(rewards, discount, tail)
  if values is None:
    values = (weight * to_go).sum(1, keepdims=True) / jnp.maximum(
        weight.sum(1, keepdims=True), 1.0)
  return to_go - values, to_go


def reinforce_loss(log_prob, advantages, weight):
  """REINFORCE (Williams 1992): minus the likelihood-ratio surrogate
  sum(w log pi(a|s) A), A held constant, per alive step; its gradient is the
  score-function estimate -sum_t w_t grad log pi(a_t|s_t) A_t / sum(w)."""
  surrogate = estimators.likelihood_ratio_surrogate(log_prob, advantages, weight)
  return -surrogate / jnp.maximum(weight.sum(), 1.0)


def ppo_loss(log_prob, old_log_prob, advantages, weight, clip_epsilon: float,
             entropy_cost: float = 0.0, entropy=None):
  """PPO's policy loss (Schulman et al. 2017): minus the clipped surrogate L^CLIP
  (eq. 7), the weighted mean of min(rho A, clip(rho, 1 - eps, 1 + eps) A) with
  rho = pi(a|s) / pi_old(a|s), minus `entropy_cost` times the mean of `entropy`
  (the bonus c2 S of eq. 9; not needed, and not computed, at cost 0). The value
  term of eq. 9 is `value_loss`, fitted with its own optimizer."""
  loss = estimators.ppo_clipped_loss(log_prob, old_log_prob, advantages, clip_epsilon, weight)
  if entropy_cost:
    loss = loss - entropy_cost * entropy.mean()
  return loss


def value_loss(values, targets, weight):
  """The value regression, PPO's squared error L^VF (Schulman et al. 2017, eq. 9):
  sum(w (V(s) - target)^2) / sum(w). REINFORCE's targets are its returns, PPO's the
  GAE(lambda) returns; actor_critic.fit_value minimises this loss."""
  return (weight * (values - targets)**2).sum() / jnp.maximum(weight.sum(), 1.0)

"""SAC's temperature loss with the target entropy as a setting; the critic and actor
losses are brax.training's (learner.py)."""

import jax
import jax.numpy as jnp


def target_entropy(config, action_size: int) -> float:
  """config.target_entropy_per_action x |A|: brax's -0.5 |A| by default, the SAC
  paper's -|A| at -1; the MBPO paper's code sets it per task (Hopper -1, HalfCheetah
  -3, Walker2d -3)."""
  return float(config.target_entropy_per_action) * action_size


def alpha_loss(log_alpha, log_prob, target: float):
  """J(alpha) = E[-alpha log pi(a|s) - alpha H_target] (Haarnoja et al. 2018b, eq. 18),
  with the log-probabilities of actions sampled from the current policy held fixed:
  its gradient in log alpha is alpha E[-log pi - H_target], so alpha grows while the
  policy's entropy is below the target and shrinks while it is above."""
  alpha = jnp.exp(log_alpha)
  return jnp.mean(alpha * jax.lax.stop_gradient(-log_prob - target))


def soft_q_bound(max_reward, alpha, action_size: int, discount: float, reward_scaling: float):
  """The largest soft Q-value any policy can have when no reward exceeds max_reward:
  (c r_max + alpha |A| log 2) / (1 - gamma). The entropy bonus is at most |A| log 2 per
  step, the entropy of the uniform density on the squashed action box [-1, 1]^|A|.
  A critic above it overestimates (MBPO's critic on model data, for one)."""
  return (reward_scaling * max_reward + alpha * action_size * jnp.log(2.0)) / (1.0 - discount)

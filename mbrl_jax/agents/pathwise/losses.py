"""Pathwise's losses: the window objective the policy descends and the critic's
regression targets, after the short-horizon actor-critic (SHAC) of Xu et al. 2022,
"Accelerated Policy Learning with Parallel Differentiable Simulation", section
"Short-Horizon Actor-Critic" (its policy loss and its critic's TD(lambda) targets).

Windows are time-major transitions [H, N] (H = horizon, N envs or imagined starts);
`value(obs [..., obs]) -> [...]` is V(s), zeros where the agent has no critic.
"""

from typing import Callable

import jax

from mbrl_jax import data
from mbrl_jax.core import returns


def window_loss(window: data.Transition, final_obs: jax.Array, value: Callable,
                discount: float, reward_scaling: float) -> jax.Array:
  """SHAC's policy loss: minus the mean over the N windows of
  sum_{t<H} discount^t r_t + discount^H V(s_H), divided by H.

  V closes the window at its last state (`final_obs` [N, obs]) and, where an episode
  ended by the time limit inside it, at the true next observation; nothing follows a
  termination (returns.window_return). With V = 0 this is the truncated backprop
  through time of analytic policy gradients (brax.training's apg): the plain
  discounted window return. Differentiated through the dynamics that produced
  `window`, it is the pathwise gradient.
  """
  horizon = window.reward.shape[0]
  objective = returns.window_return(reward_scaling * window.reward, value(window.next_obs),
                                    window.done, window.truncation, value(final_obs), discount)
  return -objective.mean() / horizon


def value_targets(window: data.Transition, target_value: Callable, discount: float,
                  lambda_: float, reward_scaling: float) -> jax.Array:
  """SHAC's critic targets: TD(lambda) returns of the window [H, N] from the target
  critic (`target_value`, the Polyak-averaged V), treated as constants; the critic
  regresses on them by mean squared error (actor_critic.fit_value). A time-limit end
  bootstraps from V of the true next observation, a termination from nothing
  (returns.lambda_returns)."""
  window = jax.lax.stop_gradient(window)
  return returns.lambda_returns(reward_scaling * window.reward, target_value(window.next_obs),
                                window.done, window.truncation, discount, lambda_)

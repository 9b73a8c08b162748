"""Return arithmetic: every discounted sum the agents and estimators learn from.

Notation, fixed for the whole module: arrays are time-major, [T, ...] with T the
steps of a window (or episode) and ... any batch shape; r_t is the reward of step
t, gamma the discount, V(s) a value estimate. Two kinds of episode flag appear:

- `dones` as `models.rollout` gives them: 1.0 from the terminating step on
  (cumulative); nothing after it counts.
- `done` / `truncation` as real env transitions give them: 1.0 at the step that
  ended an episode (by termination or by the time limit, `truncation`), after which
  an auto-reset starts the next episode inside the same window.

Pure functions of arrays; they import nothing of the package.
"""

import jax
import jax.numpy as jnp
from brax.training.agents.ppo import losses as ppo_losses


def alive_mask(dones: jax.Array) -> jax.Array:
  """1.0 where step t happens before any termination, [T, ...]: step t counts if no
  earlier step terminated (the terminating step itself counts), from cumulative
  `dones`."""
  return 1.0 - jnp.concatenate([jnp.zeros_like(dones[:1]), dones[:-1]])


def reward_to_go(rewards: jax.Array, discount: float = 1.0, tail=None) -> jax.Array:
  """G_t = sum_{k >= t} gamma^(k - t) r_k + gamma^(T - t) tail, [T, ...].

  tail [...]: the value after the window (none by default: a plain sum).
  """
  def back(g, r):
    g = r + discount * g
    return g, g
  start = jnp.zeros_like(rewards[0]) if tail is None else tail
  _, out = jax.lax.scan(back, start, rewards, reverse=True)
  return out


def lambda_returns(rewards, next_values, done, truncation, discount: float,
                   lambda_: float) -> jax.Array:
  """TD(lambda) targets, [T, ...], for windows of real transitions that may cross
  episode ends.

  G_t = r_t + gamma ((1 - lambda) V(s_{t+1}) + lambda G_{t+1}); at a step that ended
  an episode (done) only V of the true next observation follows, and only for a
  time-limit end (truncation); the window's last step bootstraps fully from V(s_T).
  next_values[t] = V(s_{t+1}).
  """
  cont = 1.0 - done
  bootstrap = truncation * done

  def back(g_next, inputs):
    r, v, c, b = inputs
    g = r + discount * (b * v + c * ((1.0 - lambda_) * v + lambda_ * g_next))
    return g, g

  _, targets = jax.lax.scan(back, next_values[-1], (rewards, next_values, cont, bootstrap),
                            reverse=True)
  return targets


def window_return(rewards, next_values, done, truncation, final_value,
                  discount: float) -> jax.Array:
  """The discounted return of one window of real transitions, [T, ...] -> [...].

  Each episode segment in the window adds its discounted rewards, closed by
  gamma^k V(true next obs) where it ended by the time limit (nothing at a
  termination); the segment still open at the window's end is closed by
  gamma^k final_value. Zero values give the plain sum of discounted rewards.
  """
  def forward(carry, inputs):
    acc, weight, total = carry
    r, v, d, trunc = inputs
    acc = acc + weight * r
    total = total + d * (acc + weight * discount * trunc * v)
    acc = (1.0 - d) * acc
    weight = d + (1.0 - d) * weight * discount
    return (acc, weight, total), None

  zeros = jnp.zeros_like(rewards[0])
  (acc, weight, total), _ = jax.lax.scan(forward, (zeros, zeros + 1.0, zeros),
                                         (rewards, next_values, done, truncation))
  return total + (1.0 - done[-1]) * (acc + weight * final_value)


def gae(rewards, values, bootstrap_value, dones, discount: float, lambda_: float):
  """GAE(lambda) advantages and value targets of imagined windows, [T, ...] each.

  `dones` cumulative; the window's end is not an episode end, so V(s_T)
  (bootstrap_value [...]) closes it. The targets are brax's `compute_gae`
  lambda-returns; the advantage is target - V(s_t), Schulman et al.'s GAE (brax's
  own advantage, r_t + gamma target_{t+1} - V(s_t), weighs the next step's
  lambda-return fully instead).
  """
  termination = dones - (1.0 - alive_mask(dones))  # 1.0 at the terminating step only
  targets, _ = ppo_losses.compute_gae(
      truncation=jnp.zeros_like(rewards), termination=termination, rewards=rewards,
      values=values, bootstrap_value=bootstrap_value, lambda_=lambda_, discount=discount)
  return targets - values, targets


def mve_targets(rewards, terminals, entropy_bonus, end_value, discount: float):
  """MVE's soft H-step targets y_0..y_H of s_0, a_0, ..., s_H, a_H, s_{H+1}, [H + 1, ...]:
  y_i = r_i + gamma (1 - d_i) (y_{i+1} + bonus_{i+1}), with y_{H+1} + bonus_{H+1} =
  end_value, the target critics' soft value of s_{H+1}.

  terminals: 1.0 at a terminating step; entropy_bonus: -alpha log pi(a_i | s_i)
  (index 0 unused). Nothing after a terminal step reaches its target, not even a
  NaN or inf (a select, not a product with 1 - d_i).
  """
  def backward(next_value, inputs):
    reward, terminal, bonus = inputs
    value = reward + jnp.where(terminal > 0, 0.0, discount * next_value)
    return value + bonus, value

  _, targets = jax.lax.scan(backward, end_value, (rewards, terminals, entropy_bonus),
                            reverse=True)
  return targets

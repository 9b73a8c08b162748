"""Sampling-based planners over action sequences ("shooting").

A planner maximises `objective(actions [horizon, act]) -> return` for one start
state; batch it over start states with `jax.vmap`.
"""

from typing import Optional, Tuple

import jax
import jax.numpy as jnp

from mbrl_jax.core.types import Objective


def check_sizes(horizon: int, population: int) -> None:
  if int(horizon) < 1 or int(population) < 1:
    raise ValueError(f'planner needs horizon >= 1 and population >= 1, got '
                     f'horizon={horizon}, population={population}.')


def random_shooting(objective: Objective, key: jax.Array, action_low: jax.Array,
                    action_high: jax.Array, horizon: int, population: int
                    ) -> Tuple[jax.Array, jax.Array]:
  """The best of `population` uniformly drawn action sequences.

  Returns (actions [horizon, act], their return). A sequence whose return is NaN
  is never chosen; if all are NaN the first sequence is returned with return NaN.
  """
  check_sizes(horizon, population)
  shape = (population, horizon, jnp.shape(action_low)[-1])
  candidates = jax.random.uniform(key, shape, minval=action_low, maxval=action_high)
  returns = jax.vmap(objective)(candidates)
  best = jnp.argmax(jnp.where(jnp.isnan(returns), -jnp.inf, returns))
  return candidates[best], returns[best]


SAMPLING = ('clip', 'truncated')


def nan_as_worst(returns: jax.Array) -> jax.Array:
  """Returns to rank by: NaN counts as the worst possible (-inf)."""
  return jnp.where(jnp.isnan(returns), -jnp.inf, returns)


def default_mean_std(action_low: jax.Array, action_high: jax.Array
                     ) -> Tuple[jax.Array, jax.Array]:
  """The middle of the bounds and a quarter of their range, per action dimension.

  A dimension with an infinite bound has no middle: it gets 0 (clipped into the
  bounds) and a spread of 1 rather than NaN.
  """
  low, high = jnp.asarray(action_low), jnp.asarray(action_high)
  bounded = jnp.isfinite(low) & jnp.isfinite(high)
  mean = jnp.where(bounded, (low + high) / 2, jnp.clip(0.0, low, high))
  std = jnp.where(bounded, (high - low) / 4, 1.0)
  return mean, std


def start_distribution(action_low, action_high, horizon: int, init_mean=None, init_std=None):
  """(low, high, mean, std) where the samplers start: mean [horizon, act] the warm
  start (default the bounds' middle) clipped into the bounds, std [horizon, act]
  `init_std` (default a quarter of the range), both broadcast."""
  low, high = jnp.asarray(action_low), jnp.asarray(action_high)
  shape = (int(horizon), low.shape[-1])
  mean0, std0 = default_mean_std(low, high)
  mean = jnp.clip(jnp.broadcast_to(mean0 if init_mean is None else init_mean, shape),
                  low, high)
  return low, high, mean, jnp.broadcast_to(std0 if init_std is None else init_std, shape)


def shift_plan(plan: jax.Array, fill: jax.Array, steps: int = 1) -> jax.Array:
  """The warm start for the next plan: drop the `steps` executed first actions, append
  `fill` as often.

  `fill` is one action [act] (or a scalar), e.g. the middle of the bounds.
  """
  fill = jnp.broadcast_to(jnp.asarray(fill, plan.dtype), (steps,) + plan.shape[1:])
  return jnp.concatenate([plan[steps:], fill], axis=0)


def _sample(key, mean, std, low, high, population, sampling):
  """`population` action sequences around `mean` [H, act] with spread `std`, in bounds."""
  shape = (population,) + mean.shape
  if sampling == 'truncated':
    # A standard normal truncated to the bounds in standardised units, scaled back.
    z = jax.random.truncated_normal(key, (low - mean) / std, (high - mean) / std, shape,
                                    mean.dtype)
  else:
    z = jax.random.normal(key, shape, mean.dtype)
  # For 'truncated' the clip only catches rounding in mean + std * z.
  return jnp.clip(mean + std * z, low, high)


def _check_iterations(iterations: int) -> None:
  if int(iterations) < 1:
    raise ValueError(f'planner needs iterations >= 1, got iterations={iterations}.')


def cem(objective: Objective, key: jax.Array, action_low: jax.Array,
        action_high: jax.Array, horizon: int, population: int,
        elite_fraction: float = 0.1, num_elites: Optional[int] = None,
        iterations: int = 5, alpha: float = 0.1,
        init_mean: Optional[jax.Array] = None, init_std: Optional[jax.Array] = None,
        sampling: str = 'clip', min_std: float = 1e-6, return_best: bool = True
        ) -> Tuple[jax.Array, jax.Array]:
  """The cross-entropy method over action sequences (as in PETS).

  Each iteration draws `population` sequences from a Gaussian per (step, action
  dimension), keeps the `num_elites` best (default `elite_fraction * population`,
  at least 1) and moves the Gaussian to them, smoothed:
  `mean = alpha * mean + (1 - alpha) * elite_mean`, likewise the std, floored at
  `min_std` so the search never collapses to a point.

  Args:
    init_mean, init_std: the first Gaussian (a warm start, e.g. `shift_plan` of the
      last plan); broadcast to [horizon, act]. Default: the middle of the bounds and
      a quarter of their range (`default_mean_std`).
    sampling: 'clip' draws N(mean, std) and clips to the bounds; 'truncated' draws
      from the normal truncated to the bounds.
    return_best: return the best sequence evaluated (the initial mean, any sample or
      the final mean); otherwise the final mean.

  Returns (plan [horizon, act], objective(plan)). NaN returns rank below every
  other return, so they are never elites unless all of a population are NaN.
  """
  check_sizes(horizon, population)
  if num_elites is None:
    if not 0 < elite_fraction <= 1:
      raise ValueError(f'cem needs 0 < elite_fraction <= 1, got elite_fraction={elite_fraction}.')
    num_elites = max(1, int(round(elite_fraction * population)))
  if not 1 <= int(num_elites) <= int(population):
    raise ValueError(f'cem needs 1 <= num_elites <= population={population}, '
                     f'got num_elites={num_elites}.')
  _check_iterations(iterations)
  if sampling not in SAMPLING:
    raise ValueError(f'cem sampling must be one of {SAMPLING}, got {sampling!r}.')
  low, high, mean, std = start_distribution(action_low, action_high, horizon, init_mean,
                                            init_std)
  std = jnp.maximum(std, min_std)

  def iteration(carry, key):
    mean, std, best_plan, best_value = carry
    samples = _sample(key, mean, std, low, high, int(population), sampling)
    returns = jax.vmap(objective)(samples)
    scores, idx = jax.lax.top_k(nan_as_worst(returns), int(num_elites))
    elites = samples[idx]
    mean = alpha * mean + (1 - alpha) * elites.mean(0)
    std = jnp.maximum(alpha * std + (1 - alpha) * elites.std(0), min_std)
    better = scores[0] > nan_as_worst(best_value)
    best_plan = jnp.where(better, elites[0], best_plan)
    best_value = jnp.where(better, returns[idx[0]], best_value)
    return (mean, std, best_plan, best_value), None

  start = (mean, std, mean, objective(mean))
  (mean, _, best_plan, best_value), _ = jax.lax.scan(
      iteration, start, jax.random.split(key, int(iterations)))
  value = objective(mean)
  if not return_best:
    return mean, value
  final_wins = nan_as_worst(value) >= nan_as_worst(best_value)
  return jnp.where(final_wins, mean, best_plan), jnp.where(final_wins, value, best_value)


def mppi(objective: Objective, key: jax.Array, action_low: jax.Array,
         action_high: jax.Array, horizon: int, population: int, iterations: int = 1,
         temperature: float = 1.0, noise_std: Optional[jax.Array] = None,
         init_mean: Optional[jax.Array] = None) -> Tuple[jax.Array, jax.Array]:
  """Model-predictive path integral control: a softmax-weighted mean of perturbations.

  Each iteration adds N(0, noise_std) noise to the mean, clips the `population`
  sequences to the bounds, and sets the mean to their average weighted by
  softmax(return / temperature); a NaN return gets weight 0 (if every return is
  NaN the mean is kept). A low temperature trusts the best samples most.

  Args:
    noise_std: broadcast to [horizon, act]; default a quarter of the bound range.
    init_mean: the warm start, broadcast to [horizon, act]; default the middle of
      the bounds.

  Returns (plan [horizon, act], value): the final mean and its return, evaluated
  with one more call of `objective` (not the weighted return of the samples).
  """
  check_sizes(horizon, population)
  _check_iterations(iterations)
  if isinstance(temperature, (int, float)) and not temperature > 0:
    raise ValueError(f'mppi needs temperature > 0, got temperature={temperature}.')
  low, high, mean, std = start_distribution(action_low, action_high, horizon, init_mean,
                                            noise_std)

  def iteration(mean, key):
    samples = _sample(key, mean, std, low, high, int(population), 'clip')
    scores = nan_as_worst(jax.vmap(objective)(samples))
    weights = jax.nn.softmax(scores / temperature)  # subtracts the max: no overflow
    new_mean = jnp.einsum('n,nha->ha', weights, samples)
    # All -inf (or a +inf) return makes the weights NaN: keep the old mean then.
    return jnp.where(jnp.all(jnp.isfinite(new_mean)), new_mean, mean), None

  mean, _ = jax.lax.scan(iteration, mean, jax.random.split(key, int(iterations)))
  return mean, objective(mean)

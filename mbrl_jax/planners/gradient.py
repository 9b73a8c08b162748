"""Gradient shooting: ascend the return of an action sequence through a differentiable model."""

from typing import NamedTuple, Optional

import jax
import jax.numpy as jnp
import optax

from mbrl_jax.planners.shooting import Objective, nan_as_worst, default_mean_std


class GradientResult(NamedTuple):
  plan: jax.Array     # [horizon, act], the best iterate found
  value: jax.Array    # objective(plan)
  skipped: jax.Array  # int32: steps skipped for a NaN/inf gradient, summed over restarts


def gradient_shooting(objective: Objective, init_actions: jax.Array,
                      action_low: jax.Array, action_high: jax.Array, steps: int = 50,
                      learning_rate: float = 0.05,
                      optimizer: Optional[optax.GradientTransformation] = None,
                      key: Optional[jax.Array] = None, num_restarts: int = 1,
                      restart_std: Optional[jax.Array] = None) -> GradientResult:
  """Maximises `objective(actions [horizon, act])` by projected gradient ascent.

  Each of `steps` steps applies `optimizer` (default `optax.adam(learning_rate)`)
  to the negated gradient and clips the actions to the bounds (infinite bounds:
  unconstrained). A step whose gradient has a NaN or inf is skipped (actions and
  optimizer state unchanged) and counted. The best iterate by return is kept, so
  the plan is never worse than `init_actions` (NaN returns rank lowest).

  With `num_restarts > 1` (needs `key`), the first run starts at `init_actions`
  and the others at `init_actions + restart_std * N(0, 1)` clipped to the bounds
  (default std: a quarter of the bound range, 1 where unbounded); the runs are
  vmapped and the best is returned.

  Returns GradientResult(plan, value, skipped).
  """
  init_actions = jnp.asarray(init_actions)
  if init_actions.ndim != 2 or min(init_actions.shape) < 1:
    raise ValueError(f'gradient_shooting needs init_actions of shape [horizon >= 1, act >= 1], '
                     f'got shape {init_actions.shape}.')
  if int(steps) < 1 or int(num_restarts) < 1:
    raise ValueError(f'gradient_shooting needs steps >= 1 and num_restarts >= 1, got '
                     f'steps={steps}, num_restarts={num_restarts}.')
  if int(num_restarts) > 1 and key is None:
    raise ValueError(f'gradient_shooting needs a key for num_restarts={num_restarts} > 1.')
  optimizer = optax.adam(learning_rate) if optimizer is None else optimizer
  low, high = jnp.asarray(action_low), jnp.asarray(action_high)
  value_and_grad = jax.value_and_grad(objective)

  def step(carry, _):
    actions, opt_state, best, best_value, skipped = carry
    value, grad = value_and_grad(actions)
    better = nan_as_worst(value) > nan_as_worst(best_value)
    best, best_value = jnp.where(better, actions, best), jnp.where(better, value, best_value)
    updates, new_state = optimizer.update(-grad, opt_state, actions)  # ascent
    new_actions = jnp.clip(optax.apply_updates(actions, updates), low, high)
    ok = jnp.all(jnp.isfinite(grad))
    keep = lambda new, old: jnp.where(ok, new, old)
    return (keep(new_actions, actions), jax.tree.map(keep, new_state, opt_state), best,
            best_value, skipped + (~ok).astype(jnp.int32)), None

  def ascend(actions):
    actions = jnp.clip(actions, low, high)
    start = (actions, optimizer.init(actions), actions,
             jnp.array(-jnp.inf, actions.dtype), jnp.zeros((), jnp.int32))
    (actions, _, best, best_value, skipped), _ = jax.lax.scan(step, start, None, int(steps))
    value = objective(actions)  # the last iterate was not evaluated inside the scan
    final_wins = nan_as_worst(value) >= nan_as_worst(best_value)
    return GradientResult(jnp.where(final_wins, actions, best),
                          jnp.where(final_wins, value, best_value), skipped)

  if int(num_restarts) == 1:
    return ascend(init_actions)
  std = default_mean_std(low, high)[1] if restart_std is None else restart_std
  noise = jax.random.normal(key, (int(num_restarts) - 1,) + init_actions.shape,
                            init_actions.dtype)
  starts = jnp.concatenate([init_actions[None], init_actions + std * noise])
  runs = jax.vmap(ascend)(starts)
  best = jnp.argmax(nan_as_worst(runs.value))
  return GradientResult(runs.plan[best], runs.value[best], runs.skipped.sum())

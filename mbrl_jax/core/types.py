"""The vocabulary every floor of the package shares, on the bottom floor.

Notation: `obs` / x is an observation (the full Markov state for the JAX-native
tasks), `action` / u an action in the env's bounds, t a time step, T the steps of
a window. Arrays of transitions are time-major, [T, N, ...]. A function typed
here works on one observation; batches are a `jax.vmap` (or broadcasting, where
said).

Imports nothing of the package.
"""

from typing import Any, Callable

import flax
import jax

PRNGKey = jax.Array
Params = Any

# Acting.
Policy = Callable[[jax.Array, PRNGKey], jax.Array]              # (obs, key) -> action

# Models of the world, as pure functions. t is the step index (an int, traced or
# not): time-invariant dynamics and costs ignore it, and the tasks' `dynamics(x, u,
# t=0)` may be called without it; iLQR and time-varying local models use it.
Dynamics = Callable[[jax.Array, jax.Array, jax.Array], jax.Array]  # (x, u, t) -> next x
RewardFn = Callable[[jax.Array, jax.Array, jax.Array], jax.Array]  # (obs, action, next) -> r
TerminationFn = RewardFn                                           # ... -> 1.0 if it ended
Cost = Callable[[jax.Array, jax.Array, jax.Array], jax.Array]      # (x, u, t) -> scalar

# Planning.
Objective = Callable[[jax.Array], jax.Array]  # actions [horizon, act] -> return to maximise


@flax.struct.dataclass
class Transition:
  """One env or model step (leaves [...] or time-major [T, N, ...])."""
  obs: jax.Array
  action: jax.Array
  reward: jax.Array
  next_obs: jax.Array         # what the step produced, also at an episode's end
  done: jax.Array             # 1.0 where the episode ended (either reason)
  truncation: jax.Array       # 1.0 where it ended by the time limit

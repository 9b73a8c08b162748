"""The agent contract (README, "Writing an agent").

An algorithm is a module with `default_config()` and `make(config, env) -> Agent`.
Its TrainState is one pytree holding everything a resume needs, with a field
`params`: what `make_policy` takes. `init(key) -> state`, `train_chunk(state) ->
(state, metrics)` (pure, jittable), `make_policy(params, deterministic) ->
policy(obs, key)`; `steps_per_chunk`, the real env steps one `train_chunk`
call advances; optionally `evaluate(params, key, num_episodes) -> mean return`,
for agents whose controller keeps state between steps (an open-loop plan, a
feedback law around a nominal trajectory), which a per-step policy cannot express;
and `make` raising ValueError (one line) on a bad config value.
"""

from typing import Any, Callable, Dict, NamedTuple, Optional, Tuple

import jax

TrainState = Any
Metrics = Dict[str, jax.Array]
Policy = Callable[[jax.Array, jax.Array], jax.Array]  # (obs, key) -> action


class Agent(NamedTuple):
  init: Callable[[jax.Array], TrainState]                   # key -> state
  train_chunk: Callable[[TrainState], Tuple[TrainState, Metrics]]
  make_policy: Callable[[Any, bool], Policy]                # (params, deterministic)
  steps_per_chunk: int
  evaluate: Optional[Callable[[Any, jax.Array, int], jax.Array]] = None


def check(condition: bool, message: str) -> None:
  """Raise the one-line ValueError a bad config value deserves."""
  if not condition:
    raise ValueError(message)


def check_positive(config, *names: str) -> None:
  for name in names:
    value = config[name]
    check(isinstance(value, int) and value >= 1,
          f'config.{name} must be an integer >= 1, got {value!r}.')


def check_choice(config, name: str, allowed) -> None:
  check(config[name] in allowed,
        f'config.{name} must be one of {", ".join(map(repr, allowed))}; got {config[name]!r}.')

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

from mbrl_jax.core.types import Policy  # (obs, key) -> action

TrainState = Any
Metrics = Dict[str, jax.Array]


class Agent(NamedTuple):
  init: Callable[[jax.Array], TrainState]                   # key -> state
  train_chunk: Callable[[TrainState], Tuple[TrainState, Metrics]]
  make_policy: Callable[[Any, bool], Policy]                # (params, deterministic)
  steps_per_chunk: int
  evaluate: Optional[Callable[[Any, jax.Array, int], jax.Array]] = None

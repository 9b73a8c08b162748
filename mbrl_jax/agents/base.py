"""The agent contract (docs/writing_an_agent.md).

An algorithm is a module with `default_config()` and `make(config, env) -> Agent`.
Its TrainState is one pytree holding everything a resume needs, with a field
`params`: what `make_policy` takes. `init(key) -> state`, `train_chunk(state) ->
(state, metrics)` (pure, jittable), `make_policy(params, deterministic) ->
policy(obs, key)`; `steps_per_chunk`, the real env steps one `train_chunk`
call advances; optionally `evaluate(params, key, num_episodes) -> mean return`,
for agents whose controller keeps state between steps (an open-loop plan, a
feedback law around a nominal trajectory), which a per-step policy cannot express;
and `make` raising ValueError (one line) on a bad config value.

Every chunk's metrics report `nonfinite_steps`: its real steps whose action or next
observation had a NaN or inf entry (`data.acting` counts them). The runner runs
every chunk through `refuse_nonfinite`, the one gate for that.
"""

from typing import Any, Callable, Dict, NamedTuple, Optional, Tuple

import jax
import jax.numpy as jnp

from mbrl_jax.core.guards import keep_if
from mbrl_jax.core.types import Policy  # (obs, key) -> action

TrainState = Any
Metrics = Dict[str, jax.Array]


class Agent(NamedTuple):
  init: Callable[[jax.Array], TrainState]                   # key -> state
  train_chunk: Callable[[TrainState], Tuple[TrainState, Metrics]]
  make_policy: Callable[[Any, bool], Policy]                # (params, deterministic)
  steps_per_chunk: int
  evaluate: Optional[Callable[[Any, jax.Array, int], jax.Array]] = None


def refuse_nonfinite(train_chunk: Callable) -> Callable:
  """train_chunk, refusing a chunk with any non-finite step: its state is the one
  before the chunk but for the key, which moves on, and its metrics say
  `refused` = 1. A policy whose params grew finite but huge (a learning rate far
  too large) emits NaN actions; none of them reaches an env (acting replaces them),
  and refusing the chunk keeps them and what followed them out of every buffer,
  model and optimizer state. A select, not a cond: under the runner's vmap over
  seeds each seed is refused on its own."""
  def chunk(state):
    new, metrics = train_chunk(state)
    refused = metrics['nonfinite_steps'] > 0
    kept = keep_if(refused, state.replace(key=new.key), new)
    return kept, {**metrics, 'refused': refused.astype(jnp.float32)}
  return chunk

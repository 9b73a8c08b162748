"""The loop that model-based policy learners share, as in the lectures: collect real
steps with the current policy, refit the dynamics model on every real step so far,
then improve the policy with the model, once the random phase is over.

An agent on this skeleton supplies its policy, its model `Trainer` and buffer, and
an `improve(state, key) -> (state, stats)` step; the skeleton runs the three phases
inside one compiled chunk. Before `random_steps` real steps the improvement is
computed and discarded with a select: under the runner's vmap over seeds a `cond`
would run it anyway. The TrainState needs the fields `params.model`, `model_opt`,
`env_state`, `env_steps` and `buffer`.

(Not an agent itself: the registry skips it, as it has no `make`.)
"""

from typing import Any, Callable, Dict, Tuple

import flax
import jax
import jax.numpy as jnp

from mbrl_jax import data, models
from mbrl_jax.agents import _common
from mbrl_jax.data import replay
from mbrl_jax.guards import keep_if


@flax.struct.dataclass
class TrainState:
  """The state of a policy learner on this skeleton (pathwise, model_pg)."""
  params: Any                  # the agent's Params; params.model: the ModelState (or {})
  policy_opt: Any
  value_opt: Any              # {} without a value function
  model_opt: Any              # {} without a model
  env_state: Any
  buffer: Any                 # replay.BufferState, or () without a model
  key: jax.Array
  env_steps: jax.Array
  skipped_updates: jax.Array  # policy and value steps skipped for a non-finite gradient


def model_metrics(fit_metrics: Dict[str, jax.Array], model, fitted=True
                  ) -> Dict[str, jax.Array]:
  """The model's share of a chunk's metrics: the elites' mean holdout MSE, the
  epochs of the fit and the minibatch steps it skipped for a non-finite loss; NaN
  and 0 in a chunk that did not fit (`fitted`, traced, false). Every agent with a
  model reports these."""
  elite_mse = fit_metrics['holdout_mse'][model.elites].mean()
  return {'model_holdout_mse': jnp.where(fitted, elite_mse, jnp.nan),
          'model_epochs': jnp.where(fitted, fit_metrics['epochs'], 0),
          'model_skipped_updates': jnp.where(fitted, fit_metrics['skipped_updates'],
                                             0).astype(jnp.float32)}


def collect_and_refit(env, act: Callable, state, buffer, trainer: models.Trainer, collect_key,
                      fit_key, num_steps: int, random_steps: int, low, high):
  """Collects `num_steps` real steps per env (random actions while env_steps <
  random_steps), adds them to the buffer and refits the model on all of it.
  Returns (state with env_state, env_steps, buffer, params.model and model_opt
  updated, transitions [num_steps, N], fit metrics)."""
  env_state, env_steps, tr = _common.collect(env, act, state.env_state, state.env_steps,
                                             collect_key, num_steps, random_steps, low, high)
  buffer_state = buffer.add(state.buffer,
                            jax.tree.map(lambda x: x.reshape((-1,) + x.shape[2:]), tr))
  fitted, fit_metrics = trainer.fit(
      models.TrainerState(state.params.model, state.model_opt), replay.items(buffer_state),
      replay.valid_mask(buffer_state), fit_key)
  state = state.replace(params=state.params.replace(model=fitted.model),
                        model_opt=fitted.opt_state, env_state=env_state, env_steps=env_steps,
                        buffer=buffer_state)
  return state, tr, fit_metrics


def collect_refit_improve(env, act: Callable, state, buffer, trainer: models.Trainer,
                          improve: Callable, keys: Tuple[jax.Array, jax.Array, jax.Array],
                          num_steps: int, random_steps: int, low, high):
  """One chunk of the loop. keys: (collect, fit, improve).

  Returns (state, metrics, stats, learning): metrics has the real episodes' and the
  model's figures; stats is what `improve` reported (to be masked with `learning`,
  the traced "past the random phase" flag, before it is logged)."""
  collect_key, fit_key, improve_key = keys
  state, tr, fit_metrics = collect_and_refit(env, act, state, buffer, trainer, collect_key,
                                             fit_key, num_steps, random_steps, low, high)
  learning = state.env_steps >= random_steps
  improved, stats = improve(state, improve_key)
  state = keep_if(learning, improved, state)
  metrics = data.episode_metrics(tr)
  metrics.update(model_metrics(fit_metrics, state.params.model))
  return state, metrics, stats, learning

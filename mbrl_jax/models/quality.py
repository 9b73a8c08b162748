"""How good a model is: the compounding error of open-loop predictions."""

import jax

from mbrl_jax.models.ensemble import Ensemble, ModelState
from mbrl_jax.models.rollout import rollout


def compounding_error(ensemble: Ensemble, model: ModelState, true_obs: jax.Array,
                      actions: jax.Array, reward_fn, key: jax.Array,
                      propagation: str = 'expectation') -> jax.Array:
  """Mean squared error per horizon step of H-step open-loop predictions.

  true_obs [B, H + 1, obs] and actions [B, H, act] are real trajectories; the
  model starts from true_obs[:, 0] and replays the actions. Returns [H]: the error
  after 1, 2, ..., H steps, averaged over trajectories and observation dims.
  """
  horizon = actions.shape[1]
  predicted = rollout(ensemble, model, key, true_obs[:, 0], horizon, propagation,
                      actions=actions, reward_fn=reward_fn)
  return ((predicted.obs[:, 1:] - true_obs[:, 1:])**2).mean(axis=(0, 2))

"""Guided policy search under the agent contract, for the launcher, the runner and
checkpoints: one chunk is one GPS iteration (MDGPS or BADMM, `config.variant`) over
all conditions.

The conditions are `num_conditions` initial states drawn once from the env's
reset with `condition_seed` (the same for every seed of a run). A chunk's real env
steps are the samples of every local controller plus one deterministic run of the
global policy per condition (the evaluation GPS reports): num_conditions x
(num_samples + 1) x episode_length. The metrics are means over the conditions.
"""

from typing import Any

import flax
import jax
import jax.numpy as jnp
import ml_collections

from mbrl_jax import data
from mbrl_jax.agents.base import Agent
from mbrl_jax.agents.gps.config import VARIANTS, validate


@flax.struct.dataclass
class TrainState:
  gps: Any              # mdgps.GPSState or badmm.BADMMState
  starts: jax.Array     # [C, obs] the conditions' initial states
  key: jax.Array
  env_steps: jax.Array

  @property
  def params(self) -> Any:
    """The global policy's params: what make_policy takes."""
    return self.gps.params


def make(config: ml_collections.ConfigDict, env) -> Agent:
  validate(config, env)
  algo = VARIANTS[config.variant].build(env, config)
  num = config.num_conditions
  starts = data.reset(env, jax.random.PRNGKey(config.condition_seed), num).obs
  steps_per_chunk = num * (config.num_samples + 1) * data.episode_decisions(env)

  def init(key):
    gps_key, key = jax.random.split(key)
    return TrainState(algo.init(gps_key, num), starts, key, jnp.zeros((), jnp.int32))

  def train_chunk(state: TrainState):
    key, step_key = jax.random.split(state.key)
    gps_state, metrics = algo.iteration(state.gps, state.starts, step_key)
    state = TrainState(gps_state, state.starts, key, state.env_steps + steps_per_chunk)
    return state, {name: value.mean() for name, value in metrics.items()}

  def make_policy(params, deterministic: bool = True):
    """The global policy's mean action (the policy is used deterministically)."""
    del deterministic
    return lambda obs, key: algo.policy_apply(params, obs)

  return Agent(init=init, train_chunk=train_chunk, make_policy=make_policy,
               steps_per_chunk=steps_per_chunk)

"""Auto-reset that draws a fresh initial state and keeps the true next observation.

brax.envs.wrappers.training.AutoResetWrapper returns a finished episode to the
initial state it drew at the very first reset, and replaces the final observation
by that reset observation. Data collection needs both fixed: every episode starts
from a new random state, and the transition that ends an episode records the
observation the step really produced (`state.info['next_obs']`).

The fresh state is computed only at steps where some episode of the batch ended
(`lazy_where`), not at every step: a MuJoCo reset costs many steps.
"""

import jax
import jax.numpy as jnp
from brax.envs.base import State, Wrapper

from mbrl_jax.envs.lazy_where import lazy_where


class AutoResetWrapper(Wrapper):
  """Resets a single (unbatched) env whose step returned done; vmap it to batch."""

  def reset(self, rng: jax.Array) -> State:
    rng, reset_rng = jax.random.split(rng)
    state = self.env.reset(reset_rng)
    state.info['reset_rng'] = rng
    state.info['next_obs'] = state.obs
    return state

  def step(self, state: State, action: jax.Array) -> State:
    state = self.env.step(state, action)
    rng, reset_rng = jax.random.split(state.info['reset_rng'])
    done = state.done.astype(bool)
    info = dict(state.info, reset_rng=rng, next_obs=state.obs)
    # What a reset replaces: the simulator state, the observation, and a pixel
    # task's state behind its image (pixels.PixelObservation).
    def restart(key):
      fresh = self.env.reset(key)
      return fresh.pipeline_state, fresh.obs, fresh.info.get('state')
    pipeline_state, obs, task_state = lazy_where(
        done, restart, reset_rng, (state.pipeline_state, state.obs, info.get('state')))
    if 'state' in info:
      info['state'] = task_state
    if 'steps' in info:  # EpisodeWrapper's step counter restarts with the episode
      info['steps'] = jnp.where(done, jnp.zeros_like(info['steps']), info['steps'])
    return state.replace(pipeline_state=pipeline_state, obs=obs, info=info)

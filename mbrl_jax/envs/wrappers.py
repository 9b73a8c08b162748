"""Auto-reset that draws a fresh initial state and keeps the true next observation.

brax.envs.wrappers.training.AutoResetWrapper returns a finished episode to the
initial state it drew at the very first reset, and replaces the final observation
by that reset observation. Data collection needs both fixed: every episode starts
from a new random state, and the transition that ends an episode records the
observation the step really produced (`state.info['next_obs']`).
"""

import jax
import jax.numpy as jnp
from brax.envs.base import State, Wrapper


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
    fresh = self.env.reset(reset_rng)
    done = state.done.astype(bool)
    pick = lambda new, old: jnp.where(done, new, old)
    info = dict(state.info, reset_rng=rng, next_obs=state.obs)
    if 'steps' in info:  # EpisodeWrapper's step counter restarts with the episode
      info['steps'] = pick(jnp.zeros_like(info['steps']), info['steps'])
    if 'state' in info:  # a task's state behind its pixels (pixels.PixelObservation)
      info['state'] = pick(fresh.info['state'], info['state'])
    return state.replace(
        pipeline_state=jax.tree.map(pick, fresh.pipeline_state, state.pipeline_state),
        obs=pick(fresh.obs, state.obs),
        info=info)

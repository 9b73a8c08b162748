"""Data: replay buffer, what acting needs of an env, running normalizers."""

from mbrl_jax.data import normalizer, replay
from mbrl_jax.data.env_data import (Transition, action_bounds, episode_decisions,
                                   example_transition, random_policy, reset, reset_to)
from mbrl_jax.data.replay import make_replay_buffer

__all__ = ['Transition', 'action_bounds', 'episode_decisions', 'example_transition', 'make_replay_buffer',
           'normalizer', 'random_policy', 'replay', 'reset', 'reset_to']

"""Data: replay buffer, trajectory collection, running normalizers."""

from mbrl_jax.data import normalizer, replay
from mbrl_jax.data.collect import (Transition, action_bounds, collect, episode_metrics,
                                   example_transition, random_policy, reset, step_transition)
from mbrl_jax.data.replay import make_replay_buffer

__all__ = ['Transition', 'action_bounds', 'collect', 'episode_metrics', 'example_transition',
           'make_replay_buffer', 'normalizer', 'random_policy', 'replay', 'reset',
           'step_transition']

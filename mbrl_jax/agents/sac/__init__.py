"""Soft actor-critic (Haarnoja et al. 2018): model-free, and MBPO's learner.

Tanh-Gaussian policy, twin Q-networks with Polyak-averaged targets, automatic
entropy tuning; the networks, distribution, critic and actor losses are
brax.training's SAC pieces, the temperature loss ours (losses.py) so that the
target entropy is a setting. Differences from brax's own trainer: transitions keep the true next
observation at time limits (our auto-reset), so a truncated transition is
bootstrapped rather than dropped, and everything (acting, replay, updates) runs
inside the compiled `train_chunk` of the agent contract. An update with a NaN or
inf loss or gradient is skipped as a whole (params and optimizer states kept) and
counted in `skipped_updates`.
"""

from mbrl_jax.agents.sac.config import (CPU, PRESETS, SIZES, TINY, default_config, preset,
                                        validate)
from mbrl_jax.agents.sac.learner import (Learner, LearnerState, SACOptState, SACParams,
                                         make_learner)
from mbrl_jax.agents.sac.train import TrainState, act, critic_bound, make

__all__ = ['CPU', 'Learner', 'LearnerState', 'PRESETS', 'SACOptState', 'SACParams', 'SIZES',
           'TINY', 'TrainState', 'act', 'critic_bound', 'default_config', 'make', 'make_learner', 'preset', 'validate']

"""Dynamics models: ensembles, their training, rollouts through them, quality."""

from mbrl_jax.models.ensemble import Ensemble, ModelState, Prediction, default_config
from mbrl_jax.models.quality import compounding_error
from mbrl_jax.models.rollout import (PARTICLE_PROPAGATIONS, PROPAGATIONS, ModelRollout,
                                     random_elite_step, reward_and_termination, rollout)
from mbrl_jax.models.training import Trainer, TrainerState

__all__ = ['Ensemble', 'ModelRollout', 'ModelState', 'PARTICLE_PROPAGATIONS', 'PROPAGATIONS',
           'Prediction', 'Trainer', 'TrainerState', 'compounding_error', 'default_config', 'random_elite_step',
           'reward_and_termination', 'rollout']

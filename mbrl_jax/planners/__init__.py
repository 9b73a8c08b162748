"""Planners: pure, jit/vmap-able optimisers of action sequences."""

from mbrl_jax.planners.objective import rollout_return
from mbrl_jax.planners.shooting import random_shooting

__all__ = ['random_shooting', 'rollout_return']

"""Planners: pure, jit/vmap-able optimisers of action sequences."""

from mbrl_jax.planners.gradient import GradientResult, gradient_shooting
from mbrl_jax.planners.ilqr import ILQRSolution, ilqr
from mbrl_jax.planners.lqr import LQRSolution, lqr, lqr_rollout, lqr_value
from mbrl_jax.planners.objective import rollout_return
from mbrl_jax.planners.shooting import cem, default_mean_std, mppi, random_shooting, shift_plan

__all__ = ['random_shooting', 'rollout_return', 'cem', 'mppi', 'shift_plan',
           'default_mean_std', 'gradient_shooting', 'GradientResult', 'lqr', 'lqr_rollout',
           'lqr_value', 'LQRSolution', 'ilqr', 'ILQRSolution']

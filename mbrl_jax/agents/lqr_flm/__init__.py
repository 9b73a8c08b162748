"""LQR-FLM (Levine & Abbeel 2014; the lectures' "LQR with fitted local models"):
fit time-varying linear-Gaussian dynamics to samples of the current controller,
then improve the controller by LQR in a KL trust region around it.

`trajectory_opt.update(dynamics, cost, prev_controller, epsilon, mu0, sigma0) ->
Update(controller, eta, kl)` is the controller step; `train.make_iteration(env, ...)`
one iteration of the loop for one condition (sample on the env, fit with a GMM
prior, update, adapt epsilon), to vmap over conditions.
"""

from mbrl_jax.agents.lqr_flm import train
from mbrl_jax.agents.lqr_flm.trajectory_opt import (QuadraticCost, Update, expected_cost, failed,
                                                    plain_lqr, quadratic_cost, solve, update)

__all__ = ['QuadraticCost', 'Update', 'expected_cost', 'failed', 'plain_lqr', 'quadratic_cost',
           'solve', 'train', 'update']

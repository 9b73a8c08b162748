"""Policies with an explicit density: time-varying linear-Gaussian controllers."""

from mbrl_jax.policies.linear_gaussian import (LinearGaussianController, TrajectoryMarginals,
                                               deterministic, from_q_function, log_prob,
                                               lqr_controller, mean_action, open_loop, sample,
                                               sample_trajectory, trajectory_kl,
                                               trajectory_marginals)

__all__ = ['LinearGaussianController', 'TrajectoryMarginals', 'deterministic',
           'from_q_function', 'log_prob', 'lqr_controller', 'mean_action', 'open_loop',
           'sample', 'sample_trajectory', 'trajectory_kl', 'trajectory_marginals']

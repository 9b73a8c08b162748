"""Gradient estimators of a policy's expected return: pathwise, likelihood ratio and
their combinations (total propagation), through a true differentiable task or a
learned model; and the policy-gradient surrogates that the model-based PG agents
optimise. The notation is fixed in `gradients`' docstring."""

from mbrl_jax.estimators.gradients import (
    Problem,
    Noise,
    Trajectories,
    task_step_fn,
    model_step_fn,
    linear_policy,
    sample_noise,
    rollouts,
    pathwise_grads,
    reward_to_go,
    leave_one_out_advantage,
    log_prob,
    likelihood_ratio_surrogate,
    ppo_clipped_loss,
    normalize_advantages,
    likelihood_ratio_grads,
    pathwise_samples,
    likelihood_ratio_samples,
    flatten,
    mixing_weight,
    combine,
    total_propagation,
    total_propagation_per_step_grads,
    mean_variance,
    cosine,
    lq_expected_return)

__all__ = ['Problem', 'Noise', 'Trajectories', 'task_step_fn', 'model_step_fn', 'linear_policy', 'sample_noise', 'rollouts', 'pathwise_grads', 'reward_to_go', 'leave_one_out_advantage', 'log_prob', 'likelihood_ratio_surrogate', 'ppo_clipped_loss', 'normalize_advantages', 'likelihood_ratio_grads', 'pathwise_samples', 'likelihood_ratio_samples', 'flatten', 'mixing_weight', 'combine', 'total_propagation', 'total_propagation_per_step_grads', 'mean_variance', 'cosine', 'lq_expected_return']

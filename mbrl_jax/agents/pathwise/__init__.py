"""Pathwise policy gradients: backpropagate the return into the policy (the lectures'
version 2.0).

A tanh-Gaussian policy (reparameterized) is improved by differentiating the
discounted sum of rewards over a window of `horizon` steps with respect to its
params, through one of two dynamics (config.dynamics):
  'env'    the env's own differentiable step: a batch of real envs is rolled
           forward `horizon` steps by the policy, the loss is minus the mean window
           return, and the next window continues from the states reached, with no
           gradient across windows (truncated backprop through time, as in
           analytic policy gradients). Every update consumes num_envs * horizon
           real steps, and those are the steps counted. Works for the JAX-native
           tasks and for the Brax backends that give finite gradients.
  'model'  a learned ensemble: each chunk collects real steps with the current
           policy into a replay buffer, refits the ensemble to it, then makes
           `updates_per_chunk` updates by backprop through `models.rollout`
           (reparameterized Gaussian members) from `num_starts` start states drawn
           from the buffer. Only the real collection steps are counted.
What makes it work in practice: the truncated horizon, clipping the gradient's
global norm, and skipping (and counting) any update whose gradient has a NaN or
inf entry. With `value_bootstrap`, a learned V(s) closes the window,
return = sum_{t<H} discount^t r_t + discount^H V(s_H) (short-horizon
actor-critic, SHAC), the critic being fitted to TD(lambda) targets of the same
windows computed with a Polyak-averaged target critic (losses.py).
"""

from mbrl_jax.agents.pathwise.config import (DYNAMICS, PRESETS, SIZES, default_config, preset,
                                             validate)
from mbrl_jax.agents.pathwise.train import Params, TrainState, make

__all__ = ['DYNAMICS', 'PRESETS', 'Params', 'SIZES', 'TrainState', 'default_config', 'make',
           'preset', 'validate']

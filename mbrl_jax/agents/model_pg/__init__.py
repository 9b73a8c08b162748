"""Policy gradients on trajectories the learned model generates (the lectures'
version 2.5).

Each chunk collects real steps with the current stochastic policy into a replay
buffer and refits the ensemble to it; then, `updates_per_chunk` times, it imagines
`num_starts` trajectories of `horizon` steps through the ensemble (ts1 by default,
actions sampled from the policy) from start states drawn from the buffer, and
improves the policy on them with a likelihood-ratio (score-function) gradient: no
gradient flows through the model. config.algorithm:
  'reinforce'  REINFORCE with a baseline (Williams 1992): advantage = discounted
               reward-to-go within the window minus a learned V(s_t) ('value') or the
               batch mean of the reward-to-go at each time step ('mean'); one policy
               step per update.
  'ppo'        PPO (Schulman et al. 2017): GAE(lambda) advantages from a learned value,
               bootstrapped with V(s_H) at the window's end (brax's `compute_gae`), the
               clipped surrogate, `epochs` passes over `num_minibatches` minibatches.
The policy is tanh-Gaussian; the log-density of an imagined action is evaluated
at its pre-tanh value recovered by atanh (kept off the edges, so it stays finite),
the same way for the behaviour and the updated policy, so their ratio is exact
except for actions within 1e-6 of a bound. A gradient with a NaN or inf entry is
skipped and counted, as in every agent here.
"""

from mbrl_jax.agents.model_pg.config import (ALGORITHMS, BASELINES, PRESETS, SIZES,
                                             default_config, preset, validate)
from mbrl_jax.agents.model_pg.losses import (ppo_loss, reinforce_advantages, reinforce_loss,
                                             value_loss)
from mbrl_jax.agents.model_pg.train import (UPDATES, Imagined, Params, Samples, StepStats,
                                            TrainState, imagine, make)

__all__ = ['ALGORITHMS', 'BASELINES', 'Imagined', 'PRESETS', 'Params', 'SIZES', 'Samples',
           'StepStats', 'TrainState', 'UPDATES', 'default_config', 'imagine', 'make', 'ppo_loss',
           'preset', 'reinforce_advantages', 'reinforce_loss', 'validate', 'value_loss']

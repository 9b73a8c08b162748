"""MBPO (Janner et al. 2019), the lectures' version 3.0, with MVE targets as an option.

Every `refit_every` real steps the ensemble is refit on the real buffer and
`rollouts_per_step * refit_every` short rollouts branch from real states, driven
by the current SAC policy through a random elite member per step (TS1); their
transitions fill a model pool that keeps the last `model_retain_epochs` epochs of
rollouts. Each real step then takes `updates_per_step` SAC updates on batches
mixing `real_ratio` real and model transitions. The rollout length follows the
paper's schedule (start epoch, end epoch, min length, max length): linear in the
epoch between the two epochs, an epoch being `epoch_length` real steps.

MVE (Feinberg et al. 2018), `mve_horizon` H > 0: the critic regresses on H-step
model-based soft targets, at the batch transition and at the H states imagined
after it (TD-k), instead of the one-step soft TD target.

A SAC update or a model minibatch step with a NaN or inf loss or gradient is
skipped and counted (`skipped_updates`, `model_skipped_updates`).

Everything runs inside the compiled `train_chunk`. Updates and refits are gated by
traced trip counts (while loops), not `lax.cond`, because under the runner's vmap
over seeds a cond computes both branches.
"""

from mbrl_jax.agents.mbpo.config import PRESETS, SIZES, default_config, preset, validate
from mbrl_jax.agents.mbpo.losses import make_mve_critic_loss
from mbrl_jax.agents.mbpo.model_data import ModelPool, add_to_pool, rollout_length, sample_pool
from mbrl_jax.agents.mbpo.train import LOSS_NAMES, MBPOParams, TrainState, make

__all__ = ['LOSS_NAMES', 'MBPOParams', 'ModelPool', 'PRESETS', 'SIZES', 'TrainState', 'add_to_pool',
           'default_config', 'make', 'make_mve_critic_loss', 'preset', 'rollout_length',
           'sample_pool', 'validate']

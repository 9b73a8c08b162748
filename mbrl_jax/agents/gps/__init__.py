"""Guided policy search: a neural global policy trained by supervised learning onto
time-varying linear-Gaussian local controllers, which LQR-FLM (planners.lqr_flm)
improves under local dynamics fits while keeping them near the global gaussian_mlp.

`mdgps.build(env, config) -> MDGPS(init, iteration, policy_apply, evaluate)`: the
mirror-descent variant (Montgomery & Levine 2016), off-policy (the local
controllers are sampled); `policies.gaussian_mlp` holds the global policy's MLP,
its linearisation about sampled states and the supervised S-step. `badmm.build`:
the BADMM variant (Levine et al. 2016), per-step Lagrange multipliers on the
agreement of the local controllers and the gaussian_mlp. `common`: what both are
built of (`common.build`). Under the agent contract, for the launcher: `config`
(presets 'mdgps' and 'badmm', `validate`) and `train` (`make(config, env)`).
"""

from mbrl_jax.agents.gps import badmm, common, mdgps
from mbrl_jax.agents.gps.config import (PRESETS, SIZES, VARIANTS, default_config, preset,
                                        validate)
from mbrl_jax.agents.gps.train import TrainState, make

__all__ = ['PRESETS', 'SIZES', 'TrainState', 'VARIANTS', 'badmm', 'common', 'default_config',
           'make', 'mdgps', 'preset', 'validate']

"""Guided policy search: a neural global policy trained by supervised learning onto
time-varying linear-Gaussian local controllers, which LQR-FLM (planners.lqr_flm)
improves under local dynamics fits while keeping them near the global gaussian_mlp.

`mdgps.build(env, config) -> MDGPS(init, iteration, policy_apply, evaluate)`: the
mirror-descent variant (Montgomery & Levine 2016), off-policy (the local
controllers are sampled); `policy` holds the global policy's MLP, its
linearisation about sampled states and the supervised S-step. `badmm.build`: the
BADMM variant (Levine et al. 2016), per-step Lagrange multipliers on the
agreement of the local controllers and the gaussian_mlp. `agent`: both under the agent
contract (`make(config, env)`, presets 'mdgps' and 'badmm'), for the launcher.
"""

from mbrl_jax.agents.gps import badmm, mdgps
from mbrl_jax.agents.gps.agent import (PRESETS, SIZES, VARIANTS, TrainState, default_config,
                                       make, preset)

__all__ = ['PRESETS', 'SIZES', 'TrainState', 'VARIANTS', 'badmm', 'default_config', 'make', 'mdgps',
           'preset']

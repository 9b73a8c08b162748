"""Guided policy search: a neural global policy trained by supervised learning onto
time-varying linear-Gaussian local controllers, which LQR-FLM (agents.lqr_flm)
improves under local dynamics fits while keeping them near the global policy.

`mdgps.build(env, config) -> MDGPS(init, iteration, policy_apply, evaluate)`: the
mirror-descent variant (Montgomery & Levine 2016), off-policy (the local
controllers are sampled); `policy` holds the global policy's MLP, its
linearisation about sampled states and the supervised S-step. (Not yet a launcher
agent: `build` is not the agent contract's `make(config, env)`.)
"""

from mbrl_jax.agents.gps import mdgps, policy
from mbrl_jax.agents.gps.mdgps import MDGPS, GPSState, build, default_config

__all__ = ['GPSState', 'MDGPS', 'build', 'default_config', 'mdgps', 'policy']

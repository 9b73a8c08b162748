"""MPC (mbrl_jax.agents.mpc). Pick a preset (the lectures' versions), a size, or both
after a colon:

  --config=experiments/configs/mpc.py             the env's own dynamics, random shooting
  --config=experiments/configs/mpc.py:pets        PETS (ensemble, TSinf, CEM)
  --config=experiments/configs/mpc.py:open_loop_fit_once | :open_loop_refit | :mpc
      (the lectures' versions 0.5, 1.0, 1.5) | :ilqr | :ilqr_feedback
  --config=experiments/configs/mpc.py:pets,tiny   any preset at the 'tiny' size

ilqr replans at every step (only u_plan is executed); ilqr_feedback replans every
5 steps and executes u_plan + K (x - x_plan) in between (--config.ilqr.feedback=false
executes the plan open loop instead).

Cart-pole: add --config.model.angle_dims='(1,)' (the pole angle as sin/cos).
"""

from mbrl_jax import agents


def get_config(spec=None):
  return agents.preset_from_spec('mpc', spec)

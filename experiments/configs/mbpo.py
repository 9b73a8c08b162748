"""MBPO (mbrl_jax.agents.mbpo). Versions after a colon:

  --config=experiments/configs/mbpo.py          the paper's settings (7 x 4 x 200 model,
                                                400 rollouts and 20 updates per step)
  --config=experiments/configs/mbpo.py:cpu      scaled to a 2-core CPU (the learning
                                                curves in experiments/mbpo_vs_sac.sh)
  --config.mve_horizon=3                        MVE critic targets

Cart-pole: add --config.model.angle_dims='(1,)'.  Brax envs: the reward is
learned (default); add --config.model.learn_termination=True where episodes end.
"""

from mbrl_jax import agents


def get_config(spec=None):
  return agents.preset_from_spec('mbpo', spec)

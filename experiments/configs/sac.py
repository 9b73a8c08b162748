"""Soft actor-critic (mbrl_jax.agents.sac). Versions after a colon:

  --config=experiments/configs/sac.py        the SAC paper's settings (2 x 256, lr 3e-4)
  --config=experiments/configs/sac.py:cpu    the SAC settings of configs/mbpo.py:cpu
"""

from mbrl_jax import agents


def get_config(spec=None):
  return agents.preset_from_spec('sac', spec)

"""Policy gradients on model-generated trajectories (mbrl_jax.agents.model_pg):

  --config=experiments/configs/model_pg.py              PPO
  --config=experiments/configs/model_pg.py:reinforce    REINFORCE with a baseline
"""

from mbrl_jax import agents


def get_config(spec=None):
  return agents.preset_from_spec('model_pg', spec)

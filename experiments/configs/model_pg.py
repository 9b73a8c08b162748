"""Policy gradients on model-generated trajectories (mbrl_jax.agents.model_pg):

  --config=experiments/configs/model_pg.py              PPO
  --config=experiments/configs/model_pg.py:reinforce    REINFORCE with a baseline
"""

from mbrl_jax import agents


def get_config(version=None):
  return agents.preset('model_pg', version)

"""Policy gradients on model-generated trajectories (mbrl_jax.agents.model_pg):

  --config=experiments/configs/model_pg.py              PPO
  --config=experiments/configs/model_pg.py:reinforce    REINFORCE with a baseline
"""

from mbrl_jax.agents import model_pg


def get_config(algorithm='ppo'):
  config = model_pg.default_config()
  config.algorithm = algorithm
  return config

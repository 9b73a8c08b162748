"""Soft actor-critic (mbrl_jax.agents.sac). Versions after a colon:

  --config=experiments/configs/sac.py        the SAC paper's settings (2 x 256, lr 3e-4)
  --config=experiments/configs/sac.py:cpu    the SAC settings of configs/mbpo.py:cpu
"""

from mbrl_jax.agents import sac


def get_config(version='paper'):
  config = sac.default_config()
  if version == 'paper':
    return config
  if version != 'cpu':
    raise ValueError(f"unknown sac version {version!r}; choose 'paper' or 'cpu'.")
  config.update(dict(hidden_sizes=(128, 128), learning_rate=1e-3, random_steps=500,
                     buffer_capacity=100_000, steps_per_chunk=500))
  return config

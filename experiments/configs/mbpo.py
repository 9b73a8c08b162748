"""MBPO (mbrl_jax.agents.mbpo). Versions after a colon:

  --config=experiments/configs/mbpo.py          the paper's settings (7 x 4 x 200 model,
                                                400 rollouts and 20 updates per step)
  --config=experiments/configs/mbpo.py:cpu      scaled to a 2-core CPU (the learning
                                                curves in experiments/mbpo_vs_sac.sh)
  --config.mve_horizon=3                        MVE critic targets

Cart-pole: add --config.model.angle_dims='(1,)'.  Brax envs: the reward is
learned (default); add --config.model.learn_termination=True where episodes end.
"""

from mbrl_jax.agents import mbpo


def get_config(version='paper'):
  config = mbpo.default_config()
  if version == 'paper':
    return config
  if version != 'cpu':
    raise ValueError(f"unknown mbpo version {version!r}; choose 'paper' or 'cpu'.")
  # SAC exactly as configs/sac.py:cpu, so that curves compare like with like.
  config.update(dict(hidden_sizes=(128, 128), learning_rate=1e-3, random_steps=500,
                     buffer_capacity=100_000, steps_per_chunk=500, retrain_every=250,
                     rollouts_per_step=100, updates_per_step=10,
                     rollout_schedule=(0, 1, 1, 1)))
  config.model.update(num_layers=3, width=128, max_epochs=50)
  return config

"""Guided policy search (mbrl_jax.agents.gps) on a JAX-native task. Versions after a colon:

  --config=experiments/configs/gps.py          MDGPS (off-policy), 4 conditions,
                                               5 samples each per iteration

One chunk is one GPS iteration: num_conditions x (num_samples + 1) x episode_length
real steps (the samples, then one run of the global policy per condition).
"""

from mbrl_jax import agents


def get_config(spec=None):
  return agents.preset_from_spec('gps', spec)

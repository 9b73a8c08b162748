"""Pathwise policy gradients (mbrl_jax.agents.pathwise). Pick a version after a colon:

  --config=experiments/configs/pathwise.py              through the env (APG-style)
  --config=experiments/configs/pathwise.py:model        through a learned ensemble
  --config=experiments/configs/pathwise.py:env_value    ... with a critic closing each
  --config=experiments/configs/pathwise.py:model_value  window (SHAC-style)
"""

from mbrl_jax import agents


def get_config(spec=None):
  return agents.preset_from_spec('pathwise', spec)

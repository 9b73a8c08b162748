"""Soft actor-critic (mbrl_jax.agents.sac)."""

from mbrl_jax.agents import sac


def get_config():
  return sac.default_config()

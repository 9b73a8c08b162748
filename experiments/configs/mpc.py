"""MPC with the task's true dynamics and random shooting (mbrl_jax.agents.mpc)."""

from mbrl_jax.agents import mpc


def get_config():
  return mpc.default_config()

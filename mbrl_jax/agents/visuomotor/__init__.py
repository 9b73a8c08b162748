"""Visuomotor policies from pixels (Levine, Finn, Darrell & Abbeel, "End-to-End Training
of Deep Visuomotor Policies"): `pose`, the pose CNN's pretraining on rendered arm
scenes; the end-to-end GPS that builds on it comes with the agents/gps variants."""

from mbrl_jax.agents.visuomotor import pose

__all__ = ['pose']

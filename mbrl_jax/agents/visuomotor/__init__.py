"""Visuomotor policies from pixels (Levine, Finn, Darrell & Abbeel, "End-to-End Training
of Deep Visuomotor Policies"): `pose`, the pose CNN's pretraining on rendered arm
scenes; `policy`, global policies of the state that see only its rendering and the
joints, for guided policy search (gps.badmm.build(env, config, network, optimizer)),
in the talk's three variants (end to end, pose features, pose prediction)."""

from mbrl_jax.agents.visuomotor import policy, pose

__all__ = ['policy', 'pose']

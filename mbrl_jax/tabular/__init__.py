"""Tabular algorithms: worlds that are tables, not brax Envs (Dyna-Q). They run from
scripts of their own (experiments/dyna_q.py), not through the launcher."""

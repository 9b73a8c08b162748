"""The guard every learner here puts on its optimizer steps: a step whose loss or
gradient has a NaN or inf entry is not applied, and the caller counts it.

Selects on the trees (`where`), not `cond`: under the runner's vmap over seeds a
cond computes both branches anyway, and a select of a finite step is exact, so
runs without a bad step are bit for bit those without the guard. This module
imports nothing of the package, so models and agents can both use it.
"""

from typing import Any

import jax
import jax.numpy as jnp
import optax


def all_finite(tree) -> jax.Array:
  """True when every entry of every leaf is finite (True for an empty tree)."""
  leaves = jax.tree.leaves(tree)
  if not leaves:
    return jnp.asarray(True)
  return jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in leaves]))


def keep_if(condition, new, old):
  """`new` where condition holds, else `old`, leaf by leaf (a select, not a cond)."""
  return jax.tree.map(lambda n, o: jnp.where(condition, n, o), new, old)


def apply_if_finite(optimizer: optax.GradientTransformation, params: Any, opt_state: Any,
                    grads: Any, loss: Any = None) -> tuple[Any, Any, jax.Array, jax.Array]:
  """One optimizer step, unless an entry of the gradient (or of `loss`, if given) is
  NaN or inf: then params and optimizer state stay as they were.

  Returns (params, opt_state, skipped (1.0 where skipped), the gradient's global norm
  before any clipping the optimizer does).
  """
  finite = all_finite((grads, loss))
  safe = jax.tree.map(lambda g: jnp.where(finite, g, 0.0), grads)  # keep NaN out of Adam
  updates, new_opt = optimizer.update(safe, opt_state, params)
  new_params = optax.apply_updates(params, updates)
  return (keep_if(finite, new_params, params), keep_if(finite, new_opt, opt_state),
          1.0 - finite.astype(jnp.float32), optax.tree.norm(grads))

"""`where(pred, make(arg), old)` that calls `make` only when `pred` holds somewhere.

An auto-reset needs a fresh initial state where an episode ended. Written as
`jnp.where(done, env.reset(key), state)` it resets every env at every step, and a
`lax.cond(done, ...)` does the same once vmapped, because a cond on a batched
predicate becomes a select that runs both branches. For a MuJoCo model the reset
(building the model data and a forward pass) can cost 50 times a step.

`lazy_where` keeps the cond real under any number of vmaps: its batching rule
(`jax.custom_batching.custom_vmap`) folds each new batch axis into one leading
axis and conds on `any(pred)` over all of it, so `make` runs, for the whole
batch, only at steps where some element's `pred` holds. Reverse- and
forward-mode derivatives (a `custom_jvp`, since `custom_vmap` has none) flow to
`old` where `pred` is false; `make(arg)` is treated as constant (a reset depends
on its key only).
"""

from typing import Any, Callable

import jax
import jax.numpy as jnp
from jax.custom_batching import custom_vmap


def _batch_select(make: Callable[[Any], Any]):
  """The select over a leading batch axis of every leaf, folding further vmaps."""

  @custom_vmap
  def select(pred, arg, old):
    def fresh():
      new = jax.vmap(make)(arg)
      def pick(n, o):
        return jnp.where(pred.reshape(pred.shape + (1,) * (o.ndim - 1)), n.astype(o.dtype), o)
      return jax.tree.map(pick, new, old)
    return jax.lax.cond(jnp.any(pred), fresh, lambda: old)

  @select.def_vmap
  def fold(axis_size, in_batched, pred, arg, old):
    def flat(batched, x):
      x = x if batched else jnp.broadcast_to(x, (axis_size,) + x.shape)
      return x.reshape((x.shape[0] * x.shape[1],) + x.shape[2:])  # -1 fails on size 0
    folded = [jax.tree.map(flat, b, x) for b, x in zip(in_batched, (pred, arg, old))]
    out = select(*folded)
    out = jax.tree.map(
        lambda x: x.reshape((axis_size, x.shape[0] // axis_size) + x.shape[1:]), out)
    return out, jax.tree.map(lambda _: True, out)

  return select


def lazy_where(pred: jax.Array, make: Callable[[Any], Any], arg: Any, old: Any) -> Any:
  """`make(arg)` where the scalar `pred` holds, else `old` (a pytree of its
  structure); under vmap, `make` runs only when some element's `pred` holds.
  `make` must not close over traced values: pass them in `arg`."""
  select = _batch_select(make)

  @jax.custom_jvp
  def where(pred, arg, old):
    add_axis = lambda x: x[None]
    out = select(add_axis(pred), jax.tree.map(add_axis, arg), jax.tree.map(add_axis, old))
    return jax.tree.map(lambda x: x[0], out)

  @where.defjvp
  def where_jvp(primals, tangents):
    pred, arg, old = primals
    def tangent(t, o):  # integer leaves carry float0 tangents, which pass through
      return jnp.where(pred, jnp.zeros_like(t), t) if jnp.issubdtype(o.dtype, jnp.inexact) else t
    return where(pred, arg, old), jax.tree.map(tangent, tangents[2], old)

  return where(pred, arg, old)

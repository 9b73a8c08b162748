"""lazy_where: the select of the auto-reset, which makes a fresh state only when some
element of the batch needs one, under nested vmaps and autodiff."""

import jax
import jax.numpy as jnp
import numpy as np
from brax.envs.base import Wrapper
from brax.envs.wrappers.training import EpisodeWrapper

from mbrl_jax.data import acting
from mbrl_jax import data, envs
from mbrl_jax.envs.lazy_where import lazy_where
from mbrl_jax.envs.wrappers import AutoResetWrapper


def make(key):
  """A fresh 'state' with a float, an int and a zero-size leaf."""
  return {'x': jax.random.normal(key, (3,)), 'n': jnp.int32(7), 'empty': jnp.zeros((0,))}


def eager_where(pred, key, old):
  new = jax.lax.stop_gradient(make(key))
  return jax.tree.map(lambda n, o: jnp.where(pred, n, o), new, old)


def states(shape, seed=0):
  x = jax.random.normal(jax.random.key(seed), shape + (3,))
  return {'x': x, 'n': jnp.zeros(shape, jnp.int32), 'empty': jnp.zeros(shape + (0,))}


def test_equals_a_select_unbatched_and_under_nested_vmaps():
  old = states((3, 4))
  keys = jax.random.split(jax.random.key(1), 12).reshape(3, 4)
  pred = jax.random.bernoulli(jax.random.key(2), 0.3, (3, 4))
  assert 0 < int(pred.sum()) < 12
  got = jax.jit(jax.vmap(jax.vmap(lambda p, k, o: lazy_where(p, make, k, o))))(pred, keys, old)
  want = jax.vmap(jax.vmap(eager_where))(pred, keys, old)
  jax.tree.map(np.testing.assert_array_equal, got, want)
  # Unbatched, and with an unbatched predicate under vmap.
  row = jax.tree.map(lambda x: x[0], old)
  for p in (True, False):
    first = jax.tree.map(lambda x: x[0], row)
    jax.tree.map(np.testing.assert_array_equal, lazy_where(jnp.bool_(p), make, keys[0, 0], first),
                 eager_where(p, keys[0, 0], first))
    got = jax.vmap(lambda k, o: lazy_where(jnp.bool_(p), make, k, o))(keys[0], row)
    want = jax.vmap(lambda k, o: eager_where(p, k, o))(keys[0], row)
    jax.tree.map(np.testing.assert_array_equal, got, want)


def test_make_runs_only_at_steps_where_some_element_needs_it():
  calls = []

  def counted(key):
    jax.debug.callback(lambda: calls.append(1))
    return make(key)

  f = jax.jit(jax.vmap(jax.vmap(lambda p, k, o: lazy_where(p, counted, k, o))))
  keys = jax.random.split(jax.random.key(1), 8).reshape(2, 4)
  f(jnp.zeros((2, 4), bool), keys, states((2, 4)))
  jax.effects_barrier()
  assert not calls
  f(jnp.zeros((2, 4), bool).at[1, 2].set(True), keys, states((2, 4)))
  jax.effects_barrier()
  assert calls


def test_derivatives_flow_to_the_kept_state_only():
  keys = jax.random.split(jax.random.key(1), 4)
  pred = jnp.array([False, True, False, True])

  def loss(where, x):
    old = dict(states((4,)), x=x)
    out = jax.vmap(where)(pred, keys, old)
    return jnp.sum(jnp.sin(out['x']) * jnp.arange(1.0, 4.0))

  lazy = lambda p, k, o: lazy_where(p, make, k, o)
  x = states((4,), seed=3)['x']
  want = jax.grad(loss, argnums=1)(eager_where, x)
  assert np.abs(want).sum() > 0.1 and np.all(np.asarray(want)[np.asarray(pred)] == 0)
  np.testing.assert_allclose(jax.grad(loss, argnums=1)(lazy, x), want, rtol=1e-6)
  np.testing.assert_allclose(jax.jacfwd(loss, argnums=1)(lazy, x), want, rtol=1e-6)


class CountingResets(Wrapper):
  """Counts the resets the program actually executes (not the traced ones)."""

  def __init__(self, env, calls):
    super().__init__(env)
    self.calls = calls

  def reset(self, rng):
    jax.debug.callback(lambda: self.calls.append(1))
    return self.env.reset(rng)


def test_auto_reset_resets_a_batch_only_when_an_episode_ends():
  calls = []
  env = AutoResetWrapper(EpisodeWrapper(CountingResets(envs.make('pendulum', auto_reset=False)
                                                       .unwrapped, calls), 6, 1))
  state = data.reset(env, jax.random.key(0), 5)
  policy = acting.per_env(data.random_policy(env))
  unroll = jax.jit(lambda s, k: acting.unroll(env, s, policy, k, 4))
  jax.effects_barrier()
  calls.clear()
  state, experience = unroll(state, jax.random.key(1))  # steps 1-4: no episode ends
  jax.effects_barrier()
  assert not calls and not experience.transition.done.any()
  state, experience = unroll(state, jax.random.key(2))  # steps 5-8: all end at step 6
  jax.effects_barrier()
  assert calls and experience.transition.done[1].all()
  assert int(experience.transition.done.sum()) == 5

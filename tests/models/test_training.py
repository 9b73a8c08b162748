"""Model training skips and counts a minibatch step with a NaN or inf loss."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mbrl_jax import models
from tests.helpers import assert_trees_equal
from tests.models.common import padded, pendulum_data, small_config


def tiny_trainer(**overrides):
  config = small_config(num_members=2, num_elites=1, width=8, **overrides)
  return models.Trainer(models.Ensemble(config, 3, 1))


def all_finite(tree):
  return all(np.isfinite(np.asarray(x)).all() for x in jax.tree.leaves(tree))


@pytest.mark.parametrize('bad', [np.nan, np.inf])
def test_update_with_a_nonfinite_target_keeps_params_and_optimizer_state(bad):
  trainer = tiny_trainer()
  state = trainer.init(jax.random.PRNGKey(0))
  x = jax.random.normal(jax.random.PRNGKey(1), (2, 8, trainer.ensemble.input_size))
  y = jax.random.normal(jax.random.PRNGKey(2), (2, 8, trainer.ensemble.target_size))
  terminal = jnp.zeros((2, 8))
  update = jax.jit(trainer.update)

  params, opt_state, losses, skipped = update(state.model.params, state.opt_state, x,
                                              y.at[1, 3, 0].set(bad), terminal)
  assert int(skipped) == 1 and not np.isfinite(np.asarray(losses)).all()
  assert_trees_equal(params, state.model.params)
  assert_trees_equal(opt_state, state.opt_state)

  # A clean batch afterwards takes the plain AdamW step from the untouched state.
  params, opt_state, losses, skipped = update(params, opt_state, x, y, terminal)
  assert int(skipped) == 0 and np.isfinite(np.asarray(losses)).all()
  grads = jax.grad(lambda p: jax.vmap(trainer._member_loss)(
      p, x, y, terminal, jnp.ones((2, 8))).sum())(state.model.params)
  step, _ = trainer.optimizer.update(grads, state.opt_state, state.model.params)
  expected = jax.tree.map(lambda p, u: p + u, state.model.params, step)
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7), params,
               expected)
  assert not np.allclose(params['params']['Dense_0']['kernel'],
                         state.model.params['params']['Dense_0']['kernel'])


def test_fit_counts_skipped_steps_and_a_clean_refit_still_trains():
  """40 transitions, one next_obs NaN: the target normalizer is NaN, so every step
  of every epoch is skipped; the holdout never improves, so the fit stops after
  `patience` epochs of 32 / 8 = 4 minibatches (8 transitions held out)."""
  patience = 3
  trainer = tiny_trainer(batch_size=8, patience=patience, max_epochs=50)
  dataset, mask = padded(jax.tree.map(lambda x: x[:2], pendulum_data()), capacity=64)
  assert int(mask.sum()) == 40
  poisoned = dataset.replace(next_obs=dataset.next_obs.at[7, 1].set(np.nan))
  start = trainer.init(jax.random.PRNGKey(0))
  fit = jax.jit(trainer.fit)

  state, metrics = fit(start, poisoned, mask, jax.random.PRNGKey(1))
  assert int(metrics['num_train']) == 32 and int(metrics['epochs']) == patience
  assert int(metrics['skipped_updates']) == patience * 4
  assert int(state.skipped_updates) == patience * 4
  assert_trees_equal(state.model.params, start.model.params)
  assert_trees_equal(state.opt_state, start.opt_state)

  clean, metrics = fit(state, dataset, mask, jax.random.PRNGKey(2))
  assert int(metrics['skipped_updates']) == 0 and int(clean.skipped_updates) == patience * 4
  assert int(metrics['epochs']) >= 1 and all_finite(clean.model.params)
  assert np.isfinite(np.asarray(metrics['holdout_mse'])).all()
  moved = jax.tree.map(lambda a, b: np.abs(np.asarray(a) - np.asarray(b)).max(),
                       clean.model.params, start.model.params)
  assert max(jax.tree.leaves(moved)) > 0


def test_l2_decays_add_lambda_times_each_kernel_to_its_gradient():
  """The loss gains lambda_i / 2 ||W_i||^2 per Dense layer, so its gradient gains
  lambda_i W_i in each kernel and nothing in the biases or log-variance bounds."""
  decays = (0.1, 0.2, 0.3)  # 2 hidden layers and the output
  plain, decayed = tiny_trainer(), tiny_trainer(l2_decays=decays)
  params = plain.init(jax.random.PRNGKey(0)).model.params
  member = jax.tree.map(lambda p: p[0], params)
  x = jax.random.normal(jax.random.PRNGKey(1), (8, plain.ensemble.input_size))
  y = jax.random.normal(jax.random.PRNGKey(2), (8, plain.ensemble.target_size))
  grad = lambda trainer: jax.grad(trainer._member_loss)(member, x, y, jnp.zeros(8),
                                                         jnp.ones(8))['params']
  with_decay, without = grad(decayed), grad(plain)
  for name, leaves in member['params'].items():
    for leaf, value in (leaves.items() if isinstance(leaves, dict) else [(None, leaves)]):
      got = (with_decay[name][leaf] - without[name][leaf]) if leaf else (
          with_decay[name] - without[name])
      expected = (decays[int(name.split('_')[1])] * value if leaf == 'kernel'
                  else np.zeros_like(value))
      np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-7, err_msg=f'{name} {leaf}')
  with pytest.raises(ValueError, match=r'config.l2_decays must be empty or 3 numbers >= 0'):
    tiny_trainer(l2_decays=(0.1, 0.2))

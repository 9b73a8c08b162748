"""Fitting an ensemble: holdout split, a bootstrap sample per member, minibatch
epochs with Adam(W), early stopping that keeps each member's best params, elites.

The dataset is a fixed-size pytree of transitions with a validity mask (a replay
buffer's slots), so `fit` has static shapes and runs inside a compiled training
chunk. Its cost follows the data actually held: an epoch is n_train / batch_size
minibatches (a loop with a traced trip count), each member drawing its batch from
its own bootstrap sample of the training split. A minibatch step whose loss or
gradient is not finite is skipped (params and optimizer state kept) and counted.
"""

from typing import Any, Dict, Tuple

import flax
import jax
import jax.numpy as jnp
import optax

from mbrl_jax.core.checks import check
from mbrl_jax.data import normalizer
from mbrl_jax.core.guards import apply_if_finite
from mbrl_jax.models.ensemble import Ensemble, ModelState


HISTORY_EPOCHS = 1000


@flax.struct.dataclass
class TrainerState:
  model: ModelState
  opt_state: Any
  skipped_updates: Any = 0  # minibatch steps skipped for a non-finite loss or gradient


def _kernels_only(params):
  """Weight decay on weight matrices, not on biases or log-variance bounds."""
  return jax.tree_util.tree_map_with_path(
      lambda path, _: getattr(path[-1], 'key', None) == 'kernel', params)


class Trainer:
  """Pure functions `init(key)` and `fit(state, data, mask, key)` for an ensemble."""

  def __init__(self, ensemble: Ensemble):
    config = ensemble.config
    check(0.0 < config.holdout_fraction < 1.0,
          f'config.holdout_fraction must be in (0, 1), got {config.holdout_fraction}.')
    for name in ('batch_size', 'max_holdout', 'patience'):
      check(isinstance(config[name], int) and config[name] >= 1,
            f'config.{name} must be an integer >= 1, got {config[name]!r}.')
    check(isinstance(config.max_epochs, int) and config.max_epochs >= 0,
          f'config.max_epochs must be an integer >= 1, or 0 for no cap, got '
          f'{config.max_epochs!r}.')
    check(config.learning_rate > 0 and config.weight_decay >= 0,
          f'config.learning_rate must be > 0 and config.weight_decay >= 0, got '
          f'{config.learning_rate} and {config.weight_decay}.')
    decays = tuple(float(d) for d in config.l2_decays)
    check(not decays or (len(decays) == config.num_layers + 1 and min(decays) >= 0),
          f'config.l2_decays must be empty or {config.num_layers + 1} numbers >= 0 (one per '
          f'Dense layer: {config.num_layers} hidden and the output), got {decays}.')
    self.l2_decays = decays
    self.ensemble, self.config = ensemble, config
    # Without a cap, the history keeps the first HISTORY_EPOCHS epochs.
    self.history_epochs = config.max_epochs or HISTORY_EPOCHS
    self.optimizer = optax.adamw(config.learning_rate, weight_decay=config.weight_decay,
                                 mask=_kernels_only)

  def init(self, key: jax.Array) -> TrainerState:
    model = self.ensemble.init(key)
    return TrainerState(model=model, opt_state=self.optimizer.init(model.params),
                        skipped_updates=jnp.zeros((), jnp.int32))

  # --- losses in normalized target space ------------------------------------------
  def _member_loss(self, params, x, y, terminal, weight):
    out = self.ensemble.net.apply(params, x)
    if self.ensemble.gaussian:
      inv_var = jnp.exp(-out['logvar'])
      per_item = ((out['mean'] - y)**2 * inv_var + out['logvar']).mean(-1)
      bounds = params['params']
      bound_penalty = 0.01 * (bounds['max_logvar'].sum() - bounds['min_logvar'].sum())
    else:
      per_item = ((out['mean'] - y)**2).mean(-1)
      bound_penalty = 0.0
    loss = (weight * per_item).sum() / jnp.maximum(weight.sum(), 1.0) + bound_penalty
    for i, decay in enumerate(self.l2_decays):  # Dense_0 ... Dense_{num_layers}
      loss = loss + 0.5 * decay * jnp.sum(params['params'][f'Dense_{i}']['kernel']**2)
    if 'termination_logit' in out:
      bce = optax.sigmoid_binary_cross_entropy(out['termination_logit'], terminal)
      loss = loss + (weight * bce).sum() / jnp.maximum(weight.sum(), 1.0)
    return loss

  def update(self, params, opt_state, x, y, terminal):
    """One Adam(W) step of every member on its own batch x [M, B, in], y [M, B, out].

    Returns (params, opt_state, per-member losses, skipped): skipped is 1 when a
    loss or gradient entry was NaN or inf, and then params and opt_state are the
    ones given (one step for all members, as they share the optimizer's count)."""
    def total_loss(params):
      weight = jnp.ones(x.shape[:2], jnp.float32)
      losses = jax.vmap(self._member_loss)(params, x, y, terminal, weight)
      return losses.sum(), losses

    (_, losses), grads = jax.value_and_grad(total_loss, has_aux=True)(params)
    params, opt_state, skipped, _ = apply_if_finite(self.optimizer, params, opt_state, grads,
                                                    losses)
    return params, opt_state, losses, skipped.astype(jnp.int32)

  def holdout_scores(self, model: ModelState, x, y, weight) -> Dict[str, jax.Array]:
    """Per-member MSE and Gaussian NLL (per dimension) of normalized targets."""
    out = jax.vmap(self.ensemble.net.apply, in_axes=(0, None))(model.params, x)
    total = jnp.maximum(weight.sum(), 1.0)
    err2 = (out['mean'] - y)**2
    scores = {'mse': (err2.mean(-1) * weight).sum(-1) / total}
    if self.ensemble.gaussian:
      nll = 0.5 * (jnp.log(2 * jnp.pi) + out['logvar'] + err2 * jnp.exp(-out['logvar']))
      scores['nll'] = (nll.mean(-1) * weight).sum(-1) / total
      scores['variance'] = (jnp.exp(out['logvar']).mean(-1) * weight).sum(-1) / total
    return scores

  # --- fitting ------------------------------------------------------------------
  def fit(self, state: TrainerState, data, mask: jax.Array, key: jax.Array,
          enabled: jax.Array = True) -> Tuple[TrainerState, Dict[str, jax.Array]]:
    """Fits the members to the valid transitions of `data` (obs, action, next_obs,
    reward, done, truncation with a leading axis of the size of `mask`).

    Normalizers are refitted to the data; training continues from the current
    params and optimizer state. Returns per-member holdout scores of the kept
    (best) params and `holdout_mse_history` [max_epochs (HISTORY_EPOCHS for 0, no
    cap), members] (NaN after the last epoch run), and `skipped_updates`, the
    minibatch steps skipped for a
    non-finite loss or gradient in this fit (also added to the state's count). With
    fewer than 2 valid transitions, or `enabled` false (a
    traced bool: agents decide inside their compiled chunk whether to refit), the
    epoch loop does not run and nothing changes.
    """
    ens, config = self.ensemble, self.config
    size = mask.shape[0]
    num_members = ens.num_members
    batch = config.batch_size
    inputs = ens.inputs(data.obs, data.action)
    targets = ens.targets(data.obs, data.next_obs, data.reward)
    terminal = data.done * (1.0 - data.truncation)  # time limits are not terminations
    model = state.model.replace(
        input_norm=normalizer.update(normalizer.init(inputs.shape[-1]), inputs, mask),
        target_norm=normalizer.update(normalizer.init(targets.shape[-1]), targets, mask))
    x_all = normalizer.normalize(model.input_norm, inputs)
    y_all = normalizer.normalize(model.target_norm, targets)

    go = (mask.sum() >= 2) & jnp.asarray(enabled)
    # Holdout: a random subset of the valid items, at most max_holdout.
    split_key, boot_key, key = jax.random.split(key, 3)
    n_valid = mask.sum().astype(jnp.int32)
    order = jnp.argsort(jnp.where(mask, jax.random.uniform(split_key, (size,)), 2.0))
    max_holdout = min(config.max_holdout, size)
    n_holdout = jnp.clip(jnp.floor(config.holdout_fraction * n_valid).astype(jnp.int32),
                         1, max_holdout)
    n_train = jnp.maximum(n_valid - n_holdout, 1)
    hold_idx = order[:max_holdout]
    hold_weight = (jnp.arange(max_holdout) < n_holdout).astype(jnp.float32)
    hold_x, hold_y = x_all[hold_idx], y_all[hold_idx]

    # Bootstrap: each member's own sample, with replacement, of the training split.
    boot = order[n_holdout + jax.random.randint(boot_key, (num_members, size), 0, n_train)]
    num_batches = (n_train + batch - 1) // batch

    def minibatch(i, carry):
      params, opt_state, key, _, skipped = carry
      key, draw_key = jax.random.split(key)
      pos = jax.random.randint(draw_key, (num_members, batch), 0, n_train)
      idx = jnp.take_along_axis(boot, pos, axis=1)
      params, opt_state, losses, skip = self.update(params, opt_state, x_all[idx], y_all[idx],
                                                    terminal[idx])
      return params, opt_state, key, losses, skipped + skip

    def epoch(carry):
      params, opt_state, best, best_mse, since, count, key, _, history, skipped = carry
      key, epoch_key = jax.random.split(key)
      params, opt_state, _, losses, skipped = jax.lax.fori_loop(
          0, num_batches, minibatch,
          (params, opt_state, epoch_key, jnp.zeros(num_members), skipped))
      mse = self.holdout_scores(model.replace(params=params), hold_x, hold_y,
                                hold_weight)['mse']
      improved = mse < best_mse * (1.0 - config.improvement_threshold)
      pick = lambda new, old: jnp.where(
          improved.reshape((-1,) + (1,) * (new.ndim - 1)), new, old)
      best = jax.tree.map(pick, params, best)
      best_mse = jnp.where(improved, mse, best_mse)
      since = jnp.where(improved.any(), 0, since + 1)
      history = history.at[count].set(mse, mode='drop')  # past its end: not kept
      return params, opt_state, best, best_mse, since, count + 1, key, losses, history, skipped

    def keep_going(carry):
      since, count = carry[4], carry[5]
      capped = count < config.max_epochs if config.max_epochs else True
      return capped & (since < config.patience) & go

    start = (model.params, state.opt_state, model.params, jnp.full(num_members, jnp.inf),
             jnp.zeros((), jnp.int32), jnp.zeros((), jnp.int32), key, jnp.zeros(num_members),
             jnp.full((self.history_epochs, num_members), jnp.nan), jnp.zeros((), jnp.int32))
    _, opt_state, best, _, _, epochs, _, train_losses, history, skipped = jax.lax.while_loop(
        keep_going, epoch, start)
    model = model.replace(params=best)
    scores = self.holdout_scores(model, hold_x, hold_y, hold_weight)
    model = model.replace(elites=jnp.argsort(scores['mse'])[:ens.num_elites])
    metrics = {f'holdout_{k}': v for k, v in scores.items()}
    metrics.update(epochs=epochs, train_loss=train_losses, num_train=n_train,
                   num_holdout=n_holdout, holdout_mse_history=history, skipped_updates=skipped)
    fitted = TrainerState(model=model, opt_state=opt_state,
                          skipped_updates=state.skipped_updates + skipped)
    unchanged = ~go
    fitted = jax.tree.map(lambda old, new: jnp.where(unchanged, old, new), state, fitted)
    return fitted, metrics

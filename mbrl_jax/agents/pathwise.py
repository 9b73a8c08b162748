"""Pathwise policy gradients: backpropagate the return into the policy (version 2.0).

A tanh-Gaussian policy (reparameterized) is improved by differentiating the
discounted sum of rewards over a window of `horizon` steps with respect to its
params, through one of two dynamics (config.dynamics):
  'env'    the env's own differentiable step: a batch of real envs is rolled
           forward `horizon` steps by the policy, the loss is minus the mean window
           return, and the next window continues from the states reached, with no
           gradient across windows (truncated backprop through time, as in
           analytic policy gradients). Every update consumes num_envs * horizon
           real steps, and those are the steps counted. Works for the JAX-native
           tasks and for the Brax backends that give finite gradients.
  'model'  a learned ensemble: each chunk collects real steps with the current
           policy into a replay buffer, refits the ensemble to it, then makes
           `updates_per_chunk` updates by backprop through `models.rollout`
           (reparameterized Gaussian members) from start states drawn from the
           buffer. Only the real collection steps are counted.
What makes it work in practice: the truncated horizon, clipping the gradient's
global norm, and skipping (and counting) any update whose gradient has a NaN or
inf entry. With `value_bootstrap`, a learned V(s) closes the window,
return = sum_{t<H} discount^t r_t + discount^H V(s_H) (short-horizon
actor-critic, SHAC), the critic being fitted to TD(lambda) targets of the same
windows computed with a Polyak-averaged target critic.
"""

import jax
import jax.numpy as jnp
import ml_collections
import optax

from mbrl_jax.data import acting
from mbrl_jax import data, models
from mbrl_jax.core import returns
from mbrl_jax.agents import actor_critic, model_based
from mbrl_jax.policies import tanh_gaussian
from mbrl_jax.core.guards import apply_if_finite
from mbrl_jax.agents.base import Agent
from mbrl_jax.core.checks import check, check_choice, check_positive, check_preset

DYNAMICS = ('env', 'model')
PRESETS = ('env', 'model', 'env_value', 'model_value')  # the first is the default
SIZES = ('cpu', 'tiny')  # 'cpu': the pendulum tests' and experiments' sizes


def default_config() -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.dynamics = 'env'           # 'env': the env's own step; 'model': a learned ensemble
  config.horizon = 20               # steps differentiated through per update
  config.discount = 0.99
  config.reward_scaling = 1.0       # rewards are multiplied by this in the losses
  config.hidden_sizes = (32, 32)
  config.activation = 'elu'         # smooth activations keep the pathwise gradient smooth
  config.std_scale = 1.0            # multiplies the policy's std (brax's var_scale)
  config.learning_rate = 3e-3
  config.max_grad_norm = 1.0        # clip_by_global_norm; <= 0: no clipping
  config.num_envs = 32              # env: envs differentiated through; model: collecting envs
  config.steps_per_chunk = 6400     # real env steps (all envs) per train_chunk
  # 'model' only.
  config.updates_per_chunk = 50     # policy updates through the model per chunk
  config.batch_size = 256           # imagined start states per update
  config.random_steps = 0           # uniform random actions (all envs) before the policy acts
  config.buffer_capacity = 100_000
  config.propagation = 'ts1'
  config.model = models.default_config()
  # A learned value at the end of the window (SHAC-style short-horizon actor-critic).
  config.value_bootstrap = False
  config.value = ml_collections.ConfigDict(dict(
      hidden_sizes=(64, 64), learning_rate=1e-3, lambda_=0.95, updates=4, tau=0.2))
  return config


def preset(name: str = 'env', size: str = 'cpu') -> ml_collections.ConfigDict:
  """'env' (through the env), 'model' (through a learned ensemble), and each with
  '_value' (a critic at the end of the window); size 'cpu' as in the pendulum tests
  and experiments/pathwise_model_vs_env.py, or 'tiny'."""
  check_preset('pathwise', name, size, PRESETS, SIZES)
  config = default_config()
  if name.startswith('model'):
    config.update(dict(dynamics='model', num_envs=1, steps_per_chunk=200, random_steps=200,
                       updates_per_chunk=100, batch_size=256))
    config.model.update(dict(num_members=4, num_elites=4, width=64, num_layers=3,
                             max_epochs=50))
  if name.endswith('_value'):
    config.reward_scaling = 0.1  # pendulum-sized rewards: value targets of order 1 to 10
  config.value_bootstrap = name.endswith('_value')
  if size == 'tiny':
    config.update(dict(horizon=5, steps_per_chunk=20, hidden_sizes=(8,)))
    config.value.hidden_sizes = (8,)
    if name.startswith('model'):
      config.update(dict(random_steps=20, updates_per_chunk=2, batch_size=8,
                         buffer_capacity=400))
      config.model.update(model_based.TINY_MODEL)
    else:
      config.num_envs = 2
  return config


Params, TrainState = model_based.Params, model_based.TrainState  # value: {} without a critic


def validate(config, env):
  check_choice(config, 'dynamics', DYNAMICS)
  check_positive(config, 'horizon', 'num_envs', 'steps_per_chunk', 'updates_per_chunk',
                 'batch_size', 'buffer_capacity')
  actor_critic.validate(config)
  if config.value_bootstrap:
    v = config.value
    check(0 <= v.lambda_ <= 1 and 0 < v.tau <= 1 and v.learning_rate > 0
          and isinstance(v.updates, int) and v.updates >= 1,
          f'config.value needs 0 <= lambda_ <= 1, 0 < tau <= 1, learning_rate > 0 and '
          f'updates >= 1, got {v.to_dict()}.')
  if config.dynamics == 'env':
    window = config.num_envs * config.horizon
    check(config.steps_per_chunk % window == 0,
          f'config.steps_per_chunk ({config.steps_per_chunk}) must be a multiple of '
          f'num_envs * horizon ({window}): each update uses one window of every env.')
    return
  model_based.validate(config, env, 'pathwise through a model', starts='batch_size')
  check(config.batch_size <= config.buffer_capacity,
        f'config.batch_size ({config.batch_size}) must not exceed config.buffer_capacity.')


def make(config: ml_collections.ConfigDict, env) -> Agent:
  validate(config, env)
  through_model = config.dynamics == 'model'
  use_value = bool(config.value_bootstrap)
  policy, policy_optimizer, value_init, value_apply, value_optimizer = actor_critic.actor_critic(
      config, env, config.value.hidden_sizes, config.value.learning_rate)
  horizon, discount, scale = config.horizon, config.discount, config.reward_scaling
  if through_model:
    ensemble, trainer, buffer, reward_fn, termination_fn = model_based.model_parts(
        config, env, config.batch_size)
    num_updates = config.updates_per_chunk
  else:
    num_updates = config.steps_per_chunk // (config.num_envs * horizon)

  def values(params, obs):
    return value_apply(params, obs) if use_value else jnp.zeros(obs.shape[:-1])

  # --- one window, differentiated in the policy params -----------------------------
  def env_window(policy_params, value_params, env_state, key):
    """Rolls the real envs `horizon` steps; (minus the mean window return, (state
    reached, transitions [H, N]))."""
    env_state = jax.lax.stop_gradient(env_state)  # truncated BPTT: no gradient across windows
    act = lambda obs, k: policy.sample(policy_params, obs, k)
    final, experience = acting.unroll(env, env_state, act, key, horizon)
    tr = experience.transition
    objective = returns.window_return(scale * tr.reward, values(value_params, tr.next_obs),
                                      tr.done, tr.truncation, values(value_params, final.obs),
                                      discount)
    return -objective.mean() / horizon, (final, experience)

  def model_window(policy_params, value_params, model, start_obs, key):
    out = models.rollout(ensemble, model, key, start_obs, horizon, config.propagation,
                         policy=lambda obs, k: policy.sample(policy_params, obs, k),
                         reward_fn=reward_fn, termination_fn=termination_fn)
    tr = out.transitions(time_major=True)
    objective = returns.window_return(scale * tr.reward, values(value_params, tr.next_obs),
                                      tr.done, tr.truncation,
                                      values(value_params, out.obs[:, -1]), discount)
    return -objective.mean() / horizon, tr

  # --- the critic on a window's transitions ------------------------------------------
  def critic_update(params: Params, value_opt, tr: data.Transition, weight):
    """`config.value.updates` steps towards TD(lambda) targets from the target critic,
    then the Polyak step of the target; returns (params, value_opt, loss, skipped)."""
    tr = jax.lax.stop_gradient(tr)
    targets = returns.lambda_returns(scale * tr.reward, value_apply(params.target_value,
                                                                    tr.next_obs),
                                     tr.done, tr.truncation, discount, config.value.lambda_)

    value_params, value_opt, loss, skipped = actor_critic.fit_value(
        value_apply, value_optimizer, params.value, value_opt, tr.obs, targets, weight,
        config.value.updates)
    target = optax.incremental_update(value_params, params.target_value, config.value.tau)
    return params.replace(value=value_params, target_value=target), value_opt, loss, skipped

  # --- one policy (and critic) update ------------------------------------------------
  def update(state: TrainState, key):
    """Returns (state, (policy loss, grad norm, skipped, value loss, real experience
    of the window; None through the model))."""
    p = state.params
    window_key, start_key = jax.random.split(key)
    if through_model:
      start = buffer.sample(state.buffer, start_key).experience.obs
      (loss, tr), grads = jax.value_and_grad(model_window, has_aux=True)(
          p.policy, p.value, p.model, start, window_key)
      env_state, experience = state.env_state, None
      alive = returns.alive_mask(tr.done)
    else:
      (loss, (env_state, experience)), grads = jax.value_and_grad(env_window, has_aux=True)(
          p.policy, p.value, state.env_state, window_key)
      tr = experience.transition
      alive = jnp.ones_like(tr.done)
    policy_params, policy_opt, skipped, grad_norm = apply_if_finite(
        policy_optimizer, p.policy, state.policy_opt, grads)
    params, value_opt, value_loss = p.replace(policy=policy_params), state.value_opt, jnp.nan
    if use_value:
      params, value_opt, value_loss, value_skipped = critic_update(params, value_opt, tr, alive)
      skipped = skipped + value_skipped
    state = state.replace(params=params, policy_opt=policy_opt, value_opt=value_opt,
                          env_state=env_state)
    return state, (loss, grad_norm, skipped, value_loss, experience)

  # --- the agent contract --------------------------------------------------------------
  def init(key):
    policy_key, value_key, model_key, env_key, key = jax.random.split(key, 5)
    value = value_init(value_key) if use_value else {}
    model, model_opt, buffer_state = {}, {}, ()
    if through_model:
      trainer_state = trainer.init(model_key)
      model, model_opt = trainer_state.model, trainer_state.opt_state
      buffer_state = buffer.init(data.example_transition(env))
    params = Params(policy=policy.init(policy_key), value=value, target_value=value, model=model)
    return TrainState(params=params, policy_opt=policy_optimizer.init(params.policy),
                      value_opt=value_optimizer.init(value) if use_value else {},
                      model_opt=model_opt, env_state=data.reset(env, env_key, config.num_envs),
                      buffer=buffer_state, key=key, env_steps=jnp.zeros((), jnp.int32),
                      skipped_updates=jnp.zeros((), jnp.int32))

  def summarize(losses, grad_norms, skipped, value_losses):
    finite = jnp.isfinite(grad_norms)
    mean_norm = jnp.where(finite, grad_norms, 0.0).sum() / jnp.maximum(finite.sum(), 1)
    metrics = {'policy_loss': losses.mean(),
               'grad_norm': jnp.where(finite.any(), mean_norm, jnp.nan),
               'skipped_updates': skipped.sum()}
    if use_value:
      metrics['value_loss'] = value_losses.mean()
    return metrics

  def env_chunk(state: TrainState):
    key, update_key = jax.random.split(state.key)
    state, (losses, norms, skipped, value_losses, experience) = jax.lax.scan(
        update, state, jax.random.split(update_key, num_updates))
    metrics = acting.episode_metrics(experience)
    metrics.update(summarize(losses, norms, skipped, value_losses))
    state = state.replace(key=key, env_steps=state.env_steps + config.steps_per_chunk,
                          skipped_updates=state.skipped_updates + skipped.sum().astype(jnp.int32))
    return state, metrics

  def improve(state: TrainState, key):
    state, (losses, norms, skipped, value_losses, _) = jax.lax.scan(
        update, state, jax.random.split(key, num_updates))
    return state, summarize(losses, norms, skipped, value_losses)

  if through_model:
    return model_based.policy_learner(config, env, policy, init, improve, buffer, trainer)
  return Agent(init=init, train_chunk=env_chunk, make_policy=tanh_gaussian.make_policy_fn(policy),
               steps_per_chunk=config.steps_per_chunk)

"""Policy gradients on trajectories the learned model generates (version 2.5).

Each chunk collects real steps with the current stochastic policy into a replay
buffer and refits the ensemble to it; then, `iterations_per_chunk` times, it
imagines `num_starts` trajectories of `horizon` steps through the ensemble (ts1
by default, actions sampled from the policy) from start states drawn from the
buffer, and improves the policy on them with a likelihood-ratio (score-function)
gradient: no gradient flows through the model. config.algorithm:
  'reinforce'  REINFORCE with a baseline: advantage = discounted reward-to-go within
               the window minus a learned V(s_t) ('value') or the batch mean of the
               reward-to-go at each time step ('mean'); one step per iteration.
  'ppo'        PPO: GAE(lambda) advantages from a learned value, bootstrapped with
               V(s_H) at the window's end (brax's `compute_gae`), the clipped
               surrogate, `epochs` passes over `num_minibatches` minibatches.
The policy is tanh-Gaussian; the log-density of an imagined action is evaluated
at its pre-tanh value recovered by atanh (kept off the edges, so it stays finite),
the same way for the behaviour and the updated policy, so their ratio is exact
except for actions within 1e-6 of a bound. A gradient with a NaN or inf entry is
skipped and counted, as in every agent here.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import ml_collections

from mbrl_jax import data, estimators, models
from mbrl_jax.core import returns
from mbrl_jax.agents import actor_critic, model_based
from mbrl_jax.agents.base import Agent
from mbrl_jax.core.checks import check, check_choice, check_positive, check_preset
from mbrl_jax.core.guards import apply_if_finite

ALGORITHMS = ('reinforce', 'ppo')
PRESETS = ('ppo', 'reinforce')  # the algorithm; the first is the default
SIZES = ('cpu', 'tiny')
BASELINES = ('value', 'mean')


def default_config() -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.algorithm = 'ppo'
  config.hidden_sizes = (64, 64)
  config.activation = 'tanh'
  config.std_scale = 1.0              # multiplies the policy's std (brax's var_scale)
  config.learning_rate = 1e-3         # policy
  config.value_learning_rate = 1e-3
  config.max_grad_norm = 0.5          # clip_by_global_norm; <= 0: no clipping
  config.discount = 0.99
  config.reward_scaling = 0.1         # rewards are multiplied by this in the losses (the
                                      # value's targets stay of order 1 to 10 on pendulum)
  config.gae_lambda = 0.95            # ppo
  config.normalize_advantage = True
  config.num_envs = 1                 # real envs collecting (per seed)
  config.steps_per_chunk = 200        # real env steps (all envs) per train_chunk
  config.random_steps = 0             # uniform random actions (all envs) first
  config.buffer_capacity = 100_000
  config.model = models.default_config()
  config.model.update(dict(num_members=4, num_elites=4, width=64, num_layers=3, max_epochs=50))
  config.propagation = 'ts1'
  config.num_starts = 512             # imagined trajectories per iteration
  config.horizon = 20                 # imagined steps per trajectory
  config.iterations_per_chunk = 20    # imagine + update, per chunk
  config.ppo = ml_collections.ConfigDict(dict(epochs=8, num_minibatches=4, clip_epsilon=0.2,
                                              entropy_cost=0.0))
  config.reinforce = ml_collections.ConfigDict(dict(baseline='value', value_updates=4))
  return config


def preset(name: str = 'ppo', size: str = 'cpu') -> ml_collections.ConfigDict:
  """'ppo' (the default config) or 'reinforce' (REINFORCE with a baseline), at size
  'cpu' (the defaults) or 'tiny'."""
  check_preset('model_pg', name, size, PRESETS, SIZES)
  config = default_config()
  config.algorithm = name
  if size == 'tiny':
    config.update(dict(steps_per_chunk=20, random_steps=20, horizon=5, num_starts=16,
                       iterations_per_chunk=2, hidden_sizes=(8,), buffer_capacity=400))
    config.ppo.update(dict(epochs=2, num_minibatches=2))
    config.reinforce.value_updates = 2
    config.model.update(model_based.TINY_MODEL)
  return config


Params, TrainState = model_based.Params, model_based.TrainState  # target_value: {}


class Imagined(NamedTuple):
  """Imagined windows through the model, time-major [H, N]."""
  obs: jax.Array
  action: jax.Array
  reward: jax.Array        # scaled by config.reward_scaling
  done: jax.Array          # cumulative, as models.rollout gives them
  next_obs: jax.Array
  old_log_prob: jax.Array  # of the behaviour policy that imagined them
  alive: jax.Array         # 1.0 up to and including the terminating step


def validate(config, env):
  check_choice(config, 'algorithm', ALGORITHMS)
  check_positive(config, 'num_envs', 'steps_per_chunk', 'buffer_capacity', 'num_starts',
                 'horizon', 'iterations_per_chunk')
  actor_critic.validate(config)
  check(0 <= config.gae_lambda <= 1 and config.value_learning_rate > 0,
        f'need 0 <= gae_lambda <= 1 and value_learning_rate > 0, got gae_lambda='
        f'{config.gae_lambda}, value_learning_rate={config.value_learning_rate}.')
  model_based.validate(config, env, 'model_pg', starts='num_starts')
  check(config.buffer_capacity >= config.num_starts,
        f'config.buffer_capacity ({config.buffer_capacity}) must hold config.num_starts '
        f'({config.num_starts}) start states.')
  if config.algorithm == 'ppo':
    p = config.ppo
    check(isinstance(p.epochs, int) and p.epochs >= 1 and isinstance(p.num_minibatches, int)
          and p.num_minibatches >= 1 and p.clip_epsilon > 0 and p.entropy_cost >= 0,
          f'config.ppo needs epochs >= 1, num_minibatches >= 1, clip_epsilon > 0 and '
          f'entropy_cost >= 0, got {p.to_dict()}.')
    samples = config.num_starts * config.horizon
    check(samples % p.num_minibatches == 0,
          f'config.ppo.num_minibatches ({p.num_minibatches}) must divide the imagined '
          f'samples per iteration (num_starts * horizon = {samples}).')
  else:
    check(config.reinforce.baseline in BASELINES,
          f'config.reinforce.baseline must be one of {", ".join(map(repr, BASELINES))}; '
          f'got {config.reinforce.baseline!r}.')
    check(isinstance(config.reinforce.value_updates, int) and config.reinforce.value_updates >= 1,
          f'config.reinforce.value_updates must be an integer >= 1, got '
          f'{config.reinforce.value_updates!r}.')


def make(config: ml_collections.ConfigDict, env) -> Agent:
  validate(config, env)
  policy, policy_optimizer, value_init, value_apply, value_optimizer = actor_critic.actor_critic(
      config, env, config.hidden_sizes, config.value_learning_rate)
  ensemble, trainer, buffer, reward_fn, termination_fn = model_based.model_parts(
      config, env, config.num_starts)
  horizon, discount = config.horizon, config.discount
  ppo = config.algorithm == 'ppo'

  def imagine(params: Params, start_obs, key) -> Imagined:
    """Imagined windows, time-major [H, N], with no gradient through them."""
    out = models.rollout(ensemble, params.model, key, start_obs, horizon, config.propagation,
                         policy=lambda obs, k: policy.sample(params.policy, obs, k),
                         reward_fn=reward_fn, termination_fn=termination_fn)
    tr = jax.lax.stop_gradient(out.transitions(time_major=True))
    return Imagined(obs=tr.obs, action=tr.action, reward=config.reward_scaling * tr.reward,
                    done=tr.done, next_obs=tr.next_obs,
                    old_log_prob=policy.log_prob(params.policy, tr.obs, tr.action),
                    alive=returns.alive_mask(tr.done))

  def fit_value(value_params, value_opt, obs, targets, weight, steps):
    return actor_critic.fit_value(value_apply, value_optimizer, value_params, value_opt, obs,
                                  targets, weight, steps)

  def policy_step(policy_params, policy_opt, loss_fn):
    loss, grads = jax.value_and_grad(loss_fn)(policy_params)
    policy_params, policy_opt, skipped, norm = apply_if_finite(
        policy_optimizer, policy_params, policy_opt, grads)
    return policy_params, policy_opt, loss, skipped, norm

  # --- one iteration: imagine, then update ----------------------------------------------
  def reinforce_iteration(state: TrainState, batch: Imagined, key):
    obs, actions, rewards, dones, next_obs, alive = (
        batch.obs, batch.action, batch.reward, batch.done, batch.next_obs, batch.alive)
    p = state.params
    # The window cuts an endless task short: its tail is V(s_H), unless it terminated.
    tail = (1.0 - dones[-1]) * value_apply(p.value, next_obs[-1])
    to_go = returns.reward_to_go(rewards, discount, tail)
    if config.reinforce.baseline == 'value':
      baseline = value_apply(p.value, obs)
    else:
      baseline = (alive * to_go).sum(1, keepdims=True) / jnp.maximum(
          alive.sum(1, keepdims=True), 1.0)
    advantages = to_go - baseline
    if config.normalize_advantage:
      advantages = estimators.normalize_advantages(advantages, alive)

    def loss_fn(policy_params):
      log_prob = policy.log_prob(policy_params, obs, actions)
      surrogate = estimators.likelihood_ratio_surrogate(log_prob, advantages, alive)
      return -surrogate / jnp.maximum(alive.sum(), 1.0)

    policy_params, policy_opt, loss, skipped, norm = policy_step(p.policy, state.policy_opt,
                                                                 loss_fn)

    value_params, value_opt, value_loss, value_skipped = fit_value(
        p.value, state.value_opt, obs, to_go, alive, config.reinforce.value_updates)
    state = state.replace(params=p.replace(policy=policy_params, value=value_params),
                          policy_opt=policy_opt, value_opt=value_opt)
    return state, dict(policy_loss=loss, value_loss=value_loss, grad_norm=norm,
                       skipped=skipped + value_skipped)

  def ppo_iteration(state: TrainState, batch: Imagined, key):
    obs, actions, rewards, dones, next_obs, old_log_prob, alive = (
        batch.obs, batch.action, batch.reward, batch.done, batch.next_obs, batch.old_log_prob,
        batch.alive)
    p = state.params
    values = value_apply(p.value, obs)
    advantages, targets = returns.gae(rewards, values, value_apply(p.value, next_obs[-1]), dones,
                              discount, config.gae_lambda)
    flat = lambda x: x.reshape((-1,) + x.shape[2:])
    samples = (flat(obs), flat(actions), flat(old_log_prob), flat(advantages), flat(targets),
               flat(alive))
    num = samples[0].shape[0]
    size = num // config.ppo.num_minibatches

    def minibatch(carry, idx):
      state, entropy_key = carry
      o, a, old, adv, target, w = (x[idx] for x in samples)
      if config.normalize_advantage:
        adv = estimators.normalize_advantages(adv, w)
      entropy_key, k = jax.random.split(entropy_key)

      def loss_fn(policy_params):
        loss = estimators.ppo_clipped_loss(policy.log_prob(policy_params, o, a), old, adv,
                               config.ppo.clip_epsilon, w)
        if config.ppo.entropy_cost:
          loss = loss - config.ppo.entropy_cost * policy.entropy(policy_params, o, k).mean()
        return loss

      q = state.params
      policy_params, policy_opt, loss, skipped, norm = policy_step(q.policy, state.policy_opt,
                                                                   loss_fn)
      value_params, value_opt, value_loss, value_skipped = fit_value(q.value, state.value_opt,
                                                                     o, target, w, 1)
      state = state.replace(params=q.replace(policy=policy_params, value=value_params),
                            policy_opt=policy_opt, value_opt=value_opt)
      return (state, entropy_key), dict(policy_loss=loss, value_loss=value_loss, grad_norm=norm,
                                        skipped=skipped + value_skipped)

    perm_keys = jax.random.split(key, config.ppo.epochs)
    order = jax.vmap(lambda k: jax.random.permutation(k, num))(perm_keys)
    order = order.reshape((-1, size))  # epochs * num_minibatches minibatches
    (state, _), stats = jax.lax.scan(minibatch, (state, key), order)
    new_log_prob = policy.log_prob(state.params.policy, obs, actions)
    stats = {k: v.sum() if k == 'skipped' else jnp.nanmean(v) for k, v in stats.items()}
    stats['approx_kl'] = (alive * (old_log_prob - new_log_prob)).sum() / jnp.maximum(
        alive.sum(), 1.0)
    return state, stats

  def iteration(state: TrainState, key):
    start_key, imagine_key, update_key = jax.random.split(key, 3)
    start = buffer.sample(state.buffer, start_key).experience.obs
    batch = imagine(state.params, start, imagine_key)
    update = ppo_iteration if ppo else reinforce_iteration
    state, stats = update(state, batch, update_key)
    stats['imagined_return'] = batch.reward.sum(0).mean() / config.reward_scaling
    return state, stats

  # --- the agent contract -------------------------------------------------------------
  def init(key):
    policy_key, value_key, model_key, env_key, key = jax.random.split(key, 5)
    trainer_state = trainer.init(model_key)
    params = Params(policy=policy.init(policy_key), value=value_init(value_key), target_value={},
                    model=trainer_state.model)
    return TrainState(params=params, policy_opt=policy_optimizer.init(params.policy),
                      value_opt=value_optimizer.init(params.value),
                      model_opt=trainer_state.opt_state,
                      env_state=data.reset(env, env_key, config.num_envs),
                      buffer=buffer.init(data.example_transition(env)), key=key,
                      env_steps=jnp.zeros((), jnp.int32),
                      skipped_updates=jnp.zeros((), jnp.int32))

  def improve(state: TrainState, key):
    state, stats = jax.lax.scan(iteration, state,
                                jax.random.split(key, config.iterations_per_chunk))
    skipped = stats.pop('skipped').sum()
    return state, {**{k: v.mean() for k, v in stats.items()}, 'skipped_updates': skipped}

  return model_based.policy_learner(config, env, policy, init, improve, buffer, trainer)

"""Soft actor-critic (Haarnoja et al. 2018): model-free, and MBPO's learner.

Tanh-Gaussian policy, twin Q-networks with Polyak-averaged targets, automatic
entropy tuning; the networks, distribution and losses are brax.training's SAC
pieces. Differences from brax's own trainer: transitions keep the true next
observation at time limits (our auto-reset), so a truncated transition is
bootstrapped rather than dropped, and everything (acting, replay, updates) runs
inside the compiled `train_chunk` of the agent contract. An update with a NaN or
inf loss or gradient is skipped as a whole (params and optimizer states kept) and
counted in `skipped_updates`.
"""

from typing import Any, Callable, NamedTuple, Tuple

import flax
import jax
import jax.numpy as jnp
import ml_collections
import optax
from brax.training import types as brax_types
from brax.training.agents.sac import losses as sac_losses
from brax.training.agents.sac import networks as sac_networks

from mbrl_jax import acting, data
from mbrl_jax.agents.base import Agent, check, check_positive, check_version
from mbrl_jax.data import replay
from mbrl_jax.guards import all_finite, keep_if


VERSIONS = ('paper', 'cpu')  # presets; the first is the default
# SAC at CPU size: what configs 'cpu' of sac and mbpo share, so curves compare like with like.
CPU = dict(hidden_sizes=(128, 128), learning_rate=1e-3, random_steps=500,
           buffer_capacity=100_000, steps_per_chunk=500)


def default_config() -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.hidden_sizes = (256, 256)
  config.learning_rate = 3e-4
  config.discount = 0.99
  config.reward_scaling = 1.0
  config.tau = 0.005                 # Polyak rate of the target critics
  config.batch_size = 256
  config.buffer_capacity = 1_000_000
  config.random_steps = 1000         # uniform random actions (all envs) before learning
  config.updates_per_step = 1        # gradient steps per env step (all envs)
  config.num_envs = 1
  config.steps_per_chunk = 1000      # real env steps (all envs) per train_chunk
  return config


def preset(version: str = 'paper') -> ml_collections.ConfigDict:
  """'paper': the SAC paper's settings (2 x 256, lr 3e-4); 'cpu': sized for a
  2-core CPU, the SAC half of MBPO's 'cpu' preset (experiments/mbpo_vs_sac.sh)."""
  check_version('sac', version, VERSIONS)
  config = default_config()
  if version == 'cpu':
    config.update(CPU)
  return config


@flax.struct.dataclass
class SACParams:
  policy: Any
  q: Any
  target_q: Any
  log_alpha: jax.Array


@flax.struct.dataclass
class SACOptState:
  policy: Any
  q: Any
  alpha: Any


@flax.struct.dataclass
class LearnerState:
  params: SACParams
  opt: SACOptState


@flax.struct.dataclass
class TrainState:
  params: SACParams
  sac_opt: SACOptState
  env_state: Any
  buffer: replay.BufferState
  key: jax.Array
  env_steps: jax.Array
  skipped_updates: jax.Array  # updates skipped for a non-finite loss or gradient


class Learner(NamedTuple):
  """SAC's networks and update, for any source of transitions (MBPO mixes model data)."""
  init: Callable[[jax.Array], LearnerState]
  update: Callable[..., Tuple[LearnerState, dict]]   # (state, batch, key, critic_loss=None)
  make_policy: Callable[[SACParams, bool], Callable]  # actions in the env's bounds
  sample_action: Callable  # (policy params, obs [..., obs], key) -> (action in [-1, 1], log_prob)
  q_values: Callable                                 # (q params, obs, action in [-1, 1]) -> [..., 2]
  to_env: Callable
  from_env: Callable


NO_NORMALIZER = ()  # brax's networks take normalizer params; we feed raw observations


def _validate(config):
  check_positive(config, 'batch_size', 'buffer_capacity', 'updates_per_step', 'num_envs',
                 'steps_per_chunk')
  check(isinstance(config.random_steps, int) and config.random_steps >= 0,
        f'config.random_steps must be an integer >= 0, got {config.random_steps!r}.')
  check(config.steps_per_chunk % config.num_envs == 0,
        f'config.steps_per_chunk ({config.steps_per_chunk}) must be a multiple of '
        f'config.num_envs ({config.num_envs}).')
  check(config.batch_size <= config.buffer_capacity,
        f'config.batch_size ({config.batch_size}) must not exceed config.buffer_capacity.')
  check(0 < config.tau <= 1 and 0 <= config.discount <= 1 and config.learning_rate > 0,
        f'need 0 < tau <= 1, 0 <= discount <= 1 and learning_rate > 0, got tau={config.tau}, '
        f'discount={config.discount}, learning_rate={config.learning_rate}.')
  check(all(isinstance(h, int) and h >= 1 for h in config.hidden_sizes),
        f'config.hidden_sizes must be positive integers, got {tuple(config.hidden_sizes)}.')


def make_learner(config: ml_collections.ConfigDict, env) -> Learner:
  """SAC's parts from config's hidden_sizes, learning_rate, discount, reward_scaling, tau."""
  obs_size, act_size = env.observation_size, env.action_size
  networks = sac_networks.make_sac_networks(obs_size, act_size,
                                            hidden_layer_sizes=tuple(config.hidden_sizes))
  dist = networks.parametric_action_distribution
  alpha_loss, critic_loss, actor_loss = sac_losses.make_losses(
      networks, config.reward_scaling, config.discount, act_size)
  optimizer = optax.adam(config.learning_rate)
  low, high = (jnp.asarray(b) for b in data.action_bounds(env))

  def to_env(action):  # the policy acts in [-1, 1]
    return low + (action + 1.0) * (high - low) / 2.0

  def from_env(action):
    return 2.0 * (action - low) / (high - low) - 1.0

  def make_policy(params: SACParams, deterministic: bool = True):
    def policy(obs, key):
      logits = networks.policy_network.apply(NO_NORMALIZER, params.policy, obs)
      action = dist.mode(logits) if deterministic else dist.sample(logits, key)
      return to_env(action)
    return policy

  def sample_action(policy_params, obs, key):
    logits = networks.policy_network.apply(NO_NORMALIZER, policy_params, obs)
    raw = dist.sample_no_postprocessing(logits, key)
    return dist.postprocess(raw), dist.log_prob(logits, raw)

  def q_values(q_params, obs, action):
    return networks.q_network.apply(NO_NORMALIZER, q_params, obs, action)

  def init(key):
    policy_key, q_key = jax.random.split(key)
    q = networks.q_network.init(q_key)
    params = SACParams(policy=networks.policy_network.init(policy_key), q=q, target_q=q,
                       log_alpha=jnp.zeros(()))
    return LearnerState(params, SACOptState(policy=optimizer.init(params.policy),
                                            q=optimizer.init(q),
                                            alpha=optimizer.init(params.log_alpha)))

  def update(state: LearnerState, batch: data.Transition, key, critic_loss_fn=None):
    """One SAC step on a batch (env-bound actions): temperature, critics, actor, targets.

    critic_loss_fn(q, policy, target_q, alpha, batch, key) replaces the one-step
    soft TD loss (MBPO's MVE targets). If any of the three losses or gradients has
    a NaN or inf entry, the whole step is skipped: the state comes back unchanged
    and the metric `skipped_updates` is 1."""
    alpha_key, critic_key, actor_key = jax.random.split(key, 3)
    terminal = batch.done * (1.0 - batch.truncation)
    transitions = brax_types.Transition(
        observation=batch.obs, action=from_env(batch.action), reward=batch.reward,
        discount=1.0 - terminal, next_observation=batch.next_obs,
        extras={'state_extras': {'truncation': jnp.zeros_like(batch.reward)}})
    p, opt = state.params, state.opt
    a_loss, a_grad = jax.value_and_grad(alpha_loss)(p.log_alpha, p.policy, NO_NORMALIZER,
                                                    transitions, alpha_key)
    a_step, alpha_opt = optimizer.update(a_grad, opt.alpha)
    log_alpha = optax.apply_updates(p.log_alpha, a_step)
    alpha = jnp.exp(p.log_alpha)
    if critic_loss_fn is None:
      c_loss, c_grad = jax.value_and_grad(critic_loss)(p.q, p.policy, NO_NORMALIZER, p.target_q,
                                                       alpha, transitions, critic_key)
    else:
      c_loss, c_grad = jax.value_and_grad(critic_loss_fn)(p.q, p.policy, p.target_q, alpha,
                                                          batch, critic_key)
    c_step, q_opt = optimizer.update(c_grad, opt.q)
    q = optax.apply_updates(p.q, c_step)
    p_loss, p_grad = jax.value_and_grad(actor_loss)(p.policy, NO_NORMALIZER, p.q, alpha,
                                                    transitions, actor_key)
    p_step, policy_opt = optimizer.update(p_grad, opt.policy)
    policy = optax.apply_updates(p.policy, p_step)
    target_q = optax.incremental_update(q, p.target_q, config.tau)
    new = LearnerState(SACParams(policy=policy, q=q, target_q=target_q, log_alpha=log_alpha),
                       SACOptState(policy=policy_opt, q=q_opt, alpha=alpha_opt))
    finite = all_finite((a_loss, a_grad, c_loss, c_grad, p_loss, p_grad))
    return keep_if(finite, new, state), {
        'critic_loss': c_loss, 'actor_loss': p_loss, 'alpha_loss': a_loss, 'alpha': alpha,
        'skipped_updates': 1.0 - finite.astype(jnp.float32)}

  return Learner(init=init, update=update, make_policy=make_policy,
                 sample_action=sample_action, q_values=q_values, to_env=to_env,
                 from_env=from_env)


def act(env, learner: Learner, params: SACParams, env_state, key, explore, low, high):
  """One step of every env: uniform random actions while `explore`, else the policy's."""
  keys = jax.random.split(key, env_state.obs.shape[0])
  learned = jax.vmap(learner.make_policy(params, deterministic=False))(env_state.obs, keys)
  random = jax.vmap(lambda k: jax.random.uniform(k, low.shape, minval=low, maxval=high))(keys)
  return acting.env_step(env, env_state, jnp.where(explore, random, learned))


def make(config: ml_collections.ConfigDict, env) -> Agent:
  _validate(config)
  learner = make_learner(config, env)
  buffer = replay.make_replay_buffer(config.buffer_capacity, config.batch_size)
  low, high = (jnp.asarray(b) for b in data.action_bounds(env))
  per_env = config.steps_per_chunk // config.num_envs

  def init(key):
    learner_key, env_key, key = jax.random.split(key, 3)
    learner_state = learner.init(learner_key)
    return TrainState(params=learner_state.params, sac_opt=learner_state.opt,
                      env_state=data.reset(env, env_key, config.num_envs),
                      buffer=buffer.init(data.example_transition(env)), key=key,
                      env_steps=jnp.zeros((), jnp.int32),
                      skipped_updates=jnp.zeros((), jnp.int32))

  def env_step(state: TrainState, _):
    key, act_key, update_key = jax.random.split(state.key, 3)
    env_state, experience = act(env, learner, state.params, state.env_state, act_key,
                                state.env_steps < config.random_steps, low, high)
    state = state.replace(env_state=env_state,
                          buffer=buffer.add(state.buffer, experience.transition),
                          key=key, env_steps=state.env_steps + config.num_envs)
    # Learn once the random phase has filled a batch: updates computed before then
    # are discarded (under the runner's vmap a cond would compute them anyway).
    learning = state.env_steps >= max(config.random_steps, config.batch_size)

    def update(learner_state, k):
      sample_key, step_key = jax.random.split(k)
      batch = buffer.sample(state.buffer, sample_key).experience
      return learner.update(learner_state, batch, step_key)

    updated, losses = jax.lax.scan(
        update, LearnerState(state.params, state.sac_opt),
        jax.random.split(update_key, config.updates_per_step * config.num_envs))
    skipped = jnp.where(learning, losses.pop('skipped_updates').sum(), 0.0)
    state = state.replace(params=keep_if(learning, updated.params, state.params),
                          sac_opt=keep_if(learning, updated.opt, state.sac_opt),
                          skipped_updates=state.skipped_updates + skipped.astype(jnp.int32))
    return state, (experience, jax.tree.map(lambda x: x[-1], losses), skipped)

  def train_chunk(state: TrainState):
    state, (experience, losses, skipped) = jax.lax.scan(env_step, state, None, length=per_env)
    metrics = acting.episode_metrics(experience)
    metrics.update({k: jnp.nanmean(v) for k, v in losses.items()})
    metrics['skipped_updates'] = skipped.sum()  # in this chunk; the state keeps the total
    return state, metrics

  return Agent(init=init, train_chunk=train_chunk, make_policy=learner.make_policy,
               steps_per_chunk=config.steps_per_chunk)

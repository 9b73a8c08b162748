"""MBPO's loop: per segment of `refit_every` real steps, refit the ensemble,
branch model rollouts into the pool, then step the real envs with SAC updates on
mixed real and model batches after every step."""

import functools
from typing import Any

import flax
import jax
import jax.numpy as jnp
import ml_collections

from mbrl_jax.data import acting
from mbrl_jax import data, models
from mbrl_jax.agents import model_based, sac
from mbrl_jax.agents.base import Agent
from mbrl_jax.agents.mbpo.config import validate
from mbrl_jax.agents.mbpo.losses import make_mve_critic_loss
from mbrl_jax.agents.mbpo.model_data import ModelPool, add_to_pool, rollout_length, sample_pool
from mbrl_jax.data import replay


LOSS_NAMES = ('critic_loss', 'actor_loss', 'alpha_loss', 'alpha', 'q_mean', 'q_max', 'entropy')


@flax.struct.dataclass
class MBPOParams:
  sac: Any              # sac.SACParams (policy, critics, temperature): what make_policy uses
  model: models.ModelState


@flax.struct.dataclass
class TrainState:
  params: MBPOParams
  sac_opt: sac.SACOptState
  model_opt: Any
  env_state: Any
  buffer: replay.BufferState
  pool: ModelPool
  key: jax.Array
  env_steps: jax.Array
  skipped_updates: jax.Array        # SAC updates skipped for a non-finite loss or gradient
  model_skipped_updates: jax.Array  # model minibatch steps skipped, likewise


def make(config: ml_collections.ConfigDict, env) -> Agent:
  validate(config, env)
  learner = sac.make_learner(config, env)
  ensemble, trainer, buffer, reward_fn, termination_fn = model_based.model_parts(
      config, env, sample_batch_size=1)
  low, high = (jnp.asarray(b) for b in data.action_bounds(env))
  max_len = config.rollout_schedule[3]
  num_rollouts = config.rollouts_per_step * config.refit_every
  pool_batches = max(1, config.model_retain_epochs * config.epoch_length // config.refit_every)
  real_batch = round(config.real_ratio * config.batch_size)
  model_batch = config.batch_size - real_batch
  steps_per_segment = config.refit_every // config.num_envs
  segments_per_chunk = config.steps_per_chunk // config.refit_every

  def make_policy(params: MBPOParams, deterministic: bool = True):
    return learner.make_policy(params.sac, deterministic)

  def init(key):
    learner_key, model_key, env_key, key = jax.random.split(key, 4)
    learner_state = learner.init(learner_key)
    trainer_state = trainer.init(model_key)
    example = data.example_transition(env)
    pool = ModelPool(
        transitions=jax.tree.map(
            lambda x: jnp.zeros((pool_batches, num_rollouts * max_len) + x.shape, x.dtype),
            example),
        counts=jnp.zeros((pool_batches,), jnp.int32), next_slot=jnp.zeros((), jnp.int32))
    return TrainState(params=MBPOParams(learner_state.params, trainer_state.model),
                      sac_opt=learner_state.opt, model_opt=trainer_state.opt_state,
                      env_state=data.reset(env, env_key, config.num_envs),
                      buffer=buffer.init(example), pool=pool, key=key,
                      env_steps=jnp.zeros((), jnp.int32),
                      skipped_updates=jnp.zeros((), jnp.int32),
                      model_skipped_updates=jnp.zeros((), jnp.int32))

  # --- model data ---------------------------------------------------------------------
  def branch_rollouts(model, policy_params, real, key, length):
    """num_rollouts x max_len model transitions from real start states, compacted:
    transitions past `length` or after a termination are moved to the back."""
    start_key, rollout_key = jax.random.split(key)
    items = replay.items(real)
    idx = jax.random.randint(start_key, (num_rollouts,), 0, jnp.maximum(replay.size(real), 1))
    start_obs = items.obs[idx]

    def policy(obs, k):
      return learner.to_env(learner.sample_action(policy_params, obs, k)[0])

    # Sized for the schedule's longest length, computed only to the current one.
    out = models.rollout(ensemble, model, rollout_key, start_obs, max_len, 'ts1', policy=policy,
                         reward_fn=reward_fn, termination_fn=termination_fn, length=length)
    ended_before = jnp.concatenate([jnp.zeros((num_rollouts, 1)), out.dones[:, :-1]], axis=1)
    valid = (jnp.arange(max_len) < length) & (ended_before == 0)
    tr = out.transitions()
    flat = lambda x: x.reshape((num_rollouts * max_len,) + x.shape[2:])
    valid = flat(valid)
    order = jnp.argsort(~valid, stable=True)
    return jax.tree.map(lambda x: flat(x)[order], tr), valid.sum().astype(jnp.int32)

  def sample_real(real, key, n):
    idx = jax.random.randint(key, (n,), 0, jnp.maximum(replay.size(real), 1))
    return jax.tree.map(lambda x: x[idx], replay.items(real))

  # --- MVE ------------------------------------------------------------------------------
  def model_step(model, obs, action, key):
    """One model step of a batch, each transition through its own random elite."""
    keys = jax.random.split(key, obs.shape[0])
    next_obs, learned_reward, logit = jax.vmap(
        lambda o, a, k: models.random_elite_step(ensemble, model, o, a, k))(obs, action, keys)
    reward, ended = models.reward_and_termination(obs, action, next_obs, learned_reward, logit,
                                                  reward_fn, termination_fn)
    return next_obs, reward, ended

  # --- the loop -------------------------------------------------------------------------
  def segment(state: TrainState, _):
    """Refit, branch rollouts, then refit_every real steps with G updates each."""
    key, fit_key, rollout_key, steps_key = jax.random.split(state.key, 4)
    learning = state.env_steps >= config.random_steps
    fitted, fit_metrics = trainer.fit(
        models.TrainerState(state.params.model, state.model_opt, state.model_skipped_updates),
        replay.items(state.buffer), replay.valid_mask(state.buffer), fit_key, learning)
    model = fitted.model
    length = rollout_length(tuple(config.rollout_schedule), state.env_steps, config.epoch_length,
                            config.random_steps)
    transitions, count = branch_rollouts(model, state.params.sac.policy, state.buffer,
                                         rollout_key, length)
    pool = add_to_pool(state.pool, transitions, count)
    pool = jax.tree.map(lambda new, old: jnp.where(learning, new, old), pool, state.pool)
    critic_loss = (make_mve_critic_loss(learner, functools.partial(model_step, model),
                                        config.mve_horizon, config.discount,
                                        config.reward_scaling)
                   if config.mve_horizon else None)
    num_updates = jnp.where(learning & (pool.counts.sum() > 0),
                            config.updates_per_step * config.num_envs, 0)

    def env_step(carry, step_key):
      learner_state, env_state, real, env_steps = carry
      act_key, update_key = jax.random.split(step_key)
      env_state, experience = sac.act(env, learner, learner_state.params, env_state, act_key,
                                      env_steps < config.random_steps, low, high)
      real = buffer.add(real, experience.transition)

      def update(i, inner):
        learner_state, _, skipped = inner
        real_key, model_key, k = jax.random.split(jax.random.fold_in(update_key, i), 3)
        batch = jax.tree.map(lambda a, b: jnp.concatenate([a, b]),
                             sample_real(real, real_key, real_batch),
                             sample_pool(pool, model_key, model_batch))
        learner_state, losses = learner.update(learner_state, batch, k, critic_loss)
        skipped = skipped + losses.pop('skipped_updates')
        return learner_state, losses, skipped

      no_losses = {k: jnp.full((), jnp.nan) for k in LOSS_NAMES}
      learner_state, losses, skipped = jax.lax.fori_loop(
          0, num_updates, update, (learner_state, no_losses, jnp.zeros(())))
      carry = (learner_state, env_state, real, env_steps + config.num_envs)
      return carry, (experience, losses, skipped)

    carry = (sac.LearnerState(state.params.sac, state.sac_opt), state.env_state,
             state.buffer, state.env_steps)
    (learner_state, env_state, real, env_steps), (experience, losses, skipped) = (
        jax.lax.scan(env_step, carry, jax.random.split(steps_key, steps_per_segment)))
    model_metrics = model_based.model_metrics(fit_metrics, model, learning)
    # Counts are summed over the chunk's segments, the rest averaged.
    counts = {'skipped_updates': skipped.sum(),
              'model_skipped_updates': model_metrics.pop('model_skipped_updates')}
    metrics = {
        **model_metrics,
        'rollout_length': jnp.where(learning, length, 0),
        'model_pool_size': pool.counts.sum(),
        **{k: jnp.nanmean(v) for k, v in losses.items()}}
    state = TrainState(params=MBPOParams(learner_state.params, model),
                       sac_opt=learner_state.opt, model_opt=fitted.opt_state,
                       env_state=env_state, buffer=real, pool=pool, key=key,
                       env_steps=env_steps,
                       skipped_updates=state.skipped_updates + skipped.sum().astype(jnp.int32),
                       model_skipped_updates=fitted.skipped_updates)
    return state, (experience, metrics, counts)

  def train_chunk(state: TrainState):
    state, (experience, segment_metrics, counts) = jax.lax.scan(segment, state, None,
                                                        length=segments_per_chunk)
    metrics = acting.episode_metrics(experience)
    metrics.update({k: jnp.nanmean(v) if v.dtype.kind == 'f' else v[-1]
                    for k, v in segment_metrics.items()})
    metrics.update({k: v.sum() for k, v in counts.items()})  # in this chunk
    metrics.update(sac.critic_bound(config, env.action_size, state.buffer, state.params.sac,
                                    metrics['q_max']))
    return state, metrics

  return Agent(init=init, train_chunk=train_chunk, make_policy=make_policy,
               steps_per_chunk=config.steps_per_chunk)

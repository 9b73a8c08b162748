"""MBPO (Janner et al. 2019), the lectures' version 3.0, with MVE targets as an option.

Every `retrain_every` real steps the ensemble is refit on the real buffer and
`rollouts_per_step * retrain_every` short rollouts branch from real states, driven
by the current SAC policy through a random elite member per step (TS1); their
transitions fill a model pool that keeps the last `model_retain_epochs` epochs of
rollouts. Each real step then takes `updates_per_step` SAC updates on batches
mixing `real_ratio` real and model transitions. The rollout length follows the
paper's schedule (start epoch, end epoch, min length, max length): linear in the
epoch between the two epochs, an epoch being `epoch_length` real steps.

MVE (Feinberg et al. 2018), `mve_horizon` H > 0: the critic regresses on H-step
model-based soft targets, at the batch transition and at the H states imagined
after it (TD-k), instead of the one-step soft TD target.

A SAC update or a model minibatch step with a NaN or inf loss or gradient is
skipped and counted (`skipped_updates`, `model_skipped_updates`).

Everything runs inside the compiled `train_chunk`. Updates and refits are gated by
traced trip counts (while loops), not `lax.cond`, because under the runner's vmap
over seeds a cond computes both branches.
"""

import functools
from typing import Any

import flax
import jax
import jax.numpy as jnp
import ml_collections

from mbrl_jax import acting, data, models, returns
from mbrl_jax.agents import model_based, sac
from mbrl_jax.agents.base import Agent, check, check_positive, check_version
from mbrl_jax.data import replay
from mbrl_jax.envs.base import task_of

LOSS_NAMES = ('critic_loss', 'actor_loss', 'alpha_loss', 'alpha')


VERSIONS = ('paper', 'cpu')  # presets; the first is the default


def default_config() -> ml_collections.ConfigDict:
  """The MBPO paper's settings (its SAC: 2 x 256, lr 3e-4, batch 256, tau 5e-3)."""
  config = sac.default_config()
  config.random_steps = 5000          # the paper's init_exploration_steps
  config.updates_per_step = 20        # G
  config.real_ratio = 0.05
  config.retrain_every = 250          # real steps between refits and rollout batches
  config.rollouts_per_step = 400      # model rollouts per real step (100k per refit)
  config.rollout_schedule = (20, 100, 1, 15)  # start epoch, end epoch, min len, max len
  config.epoch_length = 1000
  config.model_retain_epochs = 1
  config.mve_horizon = 0              # > 0: MVE critic targets over this many model steps
  config.model = models.default_config()
  config.model.learn_reward = True    # as in MBPO; False uses the task's reward_fn
  return config


def preset(version: str = 'paper') -> ml_collections.ConfigDict:
  """'paper': the MBPO paper's settings (7 x 4 x 200 model, 400 rollouts and 20
  updates per step); 'cpu': scaled to a 2-core CPU, its SAC exactly sac's 'cpu'
  (the learning curves of experiments/mbpo_vs_sac.sh)."""
  check_version('mbpo', version, VERSIONS)
  config = default_config()
  if version == 'cpu':
    config.update(dict(sac.CPU, retrain_every=250, rollouts_per_step=100, updates_per_step=10,
                       rollout_schedule=(0, 1, 1, 1)))
    config.model.update(num_layers=3, width=128, max_epochs=50)
  return config


@flax.struct.dataclass
class ModelPool:
  """The last K rollout batches, each compacted (valid transitions first)."""
  transitions: data.Transition   # [K, B, ...]
  counts: jax.Array              # [K] valid transitions per batch
  next_slot: jax.Array


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


def add_to_pool(pool: ModelPool, transitions, count) -> ModelPool:
  """Overwrites the oldest batch with `transitions`, whose first `count` are valid."""
  slot = pool.next_slot
  return ModelPool(
      transitions=jax.tree.map(lambda p, x: p.at[slot].set(x), pool.transitions, transitions),
      counts=pool.counts.at[slot].set(count), next_slot=(slot + 1) % pool.counts.shape[0])


def sample_pool(pool: ModelPool, key, n):
  """n transitions drawn uniformly, with replacement, from the valid ones."""
  total = jnp.maximum(pool.counts.sum(), 1)
  u = jax.random.randint(key, (n,), 0, total)
  ends = jnp.cumsum(pool.counts)
  batch = jnp.searchsorted(ends, u, side='right')
  offset = u - (ends[batch] - pool.counts[batch])
  return jax.tree.map(lambda x: x[batch, offset], pool.transitions)


def rollout_length(schedule, env_steps, epoch_length):
  """The MBPO schedule: min_len before start, max_len after end, linear between."""
  start, end, min_len, max_len = schedule
  epoch = env_steps // epoch_length
  frac = jnp.clip((epoch - start) / max(end - start, 1), 0.0, 1.0)
  return (min_len + frac * (max_len - min_len)).astype(jnp.int32)


def make_mve_critic_loss(learner: sac.Learner, model_step, horizon: int, discount: float,
                         reward_scaling: float):
  """MVE's critic loss for sac's update: loss(q, policy, target_q, alpha, batch, key).

  model_step(obs [B, obs], action [B, act] in the env's bounds, key) -> (next_obs,
  reward, ended) is one imagined step of a batch. From each batch transition's
  next_obs the policy imagines `horizon` steps; the critics regress, at the batch
  transition and at each imagined state, on the soft TD-k targets of
  returns.mve_targets.
  A state imagined after a termination, or after a terminal batch transition, weighs
  0 and whatever it holds (even NaN) reaches neither a target nor a gradient; the
  mean is over all (H + 1) x B x 2 entries, so H = 0 is brax's one-step loss.
  """
  def loss(q_params, policy_params, target_q_params, alpha, batch, key):
    alpha = jax.lax.stop_gradient(alpha)

    def imagine(carry, k):
      obs, alive = carry
      act_key, step_key = jax.random.split(k)
      action, log_prob = learner.sample_action(policy_params, obs, act_key)
      next_obs, reward, ended = model_step(obs, learner.to_env(action), step_key)
      return (next_obs, alive * (1 - ended)), (obs, action, log_prob, reward, alive, ended)

    first_terminal = batch.done * (1.0 - batch.truncation)
    last_key, key = jax.random.split(key)
    (obs_end, _), (obs, actions, log_probs, rewards, alive, ended) = jax.lax.scan(
        imagine, (batch.next_obs, 1.0 - first_terminal), jax.random.split(key, horizon))
    obs, actions, log_probs, rewards, alive, ended = jax.lax.stop_gradient(
        (obs, actions, log_probs, rewards, alive, ended))
    end_action, end_log_prob = learner.sample_action(policy_params, obs_end, last_key)
    end_value = (learner.q_values(target_q_params, obs_end, end_action).min(-1)
                 - alpha * end_log_prob)
    targets = returns.mve_targets(
        rewards=jnp.concatenate([batch.reward[None], rewards], 0) * reward_scaling,
        terminals=jnp.concatenate([first_terminal[None], ended * alive], 0),
        entropy_bonus=jnp.concatenate([jnp.zeros_like(log_probs[:1]), -alpha * log_probs], 0),
        end_value=end_value, discount=discount)
    targets = jax.lax.stop_gradient(targets)
    live = jnp.concatenate([jnp.ones_like(alive[:1]), alive], 0)[..., None] > 0
    # States past an end are zeroed before the critics see them, so a NaN there
    # cannot reach the gradient through the masked entries.
    all_obs = jnp.where(live, jnp.concatenate([batch.obs[None], obs], 0), 0.0)
    all_actions = jnp.where(
        live, jnp.concatenate([learner.from_env(batch.action)[None], actions], 0), 0.0)
    q = learner.q_values(q_params, all_obs, all_actions)  # [H + 1, B, 2]
    error = jnp.where(live, q - targets[..., None], 0.0)
    return 0.5 * jnp.mean(jnp.square(error))
  return loss


def _validate(config, env):
  sac._validate(config)
  check_positive(config, 'retrain_every', 'rollouts_per_step', 'epoch_length',
                 'model_retain_epochs')
  check(isinstance(config.mve_horizon, int) and config.mve_horizon >= 0,
        f'config.mve_horizon must be an integer >= 0, got {config.mve_horizon!r}.')
  check(0.0 <= config.real_ratio <= 1.0,
        f'config.real_ratio must be in [0, 1], got {config.real_ratio}.')
  schedule = tuple(config.rollout_schedule)
  check(len(schedule) == 4 and all(isinstance(v, int) for v in schedule)
        and 1 <= schedule[2] <= schedule[3] and 0 <= schedule[0] <= schedule[1],
        'config.rollout_schedule must be integers (start epoch, end epoch, min length, '
        f'max length) with start <= end and 1 <= min <= max, got {schedule}.')
  check(config.steps_per_chunk % config.retrain_every == 0,
        f'config.steps_per_chunk ({config.steps_per_chunk}) must be a multiple of '
        f'config.retrain_every ({config.retrain_every}).')
  check(config.retrain_every % config.num_envs == 0,
        f'config.retrain_every ({config.retrain_every}) must be a multiple of '
        f'config.num_envs ({config.num_envs}).')
  num_rollouts = config.rollouts_per_step * config.retrain_every
  check(num_rollouts % config.model.num_elites == 0,
        f'rollouts_per_step * retrain_every ({num_rollouts}) must be a multiple of '
        f'config.model.num_elites ({config.model.num_elites}).')
  is_task = task_of(env) is not None
  check(config.model.learn_reward or is_task,
        f'{type(env.unwrapped).__name__} has no reward function: set '
        'config.model.learn_reward=True.')


def make(config: ml_collections.ConfigDict, env) -> Agent:
  _validate(config, env)
  learner = sac.make_learner(config, env)
  ensemble = models.Ensemble(config.model, env.observation_size, env.action_size)
  trainer = models.Trainer(ensemble)
  buffer = replay.make_replay_buffer(config.buffer_capacity, sample_batch_size=1)
  low, high = (jnp.asarray(b) for b in data.action_bounds(env))
  task = task_of(env)
  reward_fn = None if config.model.learn_reward else task.reward_fn
  termination_fn = (task.termination_fn if task is not None and
                    not config.model.learn_termination else None)
  max_len = config.rollout_schedule[3]
  num_rollouts = config.rollouts_per_step * config.retrain_every
  pool_batches = max(1, config.model_retain_epochs * config.epoch_length // config.retrain_every)
  real_batch = round(config.real_ratio * config.batch_size)
  model_batch = config.batch_size - real_batch
  steps_per_segment = config.retrain_every // config.num_envs
  segments_per_chunk = config.steps_per_chunk // config.retrain_every

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

    out = models.rollout(ensemble, model, rollout_key, start_obs, max_len, 'ts1', policy=policy,
                         reward_fn=reward_fn, termination_fn=termination_fn)
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
    """Refit, branch rollouts, then retrain_every real steps with G updates each."""
    key, fit_key, rollout_key, steps_key = jax.random.split(state.key, 4)
    learning = state.env_steps >= config.random_steps
    fitted, fit_metrics = trainer.fit(
        models.TrainerState(state.params.model, state.model_opt, state.model_skipped_updates),
        replay.items(state.buffer), replay.valid_mask(state.buffer), fit_key, learning)
    model = fitted.model
    length = rollout_length(tuple(config.rollout_schedule), state.env_steps, config.epoch_length)
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
    return state, metrics

  return Agent(init=init, train_chunk=train_chunk, make_policy=make_policy,
               steps_per_chunk=config.steps_per_chunk)


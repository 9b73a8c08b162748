"""Vectorized, differentiable rollouts through an ensemble.

N start states (particles) are propagated H steps, driven by a batched policy
(obs [N, obs], key) -> action [N, act] or by action sequences [N, H, act].
Propagation (PETS' names):
  'ts1'          each step, the particles are shuffled into equal groups, one
                 per elite member (a random member per particle per step);
  'tsinf'        particle i keeps member elites[i % num_elites] throughout;
  'expectation'  the mean of the elites' mean predictions, no sampling;
  'all'          every member propagates every start state (outputs get a
                 leading members axis).
Gaussian outputs are sampled by reparameterization (mean + std * noise), so
`jax.grad` flows through the whole rollout to the actions and to the policy's
params. Rewards and terminations come from the task's functions
(obs, action, next_obs) or, when the model learned them, from its heads; rewards
after a termination count zero.
"""

from typing import Callable, Optional

import flax
import jax
import jax.numpy as jnp

from mbrl_jax.models.ensemble import Ensemble, ModelState
from mbrl_jax.core.types import Transition

PROPAGATIONS = ('ts1', 'tsinf', 'expectation', 'all')
PARTICLE_PROPAGATIONS = PROPAGATIONS[:3]  # one batch of particles (agents' choices)


@flax.struct.dataclass
class ModelRollout:
  obs: jax.Array        # [(M,) N, H + 1, obs]   start included
  actions: jax.Array    # [(M,) N, H, act]
  rewards: jax.Array    # [(M,) N, H]            zero after a termination
  dones: jax.Array      # [(M,) N, H]            1.0 from the terminating step on

  @property
  def returns(self):
    return self.rewards.sum(-1)

  def transitions(self, time_major: bool = False) -> Transition:
    """The rollout's steps as Transitions, [(M,) N, H, ...], or [H, N, ...] with
    `time_major` (as real env steps are unrolled). Model windows end by termination
    only: truncation is zero."""
    obs_axis = self.obs.ndim - 2  # the time axis of every field
    tr = Transition(obs=self.obs[..., :-1, :], action=self.actions, reward=self.rewards,
                    next_obs=self.obs[..., 1:, :], done=self.dones,
                    truncation=jnp.zeros_like(self.dones))
    if time_major:
      return jax.tree.map(lambda x: jnp.moveaxis(x, obs_axis, 0), tr)
    return tr


def reward_and_termination(obs, action, next_obs, learned_reward, termination_logit,
                           reward_fn: Optional[Callable] = None,
                           termination_fn: Optional[Callable] = None):
  """A model step's reward and termination flag, [...] for obs [..., obs]: the task's
  functions where given, else the model's heads (its reward; a termination logit > 0),
  else an episode that never ends."""
  reward = learned_reward if reward_fn is None else reward_fn(obs, action, next_obs)
  if termination_fn is not None:
    ended = termination_fn(obs, action, next_obs)
  elif termination_logit is not None:
    ended = (termination_logit > 0.0).astype(obs.dtype)
  else:
    ended = jnp.zeros(obs.shape[:-1], obs.dtype)
  return reward, ended


def _check(ensemble: Ensemble, propagation: str, num_particles: int, horizon: int,
           policy, actions, reward_fn):
  if propagation not in PROPAGATIONS:
    raise ValueError(f'propagation must be one of {", ".join(PROPAGATIONS)}; '
                     f'got {propagation!r}.')
  if horizon < 1:
    raise ValueError(f'horizon must be >= 1, got {horizon}.')
  if (policy is None) == (actions is None):
    raise ValueError('give exactly one of policy and actions.')
  if propagation in ('ts1', 'tsinf') and num_particles % ensemble.num_elites:
    raise ValueError(f'{propagation} needs the number of start states ({num_particles}) to be '
                     f'a multiple of num_elites ({ensemble.num_elites}).')
  if reward_fn is None and not ensemble.config.learn_reward:
    raise ValueError('the model has no reward head: pass the task\'s reward_fn.')


def rollout(ensemble: Ensemble, model: ModelState, key: jax.Array, start_obs: jax.Array,
            horizon: int, propagation: str = 'ts1',
            policy: Optional[Callable] = None, actions: Optional[jax.Array] = None,
            reward_fn: Optional[Callable] = None,
            termination_fn: Optional[Callable] = None,
            length: Optional[jax.Array] = None) -> ModelRollout:
  """Rolls start_obs [N, obs] forward `horizon` steps through the ensemble.

  `length` (an int, traced or not, at most `horizon`): only the first `length` steps
  are computed; the later ones are skipped by a `lax.cond` and come out ended (obs
  held, zero action and reward, done 1), so a rollout sized for the longest length
  costs what its current length costs. The computed steps are those of the full
  rollout, key for key. Under a vmap whose batch differs in `length`, the cond becomes
  a select and every step is computed."""
  num = start_obs.shape[0]
  _check(ensemble, propagation, num, horizon, policy, actions, reward_fn)
  if actions is not None and actions.shape[:2] != (num, horizon):
    raise ValueError(f'actions must be [N={num}, H={horizon}, act], got {actions.shape}.')
  elites = model.elites
  num_elites = ensemble.num_elites
  action_size = ensemble.action_size
  elite_params = jax.tree.map(lambda p: p[elites], model.params)
  all_members = propagation == 'all'

  def sample(pred, noise_key):
    noise = jax.random.normal(noise_key, pred.target_mean.shape)
    return pred.target_mean + pred.target_std * noise

  def grouped(obs, action, noise_key, order):
    """Predict with particles `order`-ed into [num_elites, N / num_elites] groups."""
    groups = lambda x: x[order].reshape((num_elites, -1) + x.shape[1:])
    pred = ensemble.predict(model, groups(obs), groups(action), elite_params, per_member=True)
    target = sample(pred, noise_key).reshape((num,) + pred.target_mean.shape[2:])
    inverse = jnp.argsort(order)
    logit = (None if pred.termination_logit is None
             else pred.termination_logit.reshape(num)[inverse])
    return target[inverse], logit

  def predict_step(obs, action, step_key):
    order_key, noise_key = jax.random.split(step_key)
    if propagation == 'ts1':
      return grouped(obs, action, noise_key, jax.random.permutation(order_key, num))
    if propagation == 'tsinf':
      # particle i -> group i % num_elites: order particles by their member.
      order = jnp.arange(num).reshape(-1, num_elites).T.reshape(-1)
      return grouped(obs, action, noise_key, order)
    if propagation == 'expectation':
      pred = ensemble.predict(model, obs, action, elite_params)
      logit = None if pred.termination_logit is None else pred.termination_logit.mean(0)
      return pred.target_mean.mean(0), logit
    pred = ensemble.predict(model, obs, action, per_member=True)  # 'all': [M, N, ...]
    return sample(pred, noise_key), pred.termination_logit

  def step(carry, inputs):
    if length is None:
      return computed_step(carry, inputs)
    return jax.lax.cond(inputs[0] < length, computed_step, skipped_step, carry, inputs)

  def skipped_step(carry, inputs):
    obs, alive, key = carry
    key = jax.random.split(key, 3)[0]  # as a computed step advances it
    action_shape = obs.shape[:-1] + (action_size,)
    return carry[:1] + (jnp.zeros_like(alive), key), (
        obs, jnp.zeros(action_shape, obs.dtype), jnp.zeros_like(alive), jnp.ones_like(alive))

  def computed_step(carry, inputs):
    obs, alive, key = carry
    t, given_action = inputs
    key, policy_key, step_key = jax.random.split(key, 3)
    if policy is None:
      action = given_action
    elif all_members:
      flat = obs.reshape((-1, obs.shape[-1]))
      action = policy(flat, policy_key).reshape(obs.shape[:-1] + (-1,))
    else:
      action = policy(obs, policy_key)
    target, logit = predict_step(obs, action, step_key)
    next_obs, learned_reward = ensemble.next_obs(obs, target)
    reward, ended = reward_and_termination(obs, action, next_obs, learned_reward, logit,
                                           reward_fn, termination_fn)
    reward = alive * reward
    alive = alive * (1.0 - ended)
    return (next_obs, alive, key), (next_obs, action, reward, 1.0 - alive)

  obs0 = start_obs
  if all_members:
    obs0 = jnp.broadcast_to(start_obs, (ensemble.num_members,) + start_obs.shape)
  alive0 = jnp.ones(obs0.shape[:-1], obs0.dtype)
  seq = (jnp.zeros((horizon, 0)) if actions is None
         else jnp.moveaxis(actions, 1, 0))
  if all_members and actions is not None:
    seq = jnp.broadcast_to(seq[:, None], (horizon, ensemble.num_members) + seq.shape[1:])
  _, (obs, acts, rewards, dones) = jax.lax.scan(
      step, (obs0, alive0, key), (jnp.arange(horizon), seq))
  time_last = lambda x: jnp.moveaxis(x, 0, obs0.ndim - 1)
  return ModelRollout(
      obs=jnp.concatenate([obs0[..., None, :], time_last(obs)], axis=-2),
      actions=time_last(acts), rewards=time_last(rewards), dones=time_last(dones))


def random_elite_step(ensemble: Ensemble, model: ModelState, obs: jax.Array, action: jax.Array,
                      key: jax.Array, sample: bool = True):
  """One transition (obs [obs], action [act]) through a uniformly random elite (TS1 for
  a single particle), its Gaussian output sampled by reparameterization, or its mean
  with `sample=False`. vmap it for a batch. Returns (next_obs, learned reward or None,
  termination logit or None)."""
  elite_params = jax.tree.map(lambda p: p[model.elites], model.params)
  pred = ensemble.predict(model, obs, action, elite_params)  # [elites, ...]
  member_key, noise_key = jax.random.split(key)
  member = jax.random.randint(member_key, (), 0, ensemble.num_elites)
  mean, std = pred.target_mean[member], pred.target_std[member]
  target = mean + std * jax.random.normal(noise_key, mean.shape, mean.dtype) if sample else mean
  next_obs, reward = ensemble.next_obs(obs, target)
  logit = None if pred.termination_logit is None else pred.termination_logit[member]
  return next_obs, reward, logit

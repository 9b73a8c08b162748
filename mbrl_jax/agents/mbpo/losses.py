"""MVE's critic loss (Feinberg et al. 2018) for SAC's update."""

import jax
import jax.numpy as jnp

from mbrl_jax.core import returns
from mbrl_jax.agents import sac


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

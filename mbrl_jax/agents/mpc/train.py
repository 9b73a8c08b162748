"""MPC's loop: plan, execute, collect, refit, all inside the compiled `train_chunk`
(the package docstring has the control loop)."""

from typing import Any, NamedTuple

import flax
import jax
import jax.numpy as jnp
import ml_collections

from mbrl_jax import data, models, planners
from mbrl_jax.agents import model_based
from mbrl_jax.agents.base import Agent
from mbrl_jax.agents.mpc.config import validate
from mbrl_jax.data import acting, replay
from mbrl_jax.envs.base import pure_functions, task_of


@flax.struct.dataclass
class Params:
  model: Any            # the learned ModelState, or {} with the true dynamics


@flax.struct.dataclass
class TrainState:
  params: Params
  model_opt: Any        # the model's optimizer state ({} with the true dynamics)
  env_state: Any
  buffer: replay.BufferState
  warm_start: jax.Array  # [num_envs, horizon, act]: the last plan, shifted
  key: jax.Array
  env_steps: jax.Array


class Plan(NamedTuple):
  """A plan and its feedback law: u_t = actions_t + gains_t (x_t - states_t)."""
  actions: jax.Array   # [H, act]
  states: jax.Array    # [H + 1, obs]  the planner's predicted states, states_0 = x_0
  gains: jax.Array     # [H, act, obs]  zero for the shooting planners and without feedback



def make(config: ml_collections.ConfigDict, env) -> Agent:
  validate(config, env)
  task = task_of(env)
  learned = config.dynamics == 'model'
  if learned:  # reward_fn, termination_fn: None where the model learns them
    ensemble, trainer, buffer, reward_fn, termination_fn = model_based.model_parts(
        config, env, sample_batch_size=1)
  else:
    reward_fn, termination_fn = pure_functions(env)
    buffer = replay.make_replay_buffer(config.buffer_capacity, sample_batch_size=1)
  low, high = (jnp.asarray(b) for b in data.action_bounds(env))
  middle = (low + high) / 2
  horizon, k = config.horizon, config.replan_every
  per_env = config.steps_per_chunk // config.num_envs
  particles = 1 if (not learned or config.propagation == 'expectation') else config.num_particles

  # --- what the planner optimizes -------------------------------------------------
  def objective_fn(model, obs, key):
    if not learned:
      return lambda actions: planners.rollout_return(task.dynamics, task.reward_fn, obs,
                                                     actions, task.termination_fn)

    def objective(actions):
      out = models.rollout(ensemble, model, key, jnp.broadcast_to(obs, (particles,) + obs.shape),
                           horizon, config.propagation,
                           actions=jnp.broadcast_to(actions, (particles,) + actions.shape),
                           reward_fn=reward_fn, termination_fn=termination_fn)
      return out.returns.mean()
    return objective

  def mean_dynamics(model):
    if not learned:
      return task.dynamics

    def dynamics(x, u, t=0):
      pred = ensemble.predict(model, x, u, jax.tree.map(lambda p: p[model.elites],
                                                        model.params))
      return ensemble.next_obs(x, pred.target_mean.mean(0))[0]
    return dynamics

  def plan(model, obs, warm, key) -> Plan:
    obs_size, act_size = obs.shape[-1], low.shape[-1]
    if config.planner == 'ilqr':
      dynamics = mean_dynamics(model)
      half = (high - low) / 2

      def cost(x, u, t):
        # Unconstrained iLQR: bounds become a smooth penalty; executed actions are clipped.
        excess = jnp.maximum(jnp.abs(u - middle) - half, 0.0)
        stage = -reward_fn(x, u, dynamics(x, u, t)) + config.ilqr.bound_penalty * jnp.sum(
            excess**2)
        return jnp.where(t < horizon, stage, 0.0)

      result = planners.ilqr(cost, dynamics, obs, warm, max_iterations=config.ilqr.max_iterations)
      # u = U + K (x - X), not U + k + K (x - X): the line search already put the
      # last feedforward step into U (adding k again would repeat it when iLQR
      # stops at max_iterations; at convergence k is ~0). K is linearised about X,
      # or (stopped unconverged) is the gain of the line-search step that produced
      # X: either way U + K (x - X) is an affine law whose model rollout is X.
      gains = result.K if config.ilqr.feedback else jnp.zeros_like(result.K)
      return Plan(result.U, result.X, gains)
    objective = objective_fn(model, obs, key)
    plan_key = jax.random.fold_in(key, 1)
    if config.planner == 'random_shooting':
      actions, _ = planners.random_shooting(objective, plan_key, low, high, horizon,
                                            config.population)
    elif config.planner == 'cem':
      actions, _ = planners.cem(objective, plan_key, low, high, horizon, config.population,
                                elite_fraction=config.cem.elite_fraction,
                                iterations=config.cem.iterations, alpha=config.cem.alpha,
                                init_mean=warm, sampling=config.cem.sampling)
    else:
      actions, _ = planners.mppi(objective, plan_key, low, high, horizon, config.population,
                                 iterations=config.mppi.iterations,
                                 temperature=config.mppi.temperature,
                                 noise_std=config.mppi.noise_scale * (high - low),
                                 init_mean=warm)
    return Plan(actions, jnp.zeros((horizon + 1, obs_size)),
                jnp.zeros((horizon, act_size, obs_size)))

  def default_warm(num):
    return jnp.broadcast_to(middle, (num, horizon) + middle.shape)

  # --- the control loop: plan, execute `k` steps, repeat ---------------------------
  def control(params, env_state, warm, key, num_segments, steps_before, explore_until):
    """Runs num_segments x k steps of every env; random actions while the step count
    (all envs, from steps_before) is below explore_until. Returns (env_state, warm,
    experience [T, N])."""
    num = env_state.obs.shape[0]

    def segment(carry, seg_key):
      env_state, warm, steps_done = carry
      plan_key, act_key = jax.random.split(seg_key)
      plans = jax.vmap(plan, in_axes=(None, 0, 0, 0))(params.model, env_state.obs, warm,
                                                      jax.random.split(plan_key, num))
      explore = steps_done < explore_until

      def step(env_state, inputs):
        j, step_key = inputs
        x = env_state.obs
        # Step j of the segment: the real state x_j against the plan's x_plan_j (equal
        # at j = 0, where the plan starts).
        u = plans.actions[:, j] + jnp.einsum('nao,no->na', plans.gains[:, j],
                                             x - plans.states[:, j])
        planned = lambda obs, _: jnp.clip(u, low, high)
        return acting.env_step(env, env_state,
                               acting.uniform_while(planned, explore, low, high)(x, step_key))

      env_state, experience = jax.lax.scan(step, env_state,
                                           (jnp.arange(k), jax.random.split(act_key, k)))
      shifted = jax.vmap(lambda a: planners.shift_plan(a, middle, k))(plans.actions)
      ended = experience.transition.done.any(axis=0)[:, None, None]
      warm = jnp.where(ended, default_warm(num), shifted)
      return (env_state, warm, steps_done + k * num), experience

    (env_state, warm, _), experience = jax.lax.scan(
        segment, (env_state, warm, steps_before), jax.random.split(key, num_segments))
    return env_state, warm, acting.flatten_time(experience)

  # --- the agent contract -----------------------------------------------------------
  def init(key):
    env_key, model_key, key = jax.random.split(key, 3)
    env_state = data.reset(env, env_key, config.num_envs)
    model, model_opt = {}, {}
    if learned:
      trainer_state = trainer.init(model_key)
      model, model_opt = trainer_state.model, trainer_state.opt_state
    return TrainState(params=Params(model=model), model_opt=model_opt, env_state=env_state,
                      buffer=buffer.init(data.example_transition(env)),
                      warm_start=default_warm(config.num_envs), key=key,
                      env_steps=jnp.zeros((), jnp.int32))

  def collect(state: TrainState, key):
    env_state, warm, experience = control(state.params, state.env_state, state.warm_start, key,
                                          per_env // k, state.env_steps, config.random_steps)
    return state.replace(env_state=env_state, warm_start=warm,
                         env_steps=state.env_steps + config.steps_per_chunk), experience

  def train_chunk(state: TrainState):
    return model_based.chunk(state, collect, buffer, trainer if learned else None,
                             config.random_steps, fit_once=config.refit == 'once')

  def evaluate(params, key, num_episodes):
    """Mean return of fresh episodes under the agent's own controller (open loop or
    MPC, as configured), never exploring."""
    reset_key, key = jax.random.split(key)
    env_state = data.reset(env, reset_key, num_episodes)
    _, _, experience = control(params, env_state, default_warm(num_episodes), key,
                               data.episode_decisions(env) // k, jnp.zeros((), jnp.int32), 0)
    return acting.first_episode_return(experience).mean()

  def make_policy(params, deterministic: bool = True):
    """Replans at every call (MPC, no warm start) and returns the plan's first action
    (no feedback term: x = x_plan there); `key` drives the planner's sampling."""
    del deterministic

    def policy(obs, key):
      return jnp.clip(plan(params.model, obs, default_warm(1)[0], key).actions[0], low, high)
    return policy

  return Agent(init=init, train_chunk=train_chunk, make_policy=make_policy,
               steps_per_chunk=config.steps_per_chunk, evaluate=evaluate)

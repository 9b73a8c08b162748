"""Model-predictive control through the env's own or learned dynamics.

The lectures' versions are presets of one agent (`preset(name)`):
  'open_loop_fit_once'  (version 0.5) random data, fit a deterministic model once,
          plan a whole episode open loop and execute all of it;
  'open_loop_refit'  (version 1.0) the same open-loop plans, but every episode's
          data is added and the model refitted;
  'mpc'   (version 1.5) replan every `replan_every` steps, execute the first
          actions, refit after every chunk of real steps;
  'pets'  'mpc' with a probabilistic ensemble, TSinf particles and CEM;
  'ilqr'  'mpc' with iLQR through the learned model's mean as the planner; it
          replans at every step, so only u_plan is ever executed (the feedback
          term below is zero at a plan's first step);
  'ilqr_feedback'  'ilqr' replanning every 5 steps and executing iLQR's feedback
          law u_t = u_plan_t + K_t (x_t - x_plan_t) in between (the law is
          off, the plan executed open loop, with `ilqr.feedback=False`);
  'env_dynamics' (the default) plans with the task's own dynamics.
The control loop of a chunk (plan, execute, collect) is one lax.scan over
segments of `replan_every` steps, each planning once from the segment's first
real state; the model is refitted at the end of the chunk. Within a segment the
j-th step applies u_j = u_plan_j + K_j (x_j - x_plan_j), x_j the real (env)
state and x_plan_j the planner's prediction through the model it plans with
(the learned mean, or the true dynamics): x_0 = x_plan_0, so the term acts from
the second step of a segment on, and only for iLQR with `ilqr.feedback` (the
shooting planners have no gains). Every real transition goes into a replay
buffer in the TrainState, the dataset the model is fitted to.
"""

from typing import Any, NamedTuple

import flax
import jax
import jax.numpy as jnp
import ml_collections

from mbrl_jax.data import acting
from mbrl_jax import data, models, planners
from mbrl_jax.agents import model_based
from mbrl_jax.agents.base import Agent
from mbrl_jax.core.checks import check, check_choice, check_positive, check_preset
from mbrl_jax.data import replay
from mbrl_jax.envs.base import pure_functions, task_of

DYNAMICS = ('env', 'model')
PLANNERS = ('random_shooting', 'cem', 'mppi', 'ilqr')
REFITS = ('every_chunk', 'once')
PRESETS = ('env_dynamics', 'open_loop_fit_once', 'open_loop_refit', 'mpc', 'pets', 'ilqr',
           'ilqr_feedback')  # the first is the default
SIZES = ('cpu', 'tiny')


def default_config() -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.dynamics = 'env'             # 'env': the task's own; 'model': the model below
  config.planner = 'random_shooting'
  config.horizon = 30                 # planning horizon, steps
  config.population = 1000            # action sequences per planner iteration
  config.cem = ml_collections.ConfigDict(dict(iterations=5, elite_fraction=0.1, alpha=0.1,
                                              sampling='clip'))
  config.mppi = ml_collections.ConfigDict(dict(iterations=3, temperature=1.0,
                                               noise_scale=0.25))  # std / bound range
  # feedback: execute K (x - x_plan) between replans (False: the plan open loop).
  config.ilqr = ml_collections.ConfigDict(dict(max_iterations=30, bound_penalty=100.0,
                                               feedback=True))
  config.replan_every = 1             # steps executed per plan (>= horizon: open loop)
  config.num_envs = 1                 # real envs stepped in parallel (per seed)
  config.steps_per_chunk = 200        # real env steps (all envs) in one train_chunk
  config.buffer_capacity = 100_000    # real transitions kept
  config.random_steps = 0             # random-action steps (all envs) before planning
  config.refit = 'every_chunk'        # or 'once': fit right after the random steps only
  config.propagation = 'expectation'  # how model particles use the ensemble
  config.num_particles = 1            # particles per action sequence
  config.model = models.default_config()
  return config


def preset(name: str = 'env_dynamics', size: str = 'cpu', episode_length: int = None,
           angle_dims=()) -> ml_collections.ConfigDict:
  """The lectures' versions as configs, at size 'cpu' or 'tiny' (episode_length: the
  task's, for open loop; 200, or 20 at size 'tiny', without one; angle_dims:
  observation dims the model should see as sin/cos, e.g. (1,) for the cart-pole's
  pole angle)."""
  check_preset('mpc', name, size, PRESETS, SIZES)
  tiny = size == 'tiny'
  episode_length = episode_length or (20 if tiny else 200)
  config = default_config()
  if tiny:
    config.update(dict(population=16, horizon=5, steps_per_chunk=20, buffer_capacity=400))
    config.model.update(model_based.TINY_MODEL)
  if name == 'env_dynamics':
    return config
  config.dynamics = 'model'
  config.model.update(dict(kind='deterministic', num_members=1, num_elites=1,
                           angle_dims=tuple(angle_dims)))
  config.random_steps = (1 if tiny else 5) * episode_length
  config.steps_per_chunk = episode_length
  config.planner = 'cem'
  config.population = 16 if tiny else 400
  if name in ('open_loop_fit_once', 'open_loop_refit'):
    config.horizon = config.replan_every = episode_length
    config.refit = 'once' if name == 'open_loop_fit_once' else 'every_chunk'
  elif name == 'pets':
    config.model.update(dict(kind='gaussian', num_members=2 if tiny else 5,
                             num_elites=2 if tiny else 5))
    config.random_steps = episode_length
    config.population = 16 if tiny else 500
    config.propagation = 'tsinf'
    config.num_particles = 4 if tiny else 20
  elif name in ('ilqr', 'ilqr_feedback'):
    config.planner = 'ilqr'
    config.horizon = 5 if tiny else 30
    config.replan_every = 5 if name == 'ilqr_feedback' else 1
    if tiny:
      config.ilqr.max_iterations = 5
  if tiny:
    config.cem.iterations = 2
  return config


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


def validate(config, env):
  check_choice(config, 'dynamics', DYNAMICS)
  check_choice(config, 'planner', PLANNERS)
  check_choice(config, 'refit', REFITS)
  check_choice(config, 'propagation', models.PARTICLE_PROPAGATIONS)
  check_positive(config, 'horizon', 'population', 'num_envs', 'steps_per_chunk',
                 'buffer_capacity', 'replan_every', 'num_particles')
  check(isinstance(config.ilqr.feedback, bool),
        f'config.ilqr.feedback must be True or False, got {config.ilqr.feedback!r}.')
  check(isinstance(config.random_steps, int) and config.random_steps >= 0,
        f'config.random_steps must be an integer >= 0, got {config.random_steps!r}.')
  learned = config.dynamics == 'model'
  check(learned or task_of(env) is not None,
        f'mpc with dynamics=\'env\' plans with a JAX-native task\'s own dynamics; '
        f'{type(env.unwrapped).__name__} has none: use dynamics=\'model\'.')
  # The shooting planners can score plans by the model's reward head; iLQR needs the
  # task's reward to differentiate.
  check(not (learned and config.planner == 'ilqr' and config.model.learn_reward),
        'the ilqr planner differentiates the task\'s reward function: set '
        'config.model.learn_reward=False.')
  model_based.validate(config, env, 'mpc', starts='num_particles' if learned else None,
                           learned_reward_ok=learned and config.planner != 'ilqr')
  per_env = config.steps_per_chunk // config.num_envs
  check(per_env % config.replan_every == 0,
        f'config.replan_every ({config.replan_every}) must divide the steps per env of a '
        f'chunk ({per_env}).')
  check(config.replan_every <= config.horizon,
        f'config.replan_every ({config.replan_every}) cannot exceed config.horizon '
        f'({config.horizon}): a plan must cover the steps it executes.')
  decisions = data.episode_decisions(env)
  check(decisions % config.replan_every == 0,
        f'config.replan_every ({config.replan_every}) must divide the episode length '
        f'({decisions} decisions) so that plans start with episodes.')


def make(config: ml_collections.ConfigDict, env) -> Agent:
  validate(config, env)
  task = task_of(env)
  learned = config.dynamics == 'model'
  reward_fn, termination_fn = pure_functions(env)
  if learned and config.model.learn_reward:
    reward_fn = None  # the model's reward head
  if learned and config.model.learn_termination:
    termination_fn = None
  low, high = (jnp.asarray(b) for b in data.action_bounds(env))
  middle = (low + high) / 2
  horizon, k = config.horizon, config.replan_every
  per_env = config.steps_per_chunk // config.num_envs
  buffer = replay.make_replay_buffer(config.buffer_capacity, sample_batch_size=1)
  if learned:
    ensemble = models.Ensemble(config.model, env.observation_size, env.action_size)
    trainer = models.Trainer(ensemble)
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
        random_u = jax.random.uniform(step_key, u.shape, minval=low, maxval=high)
        return acting.env_step(env, env_state, jnp.where(explore, random_u,
                                                         jnp.clip(u, low, high)))

      env_state, experience = jax.lax.scan(step, env_state,
                                           (jnp.arange(k), jax.random.split(act_key, k)))
      shifted = jnp.concatenate([plans.actions[:, k:], default_warm(num)[:, :k]], axis=1)
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

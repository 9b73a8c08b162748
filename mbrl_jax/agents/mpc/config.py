"""MPC's configuration: the defaults, the presets (the lectures' versions) and their
checks."""

import ml_collections

from mbrl_jax import data, models
from mbrl_jax.agents import model_based
from mbrl_jax.core.checks import check, check_choice, check_positive, check_preset
from mbrl_jax.envs.base import task_of

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



"""The talk's second table: success of visuomotor policies trained end to end by BADMM
GPS, against "pose features" and "pose prediction", on training positions, new
positions in between, and images with distractors.

The three stages, per seed:
  1. pretrain the pose net (spatial softmax) on rendered scenes (policies.pose_pretraining);
  2. pretrain one local controller per training goal by LQR-FLM on the full state;
  3. BADMM GPS (agents.gps.badmm) whose global policy sees only the rendered image and
     the joint state (policies.pixel_policy), started from stage 1's vision and
     stage 2's controllers, in one of three variants:
       end_to_end       every layer trained, the conv trunk from the pose net;
       pose_features    the conv trunk frozen at the pose net's;
       pose_prediction  the frozen pose net's predicted target, with the joints, into
                        an MLP.
Evaluation: the policy's mean run for 100 steps from each goal's straight start with
the joints perturbed by U(-0.05, 0.05) rad (`--trials` per goal); success = the tip
ends within `--radius` of the target. Cells: training goals (two_link_arm.TRAIN_GOALS,
or EIGHT_GOALS with --goal_set=eight), the spatial test (HELD_OUT_GOALS or
EIGHT_HELD_OUT, never sampled), the visual test (training goals with three distractor
objects drawn in the scene). A blind policy (the same network with
the target erased from its images) gives the floor.

CPU scale: 32 x 32 images, trunk 16 / 8 / 8 channels (kernels 5 / 3 / 3).

  PYTHONPATH=. .venv/bin/python experiments/visuomotor_gps.py --seeds=0,1

Writes outputs/visuomotor/success_table.json (--out: the folder) and prints it. To
refresh the committed record, pass --out=experiments/results/visuomotor (its table is
--seeds=0; seed1/ and seed2/ there are --seeds=1 and 2, eight_goals/ --goal_set=eight).
"""

import math
import os
import time

from absl import app, flags

flags.DEFINE_list('seeds', ['0', '1'], 'Seeds.')
flags.DEFINE_list('variants', ['end_to_end', 'pose_features', 'pose_prediction'], 'Variants.')
flags.DEFINE_integer('pose_steps', 3000, 'Stage 1: Adam steps of the pose net.')
flags.DEFINE_integer('lqr_iterations', 12, 'Stage 2: LQR-FLM iterations per goal.')
flags.DEFINE_integer('gps_iterations', 10, 'Stage 3: BADMM iterations.')
flags.DEFINE_integer('sgd_steps', 200, 'Adam steps per S-step.')
flags.DEFINE_integer('trials', 5, 'Evaluation runs per goal and cell.')
flags.DEFINE_float('radius', 0.1, 'Success: final tip distance below this.')
flags.DEFINE_enum('goal_set', 'four', ['four', 'eight'],
                  'four: two_link_arm.TRAIN_GOALS / HELD_OUT_GOALS; eight: EIGHT_GOALS, with '
                  'the seven goals halfway between neighbours as the spatial test.')
flags.DEFINE_string('out', 'outputs/visuomotor', 'Output folder.')
FLAGS = flags.FLAGS
NETWORK = dict(channels=(16, 8, 8), kernel_sizes=(5, 3, 3), strides=(2, 1, 1))


def _fan(angles, radii):
  return tuple((round(r * math.cos(math.radians(a)), 4), round(r * math.sin(math.radians(a)), 4))
               for a, r in zip(angles, radii))


# Eight training goals 12 degrees apart over the four goals' span (-48 to 36 degrees),
# radii alternating 1.40 / 1.55; the spatial test is the seven goals halfway between.
EIGHT_GOALS = _fan(range(-48, 37, 12), [1.40, 1.55] * 4)
EIGHT_HELD_OUT = _fan(range(-42, 31, 12), [1.475] * 7)


def goal_sets():
  """(training goals, spatial-test goals) of `--goal_set`."""
  from mbrl_jax.envs import two_link_arm
  if FLAGS.goal_set == 'eight':
    return EIGHT_GOALS, EIGHT_HELD_OUT
  return two_link_arm.TRAIN_GOALS, two_link_arm.HELD_OUT_GOALS


def configs():
  from mbrl_jax.envs import rendering
  plain = rendering.RenderConfig(height=32, width=32, link_width=0.2, target_radius=0.2)
  distractors = (rendering.Distractor('square', (-1.2, 1.2), 0.25, (0.2, 0.8, 0.2)),
                 rendering.Distractor('triangle', (-1.3, -1.1), 0.3, (0.2, 0.3, 0.9)),
                 rendering.Distractor('disc', (0.4, 1.6), 0.2, (0.9, 0.8, 0.1)))
  return plain, plain._replace(distractors=distractors), plain._replace(target_radius=0.0)


def stage_controllers(env, starts, key):
  """LQR-FLM from the GPS start (zero-mean open loop, std sqrt(0.1)) for each goal."""
  import jax
  import jax.numpy as jnp
  from mbrl_jax.planners import lqr_flm
  from mbrl_jax.policies import linear_gaussian as lg
  C, T, m, n = starts.shape[0], env.episode_length, env.action_size, env.observation_size
  init = lg.open_loop(jnp.zeros((T, m)), 0.1 * jnp.eye(m), n)
  conditions = jax.vmap(lambda _: lqr_flm.initial_condition(init, 1.0))(jnp.arange(C))
  iteration = jax.jit(jax.vmap(lqr_flm.make_iteration(env, 5, 1e-4 * jnp.eye(n), 4)))
  for _ in range(FLAGS.lqr_iterations):
    key, step_key = jax.random.split(key)
    conditions, metrics = iteration(conditions, starts, jax.random.split(step_key, C))
  return conditions.controller, float(metrics['cost'].mean())


def success(env, net, params, render_config, goals, key):
  """Final tip distances [goals * trials] of the policy's mean from perturbed starts."""
  import jax
  import jax.numpy as jnp
  from mbrl_jax.data import acting
  from mbrl_jax import data
  from mbrl_jax.envs import two_link_arm
  from mbrl_jax.envs.base import task_of
  task = task_of(env)
  starts = jnp.repeat(two_link_arm.straight_starts(goals), FLAGS.trials, axis=0)
  q = jax.random.uniform(key, (starts.shape[0], 2), minval=-0.05, maxval=0.05)
  starts = starts.at[:, :4].set(jnp.stack([jnp.cos(q[:, 0]), jnp.sin(q[:, 0]),
                                           jnp.cos(q[:, 1]), jnp.sin(q[:, 1])], -1))
  policy_net = net.clone(render_config=render_config)
  state = data.reset_to(env, key, starts)
  _, experience = acting.unroll(env, state, lambda obs, _: policy_net.apply(params, obs), key,
                                env.episode_length)
  final = experience.transition.next_obs[-1]
  return jnp.linalg.norm(task.tip_position(final) - final[:, 6:8], axis=-1)


def run_variant(variant, env, pose_params, controllers, key):
  import jax
  import numpy as np
  from mbrl_jax.agents.gps import badmm
  from mbrl_jax.policies import pixel_policy as vp
  from mbrl_jax.envs import two_link_arm
  plain, cluttered, blind = configs()
  config = badmm.default_config()
  config.update(dict(num_clusters=4, init_std=0.1**0.5, sgd_steps=FLAGS.sgd_steps,
                     batch_size=64))
  net, frozen = vp.make(variant, 2, plain, **NETWORK)
  optimizer = vp.optimizer(1e-3, frozen)
  algo = badmm.build(env, config, net, optimizer)
  train_goals, held_out_goals = goal_sets()
  starts = two_link_arm.straight_starts(train_goals)
  init_key, key = jax.random.split(key)
  state = algo.init(init_key, starts.shape[0])
  params = vp.with_pretrained(variant, state.params, pose_params)
  state = state.replace(params=params, opt_state=optimizer.init(params), controllers=controllers)
  iteration = jax.jit(algo.iteration)
  costs = []
  started = time.perf_counter()
  for _ in range(FLAGS.gps_iterations):
    key, step_key = jax.random.split(key)
    state, metrics = iteration(state, starts, step_key)
    costs.append(round(float(metrics['policy_cost'].mean()), 3))
  seconds = time.perf_counter() - started
  eval_key = jax.random.PRNGKey(1234)
  cells = {'training': (plain, train_goals),
           'spatial_test': (plain, held_out_goals),
           'visual_test': (cluttered, train_goals),
           'blind_training': (blind, train_goals)}
  out = {'policy_cost_per_iteration': costs, 'gps_seconds': round(seconds, 1),
         'skipped_updates': float(metrics['skipped_updates'])}
  for cell, (render_config, goals) in cells.items():
    distances = np.asarray(jax.jit(lambda p: success(env, net, p, render_config, goals,
                                                     eval_key))(state.params))
    out[cell] = {'successes': int((distances < FLAGS.radius).sum()), 'trials': distances.size,
                 'median_distance': round(float(np.median(distances)), 3)}
  return out


def main(argv):
  del argv
  import jax
  from mbrl_jax.harness import compilation_cache, metrics
  from mbrl_jax import envs
  from mbrl_jax.policies import pose_pretraining
  from mbrl_jax.envs import two_link_arm
  from mbrl_jax.policies import visuomotor as vm
  compilation_cache.enable()
  env = envs.make('two_link_arm')
  plain, _, _ = configs()
  train_goals, held_out_goals = goal_sets()
  starts = two_link_arm.straight_starts(train_goals)
  result = {'radius': FLAGS.radius, 'trials_per_goal': FLAGS.trials,
            'goals': {'training': train_goals, 'spatial_test': held_out_goals},
            'stages': {'pose_steps': FLAGS.pose_steps, 'lqr_iterations': FLAGS.lqr_iterations,
                       'gps_iterations': FLAGS.gps_iterations, 'sgd_steps': FLAGS.sgd_steps},
            'seeds': {}}
  for seed in map(int, FLAGS.seeds):
    pose_key, lqr_key, gps_key = jax.random.split(jax.random.PRNGKey(seed), 3)
    scenes = pose_pretraining.sample_scenes(jax.random.fold_in(pose_key, 0), 20000)
    pose_net = vm.PoseNet(2, head='spatial_softmax', **NETWORK)
    pretrained = jax.jit(lambda k: pose_pretraining.pretrain(pose_net, scenes, k, FLAGS.pose_steps, 64,
                                                 1e-3, plain))(pose_key)
    test = pose_pretraining.sample_scenes(jax.random.fold_in(pose_key, 1), 1000)
    pose_error = float(pose_pretraining.position_errors(pose_net, pretrained.params, test, plain).mean())
    controllers, lqr_cost = stage_controllers(env, starts, lqr_key)
    row = {'pose_error': round(pose_error, 4), 'lqr_flm_sample_cost': round(lqr_cost, 3)}
    for variant in FLAGS.variants:
      row[variant] = run_variant(variant, env, pretrained.params, controllers, gps_key)
      print(seed, variant, row[variant], flush=True)
    result['seeds'][str(seed)] = row
  table = {}
  for variant in FLAGS.variants:
    table[variant] = {}
    for cell in ('training', 'spatial_test', 'visual_test', 'blind_training'):
      hits = sum(r[variant][cell]['successes'] for r in result['seeds'].values())
      trials = sum(r[variant][cell]['trials'] for r in result['seeds'].values())
      table[variant][cell] = f'{hits}/{trials}'
  result['table'] = table
  metrics.report(result, os.path.join(FLAGS.out, 'success_table.json'))


if __name__ == '__main__':
  app.run(main)

"""Env samples to reach the goals of the two-link arm: GPS against PPO (brax.training)
and MBPO (this package), on the same task.

The task: two_link_arm with goals=TRAIN_GOALS and joint_noise=0 (every episode
starts with the arm straight at rest and one of the four goals, drawn uniformly),
which is the four conditions GPS trains on. "Reached": a deterministic run of the
policy (its mean action) from each of the four conditions ends with the tip within
0.1 of the goal, for all four. Every method is judged by that same evaluation,
after each of its chunks (PPO: at each of its evaluations), and its samples are the
env steps it learned from (PPO's and MBPO's training steps; GPS's local
controllers' samples, from experiments/gps_arm.py's JSON, run first: --gps_json reads
outputs/gps/arm_curves.json, the committed record's is
experiments/results/gps/arm_curves.json).

The ratio is each method's own samples to the first point where it reaches, over
MDGPS's own samples to the same criterion; with seeds, every pair of seeds gives a
ratio and their range is quoted. A method that does not reach within its budget
gives a lower bound (budget / MDGPS's samples). The cost of each method's
deterministic runs is also quoted at several sample counts.

brax 0.14.2's `ppo.train` calls `jax.device_put_replicated`, which jax 0.10 removed;
this script (only) defines it again as stacking one copy per device
(`common.restore_device_put_replicated`, as experiments/pathwise_vs_apg.py does).

  PYTHONPATH=. .venv/bin/python experiments/arm_sample_efficiency.py --methods=ppo,mbpo

Writes outputs/gps/arm_sample_efficiency.json (--out) and prints it. To refresh the
committed record, pass --gps_json=experiments/results/gps/arm_curves.json
--out=experiments/results/gps/arm_sample_efficiency.json.
"""

import json
import os
import time

from absl import app, flags

import common

flags.DEFINE_list('methods', ['ppo', 'mbpo'], 'Methods to run against GPS.')
flags.DEFINE_list('seeds', ['0', '1'], 'Seeds (PPO: one run each; MBPO: one vmap).')
flags.DEFINE_integer('ppo_steps', 5_000_000, 'PPO env steps per seed.')
flags.DEFINE_integer('ppo_evals', 26, 'PPO evaluations (evenly spaced, the first at 0).')
flags.DEFINE_integer('mbpo_steps', 20_000, 'MBPO env steps per seed.')
flags.DEFINE_integer('mbpo_chunk', 1000, 'MBPO env steps between evaluations.')
flags.DEFINE_string('gps_json', 'outputs/gps/arm_curves.json',
                    'experiments/gps_arm.py output (GPS and LQR-FLM samples to reach).')
common.define_out('outputs/gps/arm_sample_efficiency.json')
FLAGS = flags.FLAGS
REACHED = 0.1


def arm_task_kwargs():
  from mbrl_jax.envs import two_link_arm
  return dict(goals=two_link_arm.TRAIN_GOALS, joint_noise=0.0)


def make_evaluator(env):
  """evaluate(policy) -> (cost [4], final tip distance [4]): the deterministic run of
  policy(obs, key) -> action from each training condition."""
  import jax
  import jax.numpy as jnp
  from mbrl_jax.data import acting
  from mbrl_jax import data
  from mbrl_jax.envs import two_link_arm
  from mbrl_jax.envs.base import task_of
  task = task_of(env)
  starts = two_link_arm.straight_starts(two_link_arm.TRAIN_GOALS)

  def evaluate(policy):
    key = jax.random.PRNGKey(0)
    state = data.reset_to(env, key, starts)
    _, experience = acting.unroll(env, state, policy, key, env.episode_length)
    final = experience.transition.next_obs[-1]
    distance = jnp.linalg.norm(task.tip_position(final) - final[:, 6:8], axis=-1)
    return -experience.transition.reward.sum(0), distance
  return evaluate


def run_ppo(seed):
  import jax
  import numpy as np
  from brax.training.agents.ppo import train as ppo

  from mbrl_jax import envs
  from mbrl_jax.envs.two_link_arm import TwoLinkArm
  common.restore_device_put_replicated()

  evaluate = make_evaluator(envs.make('two_link_arm', **arm_task_kwargs()))
  points, compiled = [], {}

  def record(step, make_policy, params):
    if 'fn' not in compiled:
      compiled['fn'] = jax.jit(lambda p: evaluate(
          lambda obs, key: make_policy(p, deterministic=True)(obs, key)[0]))
    cost, distance = compiled['fn'](params)
    points.append((int(step), np.asarray(cost).tolist(), np.asarray(distance).tolist()))

  started = time.perf_counter()
  ppo.train(TwoLinkArm(**arm_task_kwargs()), num_timesteps=FLAGS.ppo_steps,
            wrap_env_fn=common.wrap_env,
            episode_length=100, num_envs=256, unroll_length=20, batch_size=256,
            num_minibatches=8, num_updates_per_batch=4, discounting=0.97, learning_rate=3e-4,
            entropy_cost=1e-3, normalize_observations=True, reward_scaling=1.0,
            num_evals=FLAGS.ppo_evals, num_eval_envs=16, deterministic_eval=True, seed=seed,
            policy_params_fn=record)
  return points, time.perf_counter() - started


def run_mbpo(seeds):
  import jax
  import numpy as np
  from mbrl_jax import agents, envs
  from mbrl_jax.agents import mbpo
  env = envs.make('two_link_arm', **arm_task_kwargs())
  config = agents.preset('mbpo', size='cpu')
  config.steps_per_chunk = FLAGS.mbpo_chunk
  agent = mbpo.make(config, env)
  evaluate = make_evaluator(env)
  keys = jax.vmap(jax.random.PRNGKey)(np.array(seeds))
  state = jax.jit(jax.vmap(agent.init))(keys)
  chunk = jax.jit(jax.vmap(agent.train_chunk))
  judge = jax.jit(jax.vmap(lambda p: evaluate(agent.make_policy(p, deterministic=True))))
  started, points = time.perf_counter(), []
  for i in range(FLAGS.mbpo_steps // FLAGS.mbpo_chunk + 1):
    if i:
      state, _ = chunk(state)
    cost, distance = judge(state.params)
    points.append((i * FLAGS.mbpo_chunk, np.asarray(cost).tolist(),
                   np.asarray(distance).tolist()))
  return points, time.perf_counter() - started


def first_reach(points):
  """Samples at the first point where every condition is within REACHED, or None."""
  return common.first_where([step for step, _, _ in points],
                            [max(distance) < REACHED for _, _, distance in points])


def first_cost(points, target):
  """Samples at the first point where the mean cost over the conditions is <= target,
  or None."""
  return common.first_where([step for step, _, _ in points],
                            [sum(cost) / len(cost) <= target for _, cost, _ in points])


def ratios(reach, reference, budget):
  """Each seed's samples over each MDGPS seed's (all pairs): min and max, and whether a
  seed that never reached (counted at its budget: a lower bound) is among them."""
  reference = [r for r in reference if r is not None]
  if not reference:
    return None
  pairs = [(r if r is not None else budget) / g for r in reach for g in reference]
  return {'min': round(min(pairs), 2), 'max': round(max(pairs), 2),
          'lower_bound_only': any(r is None for r in reach)}


def cost_at(points, steps):
  """Mean cost over the conditions at the last point at or before each sample count."""
  out = {}
  for s in steps:
    before = [p for p in points if p[0] <= s]
    out[str(s)] = None if not before else round(sum(before[-1][1]) / len(before[-1][1]), 3)
  return out


def main(argv):
  del argv
  from mbrl_jax.harness import compilation_cache, metrics
  compilation_cache.enable()
  if not os.path.isfile(FLAGS.gps_json):
    raise SystemExit(f'error: --gps_json={FLAGS.gps_json} is not a file; run '
                     'experiments/gps_arm.py first, or pass '
                     '--gps_json=experiments/results/gps/arm_curves.json (the committed one).')
  with open(FLAGS.gps_json) as f:
    gps = json.load(f)
  mdgps = gps['summary']['mdgps']
  result = {'task': 'two_link_arm, goals=TRAIN_GOALS, arm straight at rest',
            'reached': f'every training goal within {REACHED} at the end of a deterministic run',
            'cost_targets': gps['cost_targets'],
            'methods': {}}
  quote = [20_000, 40_000, 60_000]
  for name, s in gps['summary'].items():
    result['methods'][name] = {'samples_to_reach': s['samples_to_reach_all_training_goals'],
                               'samples_to_cost': s['samples_to_cost']}
  seeds = [int(s) for s in FLAGS.seeds]
  for method in FLAGS.methods:
    if method == 'ppo':
      runs = [run_ppo(seed) for seed in seeds]
      per_seed = [points for points, _ in runs]
      seconds = [round(s, 1) for _, s in runs]
      budget = FLAGS.ppo_steps
    elif method == 'mbpo':
      points, seconds = run_mbpo(seeds)
      per_seed = [[(step, cost[i], dist[i]) for step, cost, dist in points]
                  for i in range(len(seeds))]
      seconds, budget = round(seconds, 1), FLAGS.mbpo_steps
    else:
      raise ValueError(f'unknown method {method!r}; valid: ppo, mbpo')
    reach = [first_reach(p) for p in per_seed]
    to_cost = {str(t): [first_cost(p, t) for p in per_seed] for t in gps['cost_targets']}
    entry = {'seeds': seeds, 'budget': budget, 'seconds': seconds, 'samples_to_reach': reach,
             'samples_to_cost': to_cost,
             'cost_at_samples': [cost_at(p, sorted({q for q in quote if q <= budget}
                                                   | {budget // 4, budget // 2, budget}))
                                 for p in per_seed],
             'final_distance': [p[-1][2] for p in per_seed], 'curve': per_seed}
    entry['ratio_to_mdgps'] = {
        'reach': ratios(reach, mdgps['samples_to_reach_all_training_goals'], budget),
        **{f'cost<={t}': ratios(to_cost[t], mdgps['samples_to_cost'][t], budget)
           for t in to_cost}}
    result['methods'][method] = entry
    print(json.dumps({method: {k: v for k, v in entry.items() if k != 'curve'}}), flush=True)
  metrics.report(result, FLAGS.out)  # creates the folder


if __name__ == '__main__':
  app.run(main)

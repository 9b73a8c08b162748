"""Local models on the two-link arm: LQR-FLM, MDGPS and BADMM, cost against env samples.

The conditions are the arm straight at rest with one of four training goals
(two_link_arm.TRAIN_GOALS); GPS's neural policy is also run from four held-out
goals between them (HELD_OUT_GOALS) that it never trains on. Every method takes
5 samples of 100 steps per condition and iteration (2000 env steps), from a
zero-mean open-loop start with std sqrt(0.1), under a 4-cluster GMM prior on the
dynamics fit; the seeds run in one vmap.

What is measured after each iteration, per seed and condition:
  sample_cost   the mean cost of the 5 samples the iteration took (its local controllers)
  train_cost    the deterministic run's cost from each training condition: GPS's
                policy mean; LQR-FLM's controller means (it has no global policy)
  train_dist    that run's final tip distance to the goal ("reaches": < 0.1)
  held_cost, held_dist  the same for GPS's policy from the held-out conditions
  elbow         sign of the final elbow angle q2 (which of the arm's two
                configurations reaches the goal)
The deterministic evaluation runs are not training samples (the off-policy
variants never learn from them) and are not counted in `samples`; the launcher's
gps agent does count them in env_steps.

  PYTHONPATH=. .venv/bin/python experiments/gps_arm.py --seeds=0,1,2 --iterations=30

Writes outputs/gps/arm_curves.{json,csv,png} (--out) and prints the summary JSON. To
refresh the committed record, pass --out=experiments/results/gps.
"""

import csv
import os
import time

from absl import app, flags

flags.DEFINE_list('seeds', ['0', '1', '2'], 'Seeds (one vmap per method).')
flags.DEFINE_integer('iterations', 30, 'Iterations per method.')
flags.DEFINE_list('methods', ['lqr_flm', 'mdgps', 'badmm'], 'Methods to run.')
flags.DEFINE_list('quote_at', ['5', '10', '15', '20', '30'], 'Iterations quoted in the summary.')
flags.DEFINE_string('out', 'outputs/gps', 'Output folder.')
FLAGS = flags.FLAGS
NUM_SAMPLES, NUM_CLUSTERS, INIT_STD = 5, 4, 0.1**0.5
REACHED = 0.1
COST_TARGETS = (15.0, 13.0)  # mean cost over the training goals of the deterministic run


def arm_env():
  from mbrl_jax import envs
  return envs.make('two_link_arm')


def final_distance(task, obs):
  import jax.numpy as jnp
  return jnp.linalg.norm(task.tip_position(obs) - obs[..., 6:8], axis=-1)


def elbow(obs):
  import jax.numpy as jnp
  return jnp.sign(jnp.arctan2(obs[..., 3], obs[..., 2]))


def run_lqr_flm(env, starts, held_out, keys):
  """LQR-FLM alone: one local controller per training condition, no held-out runs."""
  import jax
  import jax.numpy as jnp
  from mbrl_jax.data import acting
  from mbrl_jax import data
  from mbrl_jax.planners import lqr_flm
  from mbrl_jax.envs.base import task_of
  from mbrl_jax.policies import linear_gaussian as lg
  del held_out
  task, C, T = task_of(env), starts.shape[0], env.episode_length
  sigma0 = 1e-4 * jnp.eye(env.observation_size)
  init = lg.open_loop(jnp.zeros((T, env.action_size)), INIT_STD**2 * jnp.eye(env.action_size),
                      env.observation_size)
  iteration = jax.vmap(lqr_flm.make_iteration(env, NUM_SAMPLES, sigma0, NUM_CLUSTERS))

  def mean_run(controller, x0):
    state = data.reset_to(env, jax.random.PRNGKey(0), x0[None])

    def step(state, t):
      action = lg.mean_action(controller, state.obs[0], t)[None]
      state, experience = acting.env_step(env, state, action)
      return state, experience.transition
    _, tr = jax.lax.scan(step, state, jnp.arange(T))
    return -tr.reward.sum(), tr.next_obs[-1, 0]

  def one_seed(key):
    conditions = jax.vmap(lambda _: lqr_flm.initial_condition(init, 1.0))(jnp.arange(C))

    def body(conditions, key):
      conditions, metrics = iteration(conditions, starts, jax.random.split(key, C))
      cost, final = jax.vmap(mean_run)(conditions.controller, starts)
      return conditions, {'sample_cost': metrics['cost'], 'train_cost': cost,
                          'train_dist': final_distance(task, final), 'elbow': elbow(final),
                          'failed_c_steps': metrics['failed'].astype(jnp.float32)}
    return jax.lax.scan(body, conditions, jax.random.split(key, FLAGS.iterations))[1]

  return jax.jit(jax.vmap(one_seed))(keys)


def run_gps(variant):
  def run(env, starts, held_out, keys):
    import jax
    from mbrl_jax.agents.gps import badmm, mdgps
    from mbrl_jax.envs.base import task_of
    module = {'mdgps': mdgps, 'badmm': badmm}[variant]
    config = module.default_config()
    config.update(dict(num_samples=NUM_SAMPLES, num_clusters=NUM_CLUSTERS, init_std=INIT_STD))
    algo, task, C = module.build(env, config), task_of(env), starts.shape[0]

    def one_seed(key):
      init_key, key = jax.random.split(key)

      def body(state, key):
        step_key, eval_key = jax.random.split(key)
        state, metrics = algo.iteration(state, starts, step_key)
        train_cost, train_final = algo.evaluate(state.params, starts, eval_key)
        held_cost, held_final = algo.evaluate(state.params, held_out, eval_key)
        return state, {'sample_cost': metrics['cost'], 'train_cost': train_cost,
                       'train_dist': final_distance(task, train_final),
                       'held_cost': held_cost, 'held_dist': final_distance(task, held_final),
                       'elbow': elbow(train_final), 'held_elbow': elbow(held_final),
                       'failed_c_steps': metrics['failed_c_steps'],
                       'skipped_updates': metrics['skipped_updates']}
      state = algo.init(init_key, C)
      return jax.lax.scan(body, state, jax.random.split(key, FLAGS.iterations))[1]

    return jax.jit(jax.vmap(one_seed))(keys)
  return run


METHODS = {'lqr_flm': run_lqr_flm, 'mdgps': run_gps('mdgps'), 'badmm': run_gps('badmm')}


def first_true(met):
  """The first iteration (1-based) where `met` [seeds, iterations] holds, per seed
  (None: never)."""
  import common
  return [common.first_where(range(1, len(row) + 1), row) for row in met]


def summarize(curves, samples_per_iteration):
  import numpy as np
  quote = [int(i) for i in FLAGS.quote_at if int(i) <= FLAGS.iterations]
  spread = lambda a: {'mean': float(a.mean()), 'min': float(a.min()), 'max': float(a.max())}
  summary = {}
  for name, c in curves.items():
    at = {}
    for i in quote:
      row = {'samples': i * samples_per_iteration,
             'sample_cost': spread(c['sample_cost'][:, i - 1].mean(-1)),
             'train_cost': spread(c['train_cost'][:, i - 1].mean(-1)),
             'train_reached': f"{int((c['train_dist'][:, i - 1] < REACHED).sum())}"
                              f"/{c['train_dist'][:, i - 1].size}"}
      if 'held_cost' in c:
        row['held_cost'] = spread(c['held_cost'][:, i - 1].mean(-1))
        row['held_reached'] = (f"{int((c['held_dist'][:, i - 1] < REACHED).sum())}"
                               f"/{c['held_dist'][:, i - 1].size}")
      at[str(i)] = row
    samples = lambda met: [None if r is None else r * samples_per_iteration
                           for r in first_true(met)]
    summary[name] = {
        'at_iteration': at,
        'samples_to_reach_all_training_goals': samples((c['train_dist'] < REACHED).all(-1)),
        'samples_to_cost': {str(target): samples(c['train_cost'].mean(-1) <= target)
                            for target in COST_TARGETS},
        'final_train_dist': np.round(c['train_dist'][:, -1].astype(float), 3).tolist(),
        'failed_c_steps': float(c['failed_c_steps'].sum())}
    if 'held_dist' in c:
      summary[name]['final_held_dist'] = np.round(c['held_dist'][:, -1].astype(float), 3).tolist()
      summary[name]['final_held_elbow'] = c['held_elbow'][:, -1].astype(int).tolist()
      summary[name]['skipped_updates'] = float(c['skipped_updates'].sum())
    summary[name]['final_train_elbow'] = c['elbow'][:, -1].astype(int).tolist()
  return summary


def write_csv(curves, samples_per_iteration, path):
  with open(path, 'w', newline='') as f:
    writer = csv.writer(f)
    writer.writerow(['method', 'seed', 'iteration', 'samples', 'sample_cost', 'train_cost',
                     'held_cost', 'max_train_dist', 'max_held_dist'])
    for name, c in curves.items():
      for s, seed in enumerate(FLAGS.seeds):
        for i in range(FLAGS.iterations):
          held = c.get('held_cost')
          writer.writerow([name, seed, i + 1, (i + 1) * samples_per_iteration,
                           f"{c['sample_cost'][s, i].mean():.4f}",
                           f"{c['train_cost'][s, i].mean():.4f}",
                           '' if held is None else f'{held[s, i].mean():.4f}',
                           f"{c['train_dist'][s, i].max():.4f}",
                           '' if held is None else f"{c['held_dist'][s, i].max():.4f}"])


def plot(curves, samples_per_iteration, path):
  import numpy as np
  from mbrl_jax.harness import plotting
  x = samples_per_iteration * np.arange(1, FLAGS.iterations + 1)
  mean = lambda a: a.mean(-1).mean(0)
  n = len(FLAGS.seeds)
  train = {f'{k} ({"controllers" if k == "lqr_flm" else "policy"})': (x, mean(c['train_cost']))
           for k, c in curves.items()}
  held = {f'{k} policy': (x, mean(c['held_cost'])) for k, c in curves.items() if 'held_cost' in c}
  dist = {k: (x, c['train_dist'].max(-1).mean(0)) for k, c in curves.items()}
  dist.update({f'{k} held out': (x, c['held_dist'].max(-1).mean(0))
               for k, c in curves.items() if 'held_dist' in c})
  panels = [plotting.Panel(train, f'training goals (mean of {n} seeds)', 'env samples',
                           'cost of the deterministic run', 'log'),
            plotting.Panel(held, 'held-out goals (never sampled)', 'env samples',
                           'cost of the policy', 'log'),
            plotting.Panel(dist, 'worst final tip distance', 'env samples', 'distance', 'log')]
  return plotting.plot_lines(panels, path)


def main(argv):
  del argv
  import jax
  import numpy as np
  from mbrl_jax.harness import compilation_cache, metrics
  from mbrl_jax.envs import two_link_arm
  compilation_cache.enable()
  env = arm_env()
  starts = two_link_arm.straight_starts(two_link_arm.TRAIN_GOALS)
  held_out = two_link_arm.straight_starts(two_link_arm.HELD_OUT_GOALS)
  samples_per_iteration = starts.shape[0] * NUM_SAMPLES * env.episode_length
  keys = jax.numpy.stack([jax.random.PRNGKey(int(s)) for s in FLAGS.seeds])
  curves, seconds = {}, {}
  for name in FLAGS.methods:
    started = time.perf_counter()
    curves[name] = jax.tree.map(np.asarray, METHODS[name](env, starts, held_out, keys))
    seconds[name] = round(time.perf_counter() - started, 1)
  os.makedirs(FLAGS.out, exist_ok=True)
  write_csv(curves, samples_per_iteration, os.path.join(FLAGS.out, 'arm_curves.csv'))
  plot(curves, samples_per_iteration, os.path.join(FLAGS.out, 'arm_curves.png'))
  result = {'task': 'two_link_arm, arm straight at rest; 4 training goals, 4 held-out goals',
            'train_goals': two_link_arm.TRAIN_GOALS, 'held_out_goals': two_link_arm.HELD_OUT_GOALS,
            'seeds': [int(s) for s in FLAGS.seeds], 'iterations': FLAGS.iterations,
            'samples_per_iteration': samples_per_iteration, 'reached_within': REACHED,
            'cost_targets': COST_TARGETS,
            'seconds_with_compilation': seconds,
            'summary': summarize(curves, samples_per_iteration)}
  metrics.report(result, os.path.join(FLAGS.out, 'arm_curves.json'))


if __name__ == '__main__':
  app.run(main)

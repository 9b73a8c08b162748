"""Are Brax's backends differentiable? Policy gradients through a short rollout.

For each (env, backend) this differentiates the undiscounted H-step return of a
linear policy a = tanh(W obs + b), from env.reset(key(seed)), with jax.grad
through a jax.lax.scan over env.step, and reports whether the gradient is finite,
its global L2 norm and the return (medians over reset seeds, vmapped in one jitted
function), plus the seconds the jitted gradient took to compile + run once, and
to run again.

Some rewards carry no gradient (inverted_pendulum pays a constant 1 per step), so
--probe also differentiates a state-dependent probe, sum_t ||obs_t||^2, which
tests the dynamics themselves (this makes the compile a few times slower).
MJX's solver is only reverse-differentiable with --mjx_iterations 1.

  PYTHONPATH=. .venv/bin/python experiments/brax_gradients.py \
      --envs hopper --backends positional,mjx --seeds 0,1,2

Prints one JSON list of rows and writes it to outputs/brax_gradients/gradients.json
(--out; rewritten after every row); a failing (env, backend) gives a row with 'error'.
The policy, the rollout and its gradient are common.py's (make_grad_fn).
"""

import argparse
import json

import jax
import jax.numpy as jnp
import numpy as np

import common
from mbrl_jax import envs
from mbrl_jax.harness import metrics

ENVS = ('hopper', 'halfcheetah', 'inverted_pendulum')
BACKENDS = ('generalized', 'positional', 'spring', 'mjx')


def measure(env_name, backend, seeds, horizon, policy_seed, probe,
            mjx_iterations=None):
  # No auto-reset: we want a single episode, and it keeps the reset out of the graph.
  env = envs.make('brax/' + env_name, backend=backend, episode_length=horizon,
                  auto_reset=False)
  if backend == 'mjx' and mjx_iterations is not None:
    # MJX's constraint solver runs a lax.while_loop (not reverse-differentiable)
    # unless opt.iterations == 1.
    env.unwrapped.sys = env.unwrapped.sys.tree_replace(
        {'opt.iterations': mjx_iterations})
  params = common.init_linear_policy(jax.random.key(policy_seed), env.observation_size,
                                     env.action_size)
  fn = common.make_grad_fn(env, horizon, probe)
  seeds = jnp.asarray(seeds, dtype=jnp.uint32)
  (values, grads), compile_s, run_s = common.first_and_second_call_seconds(fn, params, seeds)
  flat = common.flat_gradients(grads)  # [seed, output, P]
  finite = np.isfinite(flat).all(-1)  # [seed, output]
  norms = np.linalg.norm(flat, axis=-1)  # NaN where that gradient has a NaN
  values = np.asarray(values)
  row = {
      'finite': bool(finite[:, 0].all()),
      'grad_norm': float(np.median(norms[:, 0])),
      'return': float(np.median(values[:, 0])),
      'grad_norms': norms[:, 0].tolist(),
      'returns': values[:, 0].tolist(),
      'compile_s': round(compile_s, 2),
      'run_s': round(run_s, 4),
  }
  if probe:
    row.update(probe_finite=bool(finite[:, 1].all()),
               probe_grad_norm=float(np.median(norms[:, 1])))
  return row


def main():
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  p.add_argument('--envs', default=','.join(ENVS))
  p.add_argument('--backends', default=','.join(BACKENDS))
  p.add_argument('--seeds', default='0,1,2', help='reset seeds, comma-separated')
  p.add_argument('--horizon', type=int, default=32)
  p.add_argument('--policy_seed', type=int, default=0)
  p.add_argument('--probe', action='store_true',
                 help='also differentiate sum_t ||obs_t||^2 (slower compile)')
  p.add_argument('--mjx_iterations', type=int, default=None,
                 help="override MJX's solver iterations (1 makes it differentiable)")
  p.add_argument('--out', default='outputs/brax_gradients/gradients.json',
                 help="also write the JSON here ('': print only)")
  args = p.parse_args()
  seeds = [int(s) for s in args.seeds.split(',')]

  rows = []
  for env_name in args.envs.split(','):
    for backend in args.backends.split(','):
      row = {'env': env_name, 'backend': backend, 'horizon': args.horizon,
             'seeds': seeds}
      if backend == 'mjx' and args.mjx_iterations is not None:
        row['mjx_iterations'] = args.mjx_iterations
      try:
        row.update(measure(env_name, backend, seeds, args.horizon,
                           args.policy_seed, args.probe, args.mjx_iterations))
      except Exception as e:  # report the failure, go on with the next combination
        msg = str(e).strip().splitlines()
        row['error'] = f'{type(e).__name__}: {msg[0] if msg else ""}'
      rows.append(row)
      if args.out:  # rewrite after every row so a long run leaves partial results
        metrics.write_json(rows, args.out)
  print(json.dumps(rows, indent=1))


if __name__ == '__main__':
  main()

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
      --envs hopper --backends positional,mjx --seeds 0,1,2 --out /tmp/g.json

Prints one JSON list of rows; a failing (env, backend) gives a row with 'error'.
"""

import argparse
import json
import time

import jax
import jax.numpy as jnp
import numpy as np

from mbrl_jax import envs

ENVS = ('hopper', 'halfcheetah', 'inverted_pendulum')
BACKENDS = ('generalized', 'positional', 'spring', 'mjx')


def init_policy(key, obs_size, act_size, scale=0.1):
  # Small weights keep tanh out of saturation so the gradient isn't trivially 0.
  w = scale * jax.random.normal(key, (act_size, obs_size)) / np.sqrt(obs_size)
  return {'w': w, 'b': jnp.zeros(act_size)}


def make_grad_fn(env, horizon, probe):
  """jit((params, seeds) -> (values, grads)), one rollout per seed, vmapped.

  values is [seed, k] and each grads leaf [seed, k, *param_shape], where k = 1
  (the return) or, with `probe`, 2 (the return, then the probe).
  """

  def rollout(params, seed):
    state = env.reset(jax.random.key(seed))

    def step(carry, _):
      state, alive = carry
      action = jnp.tanh(params['w'] @ state.obs + params['b'])
      state = env.step(state, action)
      # One episode only: rewards after the first done (e.g. hopper falling)
      # don't count. `done` is a discrete event, so no gradient flows through it.
      outs = jnp.stack([state.reward] + ([jnp.sum(state.obs ** 2)] if probe else []))
      outs = alive * outs
      alive = alive * (1.0 - jax.lax.stop_gradient(state.done))
      return (state, alive), outs

    _, outs = jax.lax.scan(step, (state, jnp.float32(1.0)), None, length=horizon)
    return outs.sum(0)

  def grad(params, seed):
    # The rollout's value rides along as aux, so the forward pass runs once.
    def differentiated(p):
      values = rollout(p, seed)
      return (values if probe else values[0]), values

    if probe:  # reverse mode over both outputs at once
      jac, values = jax.jacrev(differentiated, has_aux=True)(params)
      return values, jac
    # Plain jax.grad of the return: the cheapest graph, so the timings are fair.
    g, values = jax.grad(differentiated, has_aux=True)(params)
    return values, jax.tree.map(lambda x: x[None], g)

  return jax.jit(jax.vmap(grad, in_axes=(None, 0)))


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
  params = init_policy(jax.random.key(policy_seed), env.observation_size,
                       env.action_size)
  fn = make_grad_fn(env, horizon, probe)
  seeds = jnp.asarray(seeds, dtype=jnp.uint32)

  t0 = time.perf_counter()
  values, grads = jax.block_until_ready(fn(params, seeds))
  compile_s = time.perf_counter() - t0
  t0 = time.perf_counter()
  jax.block_until_ready(fn(params, seeds))
  run_s = time.perf_counter() - t0

  # One flat gradient vector per (seed, output): join the leaves' parameter axes.
  n, k = values.shape
  flat = np.concatenate([np.asarray(l).reshape(n, k, -1)
                         for l in jax.tree.leaves(grads)], axis=-1)
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
  p.add_argument('--out', default=None, help='also write the JSON here')
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
        with open(args.out, 'w') as f:
          json.dump(rows, f, indent=1)
  print(json.dumps(rows, indent=1))


if __name__ == '__main__':
  main()

"""Are Brax's backends differentiable? Policy gradients through a short rollout.

For each (env, backend) this differentiates the undiscounted H-step return of a
linear policy a = tanh(W obs + b), from env.reset(key(seed)), with jax.grad
through a jax.lax.scan over env.step, and reports whether the gradient is finite,
its global L2 norm and the return (median over seeds), plus how long the jitted
gradient took to compile and run. Some rewards carry no gradient (inverted
pendulum pays a constant 1 per step), so it also reports the gradient norm of a
state-dependent probe, sum_t ||obs_t||^2, which tests the dynamics themselves.

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


def make_grad_fn(env, horizon):
  """jit((params, seeds) -> (values, jacobians)), one rollout per seed, vmapped.

  values[:, 0] is the return, values[:, 1] the probe; each jacobian leaf is
  [seed, (return|probe), *param_shape].
  """

  def episode_return(params, seed):
    state = env.reset(jax.random.key(seed))

    def step(carry, _):
      state, alive = carry
      action = jnp.tanh(params['w'] @ state.obs + params['b'])
      state = env.step(state, action)
      # One episode only: rewards after the first done (e.g. hopper falling)
      # don't count. `done` is a discrete event, so no gradient flows through it.
      out = alive * jnp.stack([state.reward, jnp.sum(state.obs ** 2)])
      alive = alive * (1.0 - jax.lax.stop_gradient(state.done))
      return (state, alive), out

    _, outs = jax.lax.scan(step, (state, jnp.float32(1.0)), None, length=horizon)
    values = outs.sum(0)
    return values, values  # (differentiated, aux = the values themselves)

  # Two outputs -> reverse mode over both; cheaper than two separate scans.
  jac = lambda params, seed: jax.jacrev(episode_return, has_aux=True)(params, seed)[::-1]
  return jax.jit(jax.vmap(jac, in_axes=(None, 0)))


def measure(env_name, backend, seeds, horizon, policy_seed):
  # No auto-reset: we want a single episode, and it keeps the reset out of the graph.
  env = envs.make('brax/' + env_name, backend=backend, episode_length=horizon,
                  auto_reset=False)
  params = init_policy(jax.random.key(policy_seed), env.observation_size,
                       env.action_size)
  fn = make_grad_fn(env, horizon)
  seeds = jnp.asarray(seeds, dtype=jnp.uint32)

  t0 = time.perf_counter()
  values, grads = jax.block_until_ready(fn(params, seeds))
  compile_s = time.perf_counter() - t0
  t0 = time.perf_counter()
  jax.block_until_ready(fn(params, seeds))
  run_s = time.perf_counter() - t0

  # Flatten every leaf to [seed, output, -1] and join: one vector per (seed, output).
  flat = np.concatenate([np.asarray(l).reshape(len(seeds), 2, -1)
                         for l in jax.tree.leaves(grads)], axis=-1)
  finite = np.isfinite(flat).all(-1)  # [seed, output]
  norms = np.linalg.norm(flat, axis=-1)  # NaN where that gradient has a NaN
  returns = np.asarray(values)[:, 0]
  return {
      'finite': bool(finite[:, 0].all()),
      'grad_norm': float(np.median(norms[:, 0])),
      'return': float(np.median(returns)),
      'probe_finite': bool(finite[:, 1].all()),
      'probe_grad_norm': float(np.median(norms[:, 1])),
      'grad_norms': norms[:, 0].tolist(),
      'returns': returns.tolist(),
      'compile_s': round(compile_s, 2),
      'run_s': round(run_s, 3),
  }


def main():
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  p.add_argument('--envs', default=','.join(ENVS))
  p.add_argument('--backends', default=','.join(BACKENDS))
  p.add_argument('--seeds', default='0,1,2', help='reset seeds, comma-separated')
  p.add_argument('--horizon', type=int, default=32)
  p.add_argument('--policy_seed', type=int, default=0)
  p.add_argument('--out', default=None, help='also write the JSON here')
  args = p.parse_args()
  seeds = [int(s) for s in args.seeds.split(',')]

  rows = []
  for env_name in args.envs.split(','):
    for backend in args.backends.split(','):
      row = {'env': env_name, 'backend': backend, 'horizon': args.horizon,
             'seeds': seeds}
      try:
        row.update(measure(env_name, backend, seeds, args.horizon, args.policy_seed))
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

"""What the experiment scripts share (no script imports another): step counts to a
return (comparison of two methods' learning curves), wall-clock timing of compiled
functions, return gradients of a linear policy through an env's rollout, and
running brax.training's own train() loops on this package's envs.

## Steps to a return

A step ratio between two methods compares each method's *own* steps to one
target: (steps the candidate first reaches it) / (steps the baseline first reaches
it), never a method's steps over the other's whole training budget. Targets come
from the baseline's mean curve: its final return and fractions of its improvement
(first to final evaluation), since a final mean over a few seeds is noisy. Each
seed's own first step is kept too, for the spread over seeds; curves are also
quoted at several step counts, not only where one method looks best. Rows are
metric rows as `mbrl_jax.harness.metrics.read` returns them (env_steps, seed_index,
key).

## brax.training's train() loops

brax 0.14.2's train loops call `jax.device_put_replicated`, which jax 0.10 removed;
`restore_device_put_replicated` defines it again as stacking one copy per device
(then `jax.pmap` runs over that axis, as before). It changes the `jax` module for the
whole process, so only scripts that run brax's loops call it. `wrap_env` is the
`wrap_env_fn` to give them: brax's episode limit, then this package's auto-reset (a
fresh random start after every episode, where brax's own replays each env's first
start), then vmap.

## Return gradients through a rollout

brax_gradients.py, dmc_gradients.py and dmc_nan_trace.py differentiate the
undiscounted H-step return of one policy, a = tanh(W obs + b) (`linear_action`,
small W from `init_linear_policy`), with jax.grad through a lax.scan over
env.step (`make_grad_fn`).
"""

import sys
import time
from typing import Dict, List, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from absl import flags

# The package (and with it brax) is imported where it is used: scripts import this
# module before their flags are parsed, and `--help` should not wait for brax.

FRACTIONS = (1.0, 0.95, 0.9)


def first_where(steps: Sequence[int], holds: Sequence[bool]) -> Optional[int]:
  """The first step whose `holds` entry is true, or None if none is."""
  reached = np.nonzero(np.asarray(holds, bool))[0]
  return int(np.asarray(steps)[reached[0]]) if len(reached) else None


def first_reaching(steps: Sequence[int], values: Sequence[float], target: float
                   ) -> Optional[int]:
  """The first step whose value is >= target, or None if none is."""
  return first_where(steps, np.asarray(values) >= target)


def seed_curves(rows: List[Dict], key: str) -> Dict[int, tuple]:
  """seed_index -> (env_steps, values), sorted by steps, rows without `key` skipped."""
  by_seed: Dict[int, Dict[int, float]] = {}
  for row in rows:
    if row.get(key) is not None:
      by_seed.setdefault(row['seed_index'], {})[row['env_steps']] = row[key]
  return {seed: (np.array(sorted(points)), np.array([points[s] for s in sorted(points)]))
          for seed, points in sorted(by_seed.items())}


def steps_to_target(rows: List[Dict], key: str, target: float) -> Dict:
  """First step the mean curve reaches `target`, and each seed's own first step."""
  from mbrl_jax.harness import plotting
  steps, mean, _, _, _ = plotting.curve(rows, key)
  return {'mean_curve': first_reaching(steps, mean, target),
          'seeds': [first_reaching(s, v, target) for s, v in seed_curves(rows, key).values()]}


def _ratio(a: Optional[int], b: Optional[int]) -> Optional[float]:
  return None if a is None or b is None else round(a / b, 3)


def seed_ratio_range(candidate: List[Optional[int]], baseline: List[Optional[int]]):
  """[min, max] of candidate_i / baseline_j over seed pairs where both reached the
  target (seeds of two methods are not paired), or None if no pair did."""
  ratios = [a / b for a in candidate if a is not None for b in baseline if b is not None]
  return [round(min(ratios), 3), round(max(ratios), 3)] if ratios else None


def median_steps(steps: List[Optional[int]]) -> Optional[float]:
  """Median of per-seed steps, a seed that never reached the target counting as
  infinitely late; None when that median is infinite."""
  median = float(np.median([np.inf if s is None else s for s in steps]))
  return None if np.isinf(median) else median


def curve_at(rows: List[Dict], key: str, at_steps: Sequence[int]) -> List[Dict]:
  """Mean, min and max over seeds at the given env steps (those evaluated)."""
  from mbrl_jax.harness import plotting
  steps, mean, low, high, count = plotting.curve(rows, key)
  index = {int(s): i for i, s in enumerate(steps)}
  return [{'env_steps': int(s), 'mean': round(float(mean[index[s]]), 1),
           'min': round(float(low[index[s]]), 1), 'max': round(float(high[index[s]]), 1),
           'seeds': int(count[index[s]])} for s in at_steps if int(s) in index]


def compare(candidate: List[Dict], baseline: List[Dict], key: str = 'eval_return',
            fractions: Sequence[float] = FRACTIONS,
            at_steps: Optional[Sequence[int]] = None) -> Dict:
  """Steps each run needs to reach targets set by the baseline's mean curve.

  Returns a JSON-able dict: the baseline's first and final mean return, and per
  target: the target, each run's steps (mean curve and per seed), `step_ratio`
  (candidate / baseline, both on their mean curves), `median_seed_ratio` (of the
  medians of per-seed steps) and `seed_ratio_range`; plus
  both curves at `at_steps` (default: the candidate's evaluations at 1/4, 1/2,
  3/4 and all of its budget, and the baseline's final step).
  """
  from mbrl_jax.harness import plotting
  base_steps, base_mean, _, _, _ = plotting.curve(baseline, key)
  cand_steps, cand_mean, _, _, _ = plotting.curve(candidate, key)
  if not len(base_steps) or not len(cand_steps):
    raise ValueError(f'both runs need {key!r} rows to compare.')
  first, final = float(base_mean[0]), float(base_mean[-1])
  result = {'key': key, 'baseline_first': round(first, 1), 'baseline_final': round(final, 1),
            'baseline_budget': int(base_steps[-1]), 'candidate_budget': int(cand_steps[-1]),
            'candidate_final': round(float(cand_mean[-1]), 1), 'targets': []}
  for fraction in fractions:
    target = first + fraction * (final - first)
    cand = steps_to_target(candidate, key, target)
    base = steps_to_target(baseline, key, target)
    result['targets'].append({
        'fraction_of_baseline_improvement': fraction, 'target': round(target, 1),
        'candidate_steps': cand, 'baseline_steps': base,
        'step_ratio': _ratio(cand['mean_curve'], base['mean_curve']),
        'median_seed_ratio': _ratio(median_steps(cand['seeds']), median_steps(base['seeds'])),
        'seed_ratio_range': seed_ratio_range(cand['seeds'], base['seeds'])})
  if at_steps is None:
    budget = int(cand_steps[-1])
    wanted = [budget * q // 4 for q in (1, 2, 3, 4)]
    at_steps = sorted({int(cand_steps[np.argmin(np.abs(cand_steps - w))]) for w in wanted}
                      | {int(base_steps[-1])})
  result['at_steps'] = {'candidate': curve_at(candidate, key, at_steps),
                        'baseline': curve_at(baseline, key, at_steps)}
  return result


# --- flags that many scripts share ---------------------------------------------------

# Defined for the running script (module_name), so that its --helpshort lists them.

def define_out(default: str, what: str = 'the JSON', name: str = 'out') -> None:
  """--out (or --workdir): where the script writes. Defaults are under outputs/,
  which git ignores, so a re-run never overwrites a committed result."""
  flags.DEFINE_string(name, default, f'Where to write {what} (committed results live in '
                      'experiments/results/<experiment>/).', module_name=sys.argv[0])


def define_repeats(default: int = 3) -> None:
  """--repeats of a timing benchmark (see best_time)."""
  flags.DEFINE_integer('repeats', default, 'Timed runs; the fastest is kept.', lower_bound=1,
                       module_name=sys.argv[0])


# --- timing ----------------------------------------------------------------------

def best_time(fn, *args, repeats: int = 3) -> float:
  """Seconds of the fastest of `repeats` calls, after one call to compile and warm up."""
  jax.block_until_ready(fn(*args))
  best = float('inf')
  for _ in range(repeats):
    start = time.perf_counter()
    jax.block_until_ready(fn(*args))
    best = min(best, time.perf_counter() - start)
  return best


def first_and_second_call_seconds(fn, *args):
  """(the first call's output, its seconds (compile + run for a jitted fn), the
  seconds of a second call)."""
  start = time.perf_counter()
  out = jax.block_until_ready(fn(*args))
  first = time.perf_counter() - start
  start = time.perf_counter()
  jax.block_until_ready(fn(*args))
  return out, first, time.perf_counter() - start


# --- brax.training loops --------------------------------------------------------

def restore_device_put_replicated() -> None:
  """Defines jax.device_put_replicated (removed in jax 0.10) when it is missing."""
  if not hasattr(jax, 'device_put_replicated'):
    jax.device_put_replicated = lambda x, devices: jax.tree.map(
        lambda a: jax.device_put(jnp.stack([a] * len(devices))), x)


def wrap_env(env, episode_length, action_repeat, randomization_fn=None):
  """brax.training's wrap_env_fn: episode limit, our auto-reset, vmap."""
  # Imported here: only the scripts that run brax's loops need brax's wrappers.
  from brax.envs.wrappers.training import EpisodeWrapper, VmapWrapper
  from mbrl_jax.envs.wrappers import AutoResetWrapper
  del randomization_fn
  return VmapWrapper(AutoResetWrapper(EpisodeWrapper(env, episode_length, action_repeat)))


# --- return gradients through a rollout ------------------------------------------

def init_linear_policy(key, obs_size: int, act_size: int, scale: float = 0.1) -> Dict:
  """{'w': [act, obs] scale * N(0, 1) / sqrt(obs_size), 'b': [act] zeros}."""
  # Small weights keep tanh out of saturation so the gradient isn't trivially 0.
  w = scale * jax.random.normal(key, (act_size, obs_size)) / np.sqrt(obs_size)
  return {'w': w, 'b': jnp.zeros(act_size)}


def linear_action(params: Dict, obs: jax.Array) -> jax.Array:
  """tanh(W obs + b), [act]."""
  return jnp.tanh(params['w'] @ obs + params['b'])


def make_grad_fn(env, horizon: int, probe: bool):
  """jit((params, seeds) -> (values, grads)), one rollout per seed, vmapped.

  Each rollout runs `horizon` steps of `linear_action` from env.reset(key(seed)) and
  sums the rewards up to and including the first done. values is [seed, k] and each
  grads leaf [seed, k, *param_shape], where k = 1 (the return) or, with `probe`, 2
  (the return, then the probe sum_t ||obs_t||^2 over the same steps, which has a
  gradient where the reward has none).
  """

  def rollout(params, seed):
    state = env.reset(jax.random.key(seed))

    def step(carry, _):
      state, alive = carry
      state = env.step(state, linear_action(params, state.obs))
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


def flat_gradients(grads) -> np.ndarray:
  """make_grad_fn's grads as one vector per (seed, output): [seed, k, P], the leaves'
  parameter axes joined in tree order."""
  leaves = [np.asarray(leaf) for leaf in jax.tree.leaves(grads)]
  n, k = leaves[0].shape[:2]
  return np.concatenate([leaf.reshape(n, k, -1) for leaf in leaves], axis=-1)

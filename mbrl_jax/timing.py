"""Wall-clock timing of compiled functions, for the benchmarks in experiments/."""

import time

import jax


def best_time(fn, *args, repeats: int = 3) -> float:
  """Seconds of the fastest of `repeats` calls, after one call to compile and warm up."""
  jax.block_until_ready(fn(*args))
  best = float('inf')
  for _ in range(repeats):
    start = time.perf_counter()
    jax.block_until_ready(fn(*args))
    best = min(best, time.perf_counter() - start)
  return best

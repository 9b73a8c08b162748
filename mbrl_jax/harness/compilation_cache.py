"""JAX's persistent compilation cache, kept under ~/.cache (never in the repo)."""

import os

import jax

DEFAULT_DIR = os.path.join('~', '.cache', 'mbrl_jax', 'jax_compilation_cache')


def enable(path: str = DEFAULT_DIR, min_compile_seconds: float = 0.5) -> str:
  """Reuse compiled programs across processes; returns the cache directory."""
  path = os.path.expanduser(os.environ.get('MBRL_JAX_COMPILATION_CACHE', path))
  os.makedirs(path, exist_ok=True)
  jax.config.update('jax_compilation_cache_dir', path)
  jax.config.update('jax_persistent_cache_min_compile_time_secs', min_compile_seconds)
  jax.config.update('jax_persistent_cache_min_entry_size_bytes', 0)
  return path

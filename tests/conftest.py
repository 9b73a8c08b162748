import os

# Tests run on CPU, whatever the machine has.
os.environ.setdefault('JAX_PLATFORMS', 'cpu')
# LLVM at optimisation level 1 compiles the suite's programs about 40% faster than
# XLA's default, and runs its learning tests as fast (BUILD_NOTES.md, "Tests"). The
# launcher subprocesses inherit it.
if '--xla_backend_optimization_level' not in os.environ.get('XLA_FLAGS', ''):
  os.environ['XLA_FLAGS'] = (os.environ.get('XLA_FLAGS', '') +
                             ' --xla_backend_optimization_level=1').strip()

from mbrl_jax.harness import compilation_cache  # noqa: E402

compilation_cache.enable()

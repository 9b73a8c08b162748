import os

# Tests run on CPU, whatever the machine has.
os.environ.setdefault('JAX_PLATFORMS', 'cpu')
# LLVM at optimisation level 1 and XLA's older CPU fusion code generator compile the
# suite's programs in about half the time of XLA's defaults, and run its learning
# tests as fast (BUILD_NOTES.md, "Tests"). The launcher subprocesses inherit them.
TEST_XLA_FLAGS = ('--xla_backend_optimization_level=1', '--xla_cpu_use_fusion_emitters=false')
for flag in TEST_XLA_FLAGS:
  if flag.split('=')[0] not in os.environ.get('XLA_FLAGS', ''):
    os.environ['XLA_FLAGS'] = (os.environ.get('XLA_FLAGS', '') + ' ' + flag).strip()

from mbrl_jax.harness import compilation_cache  # noqa: E402

compilation_cache.enable()

import os

# Tests run on CPU, whatever the machine has.
os.environ.setdefault('JAX_PLATFORMS', 'cpu')

from mbrl_jax.harness import compilation_cache  # noqa: E402

compilation_cache.enable()

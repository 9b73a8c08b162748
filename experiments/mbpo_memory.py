"""MBPO's memory at a preset's settings on a task's dims: the bytes of its TrainState
by part (the real buffer, the model pool, the rest), the process's peak RSS after
building it, and the seconds to save it to an Orbax checkpoint and restore it (the
launcher's Checkpointer). Prints JSON and writes it to outputs/mbpo/mbpo_memory.json.

  PYTHONPATH=. python experiments/mbpo_memory.py --env=brax/halfcheetah --version=paper
"""

import resource
import tempfile
import time

import jax
import numpy as np
from absl import app, flags

import common

from mbrl_jax import agents, envs
from mbrl_jax.agents import mbpo
from mbrl_jax.harness import checkpoint, metrics

flags.DEFINE_string('env', 'brax/halfcheetah', 'Env name.')
flags.DEFINE_string('version', 'paper', "configs/mbpo.py version: 'paper' or 'cpu'.")
common.define_out('outputs/mbpo/mbpo_memory.json')
FLAGS = flags.FLAGS


def nbytes(tree) -> int:
  return int(sum(np.prod(x.shape) * x.dtype.itemsize for x in jax.tree.leaves(tree)))


def peak_rss_mib() -> float:
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def main(_):
  config = agents.preset_from_spec('mbpo', FLAGS.version)
  env = envs.make(FLAGS.env)
  agent = mbpo.make(config, env)
  rss_before = peak_rss_mib()
  state = jax.jit(agent.init)(jax.random.PRNGKey(0))
  jax.block_until_ready(state)
  rss_built = peak_rss_mib()
  parts = {'real_buffer': nbytes(state.buffer), 'model_pool': nbytes(state.pool),
           'model_and_optimizer': nbytes((state.params.model, state.model_opt)),
           'sac_and_optimizer': nbytes((state.params.sac, state.sac_opt))}
  total = nbytes(state)
  parts['rest'] = total - sum(parts.values())
  with tempfile.TemporaryDirectory() as workdir:
    saver = checkpoint.Checkpointer(workdir)
    start = time.perf_counter()
    saver.save(1, state, {})
    save_s = time.perf_counter() - start
    abstract = jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype), state)
    start = time.perf_counter()
    _, restored, _ = saver.restore_latest(abstract)
    jax.block_until_ready(restored)
    restore_s = time.perf_counter() - start
    saver.close()
  same = all(bool((a == b).all()) for a, b in zip(jax.tree.leaves(state),
                                                  jax.tree.leaves(restored)))
  metrics.report({
      'env': FLAGS.env, 'version': FLAGS.version,
      'dims': {'obs': env.observation_size, 'action': env.action_size},
      'settings': {'buffer_capacity': config.buffer_capacity,
                   'rollouts_per_step': config.rollouts_per_step,
                   'refit_every': config.refit_every,
                   'max_rollout_length': config.rollout_schedule[3],
                   'model_retain_epochs': config.model_retain_epochs,
                   'model': f'{config.model.num_members} x {config.model.num_layers} x '
                            f'{config.model.width}'},
      'train_state_mib': round(total / 2**20, 1),
      'parts_mib': {k: round(v / 2**20, 1) for k, v in parts.items()},
      'peak_rss_mib_before_init': round(rss_before),
      'peak_rss_mib_after_init': round(rss_built),
      'peak_rss_mib_after_checkpoint': round(peak_rss_mib()),
      'checkpoint_save_s': round(save_s, 2), 'checkpoint_restore_s': round(restore_s, 2),
      'restored_equal': same}, FLAGS.out)


if __name__ == '__main__':
  app.run(main)

"""The guarantees every agent gives, tested from the registry: every agent and every
preset, at its 'tiny' size, so an agent is covered the moment it is registered.

- resume: the state goes through a checkpoint (saved, verified and restored into
  the structure `init` makes) and training goes on from it bit for bit (the runner's
  resume of a SIGKILLed launcher, metrics included, is tested in tests/harness);
- non-finite steps: a chunk with a NaN or inf action or observation is refused:
  its state is the one before it (the key aside), it says so in its metrics, and
  no NaN reaches an env, a buffer or the params;
- a learning rate far too large (1e30) grows the params finite but huge, so the
  policy emits NaN actions: none of them reaches the real replay buffer.
"""

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest
from brax.envs.base import Wrapper

from mbrl_jax import agents, envs
from mbrl_jax.agents.base import refuse_nonfinite
from mbrl_jax.harness import checkpoint
from tests.helpers import as_restored, assert_trees_equal

EPISODE = 20  # the 'tiny' sizes' episode length
CASES = [(agent, preset) for agent in agents.names() for preset in agents.presets(agent)]
IDS = [f'{agent}-{preset}' for agent, preset in CASES]


def tiny_run(agent_name, preset, config=None, env=None):
  config = config or agents.preset(agent_name, preset, 'tiny')
  run_config = {'agent': agent_name, 'env': 'pendulum', 'env_kwargs': {'episode_length': EPISODE},
                'config': config.to_dict()}
  agent, default_env = agents.build(run_config)
  if env is not None:
    agent = agents.get(agent_name).make(ml_collections.ConfigDict(config.to_dict()), env)
  return agent, env or default_env, run_config


class NanObservation(Wrapper):
  """Where `poison` is true, every observation after a step is NaN (the reset's is
  not). `poison` is an argument of the compiled chunk, so the clean run and the
  poisoned one share one compilation."""

  def __init__(self, env, poison):
    super().__init__(env)
    self.poison = poison

  def step(self, state, action):
    state = self.env.step(state, action)
    obs = jnp.where(self.poison, jnp.nan, state.obs)
    info = dict(state.info)
    if 'next_obs' in info:
      info['next_obs'] = jnp.where(self.poison, jnp.nan, info['next_obs'])
    return state.replace(obs=obs, info=info)


def guarded_chunk(agent_name, config):
  """chunk(states, poison): the agent's refuse_nonfinite chunk, vmapped over seeds and
  jitted, on pendulum poisoned where `poison` is true (the agent is built inside the
  trace, around the traced flag)."""
  def chunk(state, poison):
    env = NanObservation(envs.make('pendulum', episode_length=EPISODE), poison)
    agent = agents.get(agent_name).make(ml_collections.ConfigDict(config.to_dict()), env)
    return refuse_nonfinite(agent.train_chunk)(state)
  return jax.jit(jax.vmap(chunk, in_axes=(0, None)))


@pytest.mark.parametrize('agent_name,preset', CASES, ids=IDS)
def test_the_state_resumes_from_a_checkpoint_and_nonfinite_chunks_are_refused(
    tmp_path, agent_name, preset):
  """Two seeds (a vmap, as the runner runs them). A clean env: no chunk is refused;
  the state after two chunks goes through a checkpoint (save, verified restore into
  the structure `init` makes) and the next chunk from the restored state equals the
  one from the state itself, bit for bit. NaN observations: every chunk is refused
  and leaves the state as it was, but for its key."""
  keys = jax.random.split(jax.random.PRNGKey(0), 2)
  agent, _, run_config = tiny_run(agent_name, preset)  # the launcher's checks of the config
  chunk = guarded_chunk(agent_name, ml_collections.ConfigDict(run_config['config']))
  clean, poisoned = jnp.asarray(False), jnp.asarray(True)
  initial = as_restored(jax.jit(jax.vmap(agent.init))(keys))
  state = initial
  for _ in range(2):
    after, metrics = chunk(state, clean)
    np.testing.assert_array_equal(metrics['refused'], [0.0, 0.0])
    np.testing.assert_array_equal(metrics['nonfinite_steps'], [0.0, 0.0])
    assert int(after.env_steps[0]) == int(state.env_steps[0]) + agent.steps_per_chunk
    state = after
  saver = checkpoint.Checkpointer(str(tmp_path))
  saver.save(2, state, {'chunk': 2})
  step, restored, _ = saver.restore_latest(jax.eval_shape(jax.vmap(agent.init), keys))
  saver.close()
  assert step == 2
  assert_trees_equal(chunk(restored, clean), chunk(state, clean))

  state = initial
  for _ in range(2):
    after, metrics = chunk(state, poisoned)
    np.testing.assert_array_equal(metrics['refused'], [1.0, 1.0])
    assert (np.asarray(metrics['nonfinite_steps']) > 0).all()
    assert not np.array_equal(np.asarray(after.key), np.asarray(state.key))
    assert_trees_equal(after.replace(key=state.key), state)
    state = after


@pytest.mark.parametrize('agent_name', ['sac', 'mbpo'])
def test_a_huge_learning_rate_never_writes_nan_into_the_replay_buffer(agent_name):
  """learning_rate=1e30 (SAC's three optimizers): no step's gradient is non-finite
  at first, so no update is skipped, but the params it makes are huge and the
  policy's actions NaN from the second chunk on (seed 0); those chunks are refused."""
  config = agents.preset(agent_name, size='tiny')
  config.learning_rate = 1e30
  agent, _, _ = tiny_run(agent_name, agents.presets(agent_name)[0], config)
  chunk = jax.jit(jax.vmap(refuse_nonfinite(agent.train_chunk)))
  state = jax.jit(jax.vmap(agent.init))(jax.random.split(jax.random.PRNGKey(0), 2))
  refused = []
  for _ in range(3):
    state, metrics = chunk(state)
    refused.append(np.asarray(metrics['refused']))
  experience = state.buffer.experience
  for field in ('obs', 'action', 'next_obs'):
    assert np.isfinite(np.asarray(getattr(experience, field))).all(), field
  assert np.any(refused), 'the policy never emitted a NaN action: the test proves nothing'

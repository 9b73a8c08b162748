"""Episode limit and auto-reset, on a JAX-native task and on a small Brax env."""

import jax
import jax.numpy as jnp
import numpy as np

from mbrl_jax import envs


def test_auto_reset_starts_fresh_episodes_and_keeps_final_observation():
  env = envs.make('pendulum', episode_length=5)
  task = env.unwrapped
  state = env.reset(jax.random.key(0))
  step = jax.jit(env.step)
  starts, action = [state.obs], jnp.array([0.5])
  for t in range(1, 16):
    before = state.obs
    state = step(state, action)
    # The true next observation is kept, also on the step that ends an episode.
    np.testing.assert_allclose(state.info['next_obs'], task.dynamics(before, action),
                               rtol=1e-6)
    ended = t % 5 == 0
    assert bool(state.done) == ended
    assert bool(state.info['truncation']) == ended
    if ended:
      starts.append(state.obs)
      assert int(state.info['steps']) == 0
      assert not np.allclose(state.obs, state.info['next_obs'])
    else:
      np.testing.assert_array_equal(state.obs, state.info['next_obs'])
      assert int(state.info['steps']) == t % 5
  # Each episode begins from a new random state (brax's wrapper reuses the first).
  starts = np.stack(starts)
  assert len(starts) == 4
  assert np.min(np.abs(starts[1:] - starts[:1]).sum(-1)) > 1e-3
  assert np.min(np.abs(starts[2:] - starts[1:-1]).sum(-1)) > 1e-3


def test_without_auto_reset_the_episode_just_reports_done():
  env = envs.make('pendulum', episode_length=3, auto_reset=False)
  state = env.reset(jax.random.key(0))
  for _ in range(3):
    prev = state.obs
    state = env.step(state, jnp.zeros(1))
  assert bool(state.done)
  np.testing.assert_allclose(state.obs, env.unwrapped.dynamics(prev, jnp.zeros(1)),
                             rtol=1e-6)


def test_brax_env_by_name_has_the_same_interface():
  env = envs.make('brax/inverted_pendulum', backend='positional', episode_length=4)
  assert env.observation_size == 4 and env.action_size == 1
  n = 3
  state = jax.jit(jax.vmap(env.reset))(jax.random.split(jax.random.key(0), n))
  step = jax.jit(jax.vmap(env.step))
  dones = []
  for _ in range(8):
    state = step(state, jnp.zeros((n, 1)))
    dones.append(np.asarray(state.done))
  dones = np.stack(dones)
  assert state.obs.shape == (n, 4)
  # Upright with no push, the pole does not fall within 4 steps: episodes end by
  # the time limit, at steps 4 and 8, then restart.
  np.testing.assert_array_equal(dones[:, 0], [0, 0, 0, 1, 0, 0, 0, 1])
  assert np.all(np.asarray(state.info['steps']) == 0)


def test_brax_unknown_kwarg_lists_valid_ones():
  try:
    envs.make('brax/inverted_pendulum', backnd='positional')
  except ValueError as err:
    assert 'backend' in str(err) and '\n' not in str(err)
  else:
    raise AssertionError('expected a ValueError')


def test_our_table_of_brax_envs_is_brax_registry():
  """brax keeps its registry private (`brax.envs._envs`); the package has its own
  table, and this test reads brax's to notice when an upgrade changes it."""
  from brax import envs as brax_envs
  assert envs.BRAX_ENVS == brax_envs._envs  # pylint: disable=protected-access


def test_episode_decisions_count_agent_steps_under_action_repeat():
  # brax's EpisodeWrapper counts episode_length in env steps, action_repeat per decision.
  from mbrl_jax.data import acting
  from mbrl_jax import data
  for length, repeat, decisions in [(200, 4, 50), (201, 4, 51), (200, 1, 200)]:
    env = envs.make('pendulum', episode_length=length, action_repeat=repeat)
    assert data.episode_decisions(env) == decisions
    state = data.reset(env, jax.random.key(0), 2)
    _, experience = acting.unroll(env, state, lambda obs, key: jnp.zeros((2, 1)),
                                  jax.random.key(1), 2 * decisions)
    done = np.asarray(experience.transition.done)[:, 0]
    np.testing.assert_array_equal(np.flatnonzero(done), [decisions - 1, 2 * decisions - 1])

"""The arm seen through a camera (envs.pixels, 'visual_arm'): the observation is the
rendered image and the joint state, the state steps as the bare task's does, and
auto-reset restarts the hidden state with the episode."""

import jax
import jax.numpy as jnp
import numpy as np

from mbrl_jax.data import acting
from mbrl_jax import data, envs
from mbrl_jax.envs import rendering
from mbrl_jax.envs.base import task_of


def test_observation_is_the_image_and_joints_of_the_hidden_state():
  env = envs.make('visual_arm', goals=((1.2, 0.8),), joint_noise=0.0)
  assert env.observation_size == 64 * 64 * 3 + 6 and env.action_size == 2
  state = data.reset(env, jax.random.PRNGKey(0), 3)
  full = state.info['state']
  assert full.shape == (3, 8) and state.obs.shape == (3, 64 * 64 * 3 + 6)
  image, joints = env.split(state.obs)
  np.testing.assert_allclose(image, rendering.render_batch(full), atol=1e-6)
  np.testing.assert_array_equal(joints, full[:, :6])
  np.testing.assert_allclose(full[:, 6:], np.tile([1.2, 0.8], (3, 1)), rtol=1e-6)  # pixels only
  assert task_of(env) is None and task_of(envs.make('two_link_arm')) is not None


def test_hidden_state_steps_as_the_task_and_resets_with_the_episode():
  """20 steps of random torques: the hidden state follows the bare task's dynamics;
  with 8-step episodes the state after each reset is a fresh start (at rest), and
  the transition that ends an episode keeps the true next observation."""
  env = envs.make('visual_arm', episode_length=8)
  task = envs.make('two_link_arm').unwrapped
  state = data.reset(env, jax.random.PRNGKey(1), 2)
  step = jax.jit(lambda s, a: acting.env_step(env, s, a))
  actions = jax.random.uniform(jax.random.PRNGKey(2), (20, 2, 2), minval=-1, maxval=1)
  for t in range(20):
    before = state.info['state']
    state, experience = step(state, actions[t])
    after = task.dynamics(before, actions[t])
    tr = experience.transition
    np.testing.assert_allclose(tr.next_obs, env.observe(after), atol=1e-5)
    if (t + 1) % 8 == 0:
      assert bool(tr.truncation.all())
      np.testing.assert_array_equal(state.info['state'][:, 4:6], np.zeros((2, 2)))
      np.testing.assert_allclose(state.obs, env.observe(state.info["state"]), atol=1e-5)
    else:
      np.testing.assert_allclose(state.info['state'], after, atol=1e-5)

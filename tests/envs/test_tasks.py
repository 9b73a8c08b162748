"""The JAX-native tasks: interface, determinism, physics and rewards against
independent references (gym's formulas, MuJoCo, energy conservation), and
gradients against finite differences."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mbrl_jax import envs

TASK_NAMES = sorted(envs.TASKS)


def rollout(env, key, actions):
  """Observations and rewards of one episode driven by a fixed action sequence."""
  def body(state, action):
    state = env.step(state, action)
    return state, (state.obs, state.reward)
  return jax.lax.scan(body, env.reset(key), actions)[1]


@pytest.mark.parametrize('name', TASK_NAMES)
def test_shapes_jit_vmap_and_determinism(name):
  env = envs.make(name)
  n, horizon = 3, 12
  keys = jax.random.split(jax.random.key(0), n)
  actions = jax.random.uniform(jax.random.key(1), (n, horizon, env.action_size),
                               minval=-1.0, maxval=1.0)
  run = jax.jit(jax.vmap(lambda k, a: rollout(env, k, a)))
  obs, rew = run(keys, actions)
  assert obs.shape == (n, horizon, env.observation_size)
  assert rew.shape == (n, horizon)
  assert obs.dtype == jnp.float32 and rew.dtype == jnp.float32
  assert np.all(np.isfinite(obs)) and np.all(np.isfinite(rew))
  obs_again, rew_again = run(keys, actions)
  np.testing.assert_array_equal(obs, obs_again)
  np.testing.assert_array_equal(rew, rew_again)
  other, _ = run(jax.random.split(jax.random.key(7), n), actions)
  assert not np.allclose(obs, other)  # another key, another start


@pytest.mark.parametrize('name', TASK_NAMES)
def test_step_matches_pure_functions(name):
  """step() is dynamics + reward_fn + termination_fn on the clipped action, and
  cost(x, u, t) is minus that reward."""
  env = envs.make(name, auto_reset=False)
  task = env.unwrapped
  state = env.reset(jax.random.key(3))
  action = 5.0 * jnp.ones(env.action_size)  # beyond every task's bound but linear's
  nxt = env.step(state, action)
  clipped = task.clip_action(action)
  np.testing.assert_allclose(nxt.obs, task.dynamics(state.obs, clipped), rtol=1e-6)
  np.testing.assert_allclose(nxt.reward, task.reward_fn(state.obs, clipped, nxt.obs),
                             rtol=1e-6)
  np.testing.assert_allclose(task.cost(state.obs, action, 0), -nxt.reward, rtol=1e-6)
  # Pure functions accept batches.
  batch_obs = jnp.stack([state.obs, state.obs])
  batch_act = jnp.stack([clipped, clipped])
  np.testing.assert_allclose(task.dynamics(batch_obs, batch_act)[1], nxt.obs, rtol=1e-6)
  assert task.reward_fn(batch_obs, batch_act, batch_obs).shape == (2,)
  assert task.termination_fn(batch_obs, batch_act, batch_obs).shape == (2,)


# --- pendulum: gym Pendulum-v1 written out in numpy ---------------------------------

def gym_pendulum_step(th, thdot, u):
  u = np.clip(u, -2.0, 2.0)
  norm_th = ((th + np.pi) % (2 * np.pi)) - np.pi
  cost = norm_th**2 + 0.1 * thdot**2 + 0.001 * u**2
  newthdot = np.clip(thdot + (3 * 10.0 / 2 * np.sin(th) + 3.0 * u) * 0.05, -8, 8)
  return th + newthdot * 0.05, newthdot, -cost


def test_pendulum_matches_gym_formulas():
  task = envs.make('pendulum').unwrapped
  rng = np.random.default_rng(0)
  for _ in range(20):
    th, thdot, u = rng.uniform(-6, 6), rng.uniform(-8, 8), rng.uniform(-3, 3)
    obs = jnp.array([np.cos(th), np.sin(th), thdot], jnp.float32)
    act = task.clip_action(jnp.array([u], jnp.float32))
    new_th, new_thdot, reward = gym_pendulum_step(th, thdot, u)
    np.testing.assert_allclose(task.dynamics(obs, act),
                               [np.cos(new_th), np.sin(new_th), new_thdot], atol=2e-5)
    np.testing.assert_allclose(task.reward_fn(obs, act, obs), reward, rtol=1e-5, atol=1e-5)
  assert task.episode_length == 200
  np.testing.assert_array_equal(task.action_bounds, ([-2.0], [2.0]))


# --- cartpole: the PETS MuJoCo model ---------------------------------------------

PETS_CARTPOLE_XML = """
<mujoco>
  <compiler inertiafromgeom="true"/>
  <default>
    <joint armature="0" damping="1" limited="true"/>
    <geom contype="0"/>
    <motor ctrlrange="-3 3" ctrllimited="true"/>
  </default>
  <option gravity="0 0 -9.81" integrator="RK4" timestep="0.02"/>
  <worldbody>
    <body name="cart">
      <joint name="slider" type="slide" axis="1 0 0" range="-2.5 2.5"/>
      <geom type="capsule" size="0.1 0.1" quat="0.707 0 0.707 0"/>
      <body name="pole">
        <joint name="hinge" type="hinge" axis="0 1 0" limited="false"/>
        <geom type="capsule" fromto="0 0 0 0.001 0 -0.6" size="0.049 0.3"/>
      </body>
    </body>
  </worldbody>
  <actuator><motor joint="slider" gear="100"/></actuator>
</mujoco>
"""


@pytest.mark.parametrize('start,push', [
    ([0.1, 0.4, 0.3, -1.0], 0.0),   # free swinging in the middle of the rail
    ([2.0, 0.3, 1.0, -0.5], 1.5),   # driven into the rail limit at x = 2.5
    ([-2.0, 2.0, -1.0, 0.5], -1.5),  # and into the other one
])
def test_cartpole_matches_mujoco_simulation_of_pets_model(start, push):
  mujoco = pytest.importorskip('mujoco')  # installed with brax
  model = mujoco.MjModel.from_xml_string(PETS_CARTPOLE_XML)
  data = mujoco.MjData(model)
  task = envs.make('cartpole_swingup').unwrapped
  np.testing.assert_allclose([task.cart_mass, task.pole_mass], model.body_mass[1:], rtol=1e-6)
  np.testing.assert_allclose(task.pole_inertia, model.body_inertia[2, 0], rtol=1e-6)
  step = jax.jit(task.dynamics)
  rng = np.random.default_rng(1)
  data.qpos[:], data.qvel[:] = start[:2], start[2:]
  obs = jnp.array(start, jnp.float32)
  largest_x = 0.0
  for t in range(100):  # 4 seconds
    a = np.clip(rng.uniform(-0.5, 0.5, size=1) + (push if t < 50 else 0.0), -3, 3)
    data.ctrl[:] = a
    mujoco.mj_step(model, data, nstep=2)  # frame_skip 2, as in PETS
    obs = step(obs, jnp.asarray(a, jnp.float32))
    np.testing.assert_allclose(obs, np.concatenate([data.qpos, data.qvel]), atol=2e-4)
    largest_x = max(largest_x, abs(float(data.qpos[0])))
  assert (largest_x > 2.5) == (push != 0.0)  # the limit was (or was not) reached


def test_cartpole_reward_is_pets_formula():
  task = envs.make('cartpole_swingup').unwrapped
  rng = np.random.default_rng(2)
  for _ in range(10):
    nxt, a = rng.normal(size=4), rng.uniform(-3, 3, size=1)
    tip = np.array([nxt[0] - 0.6 * np.sin(nxt[1]), -0.6 * np.cos(nxt[1])])
    expected = np.exp(-np.sum((tip - [0.0, 0.6])**2) / 0.36) - 0.01 * np.sum(a**2)
    got = task.reward_fn(jnp.zeros(4), jnp.asarray(a, jnp.float32), jnp.asarray(nxt, jnp.float32))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
  upright = jnp.array([0.0, np.pi, 0.0, 0.0])
  np.testing.assert_allclose(task.reward_fn(upright, jnp.zeros(1), upright), 1.0, rtol=1e-6)


# --- acrobot and two-link arm: energy conservation -------------------------------

def two_link_energy(q1, q2, v1, v2, m1, m2, l1, lc1, lc2, i1, i2, g):
  """Kinetic plus potential energy of a two-link chain, angles from hanging down
  (gravity along -y; g = 0 for the arm in the horizontal plane)."""
  c2 = np.cos(q2)
  m11 = i1 + i2 + m1 * lc1**2 + m2 * (l1**2 + lc2**2 + 2 * l1 * lc2 * c2)
  m12 = i2 + m2 * (lc2**2 + l1 * lc2 * c2)
  m22 = i2 + m2 * lc2**2
  kinetic = 0.5 * (m11 * v1**2 + 2 * m12 * v1 * v2 + m22 * v2**2)
  height1 = -lc1 * np.cos(q1)
  height2 = -l1 * np.cos(q1) - lc2 * np.cos(q1 + q2)
  return kinetic + g * (m1 * height1 + m2 * height2)


def angles_and_velocities(obs):
  obs = np.asarray(obs, np.float64)
  return (np.arctan2(obs[1], obs[0]), np.arctan2(obs[3], obs[2]), obs[4], obs[5])


@pytest.mark.parametrize('name,kwargs,gravity,torque', [
    ('acrobot_swingup', dict(dt=0.01), 9.8, [0.0]),
    ('acrobot_swingup', dict(dt=0.01), 9.8, [0.8]),
    ('two_link_arm', dict(dt=0.01, damping=0.0), 0.0, [0.0, 0.0]),
    ('two_link_arm', dict(dt=0.01, damping=0.0), 0.0, [0.3, -0.6]),
])
def test_two_link_dynamics_obey_work_energy_theorem(name, kwargs, gravity, torque):
  """Without friction, the change in energy equals the work of the joint torques:
  zero when unforced, sum_i tau_i * delta q_i under a constant torque (acrobot:
  elbow only)."""
  task = envs.make(name, **kwargs).unwrapped
  params = (task.m1, task.m2, task.l1, task.lc1, task.lc2, task.i1, task.i2, gravity)
  joint_torque = np.array([0.0] + torque if len(torque) == 1 else torque)
  with jax.enable_x64(True):
    q = np.array([1.0, -0.7])
    v1, v2 = 0.5, 1.5
    obs = jnp.array([np.cos(q[0]), np.sin(q[0]), np.cos(q[1]), np.sin(q[1]), v1, v2]
                    + [0.0] * (task.observation_size - 6))
    energy0 = two_link_energy(*q, v1, v2, *params)
    step = jax.jit(task.dynamics)
    travelled = np.zeros(2)  # unwrapped joint angle change
    for _ in range(200):
      new = step(obs, jnp.asarray(torque, jnp.float64))
      before = np.array(angles_and_velocities(obs)[:2])
      after = np.array(angles_and_velocities(new)[:2])
      travelled += (after - before + np.pi) % (2 * np.pi) - np.pi
      obs = new
    energy = two_link_energy(*angles_and_velocities(obs), *params)
  assert np.abs(travelled).sum() > 0.5  # it did move
  np.testing.assert_allclose(energy - energy0, joint_torque @ travelled, atol=1e-6)


def test_acrobot_reward_is_tip_height():
  task = envs.make('acrobot_swingup').unwrapped
  for q1, q2, height in [(0.0, 0.0, -2.0), (np.pi, 0.0, 2.0), (np.pi / 2, 0.0, 0.0),
                         (np.pi, np.pi, 0.0), (0.3, 0.4, -np.cos(0.3) - np.cos(0.7))]:
    obs = jnp.array([np.cos(q1), np.sin(q1), np.cos(q2), np.sin(q2), 0.0, 0.0], jnp.float32)
    np.testing.assert_allclose(task.reward_fn(obs, jnp.zeros(1), obs), height / 2, atol=1e-6)


def test_two_link_arm_tip_and_reward():
  task = envs.make('two_link_arm').unwrapped
  for q1, q2, tip in [(0.0, 0.0, (2.0, 0.0)), (np.pi / 2, 0.0, (0.0, 2.0)),
                      (0.0, np.pi / 2, (1.0, 1.0)), (np.pi / 2, -np.pi / 2, (1.0, 1.0))]:
    obs = jnp.array([np.cos(q1), np.sin(q1), np.cos(q2), np.sin(q2), 0, 0, 0.5, -0.5],
                    jnp.float32)
    np.testing.assert_allclose(task.tip_position(obs), tip, atol=1e-6)
    u = jnp.array([0.5, -1.0])
    expected = -((tip[0] - 0.5)**2 + (tip[1] + 0.5)**2) - 0.01 * 1.25
    np.testing.assert_allclose(task.reward_fn(obs, u, obs), expected, rtol=1e-5)


def test_two_link_arm_with_fixed_goals_draws_only_those():
  """goals= fixes the task to GPS's conditions: 400 resets give every listed goal
  (each 65 to 135 times: 100 expected, 4 sigma) and no other; joint_noise=0 starts
  the arm straight; bad values fail in one line."""
  from mbrl_jax import data
  from mbrl_jax.envs import two_link_arm
  env = envs.make('two_link_arm', goals=two_link_arm.TRAIN_GOALS, joint_noise=0.0)
  obs = np.asarray(data.reset(env, jax.random.PRNGKey(0), 400).obs)
  np.testing.assert_array_equal(obs[:, :6], np.tile([1, 0, 1, 0, 0, 0], (400, 1)))
  goals = np.asarray(two_link_arm.TRAIN_GOALS, np.float32)
  match = (np.abs(obs[:, None, 6:] - goals[None]).max(-1) < 1e-6)
  assert match.any(1).all(), 'a goal not in the list'
  assert (65 <= match.sum(0)).all() and (match.sum(0) <= 135).all(), match.sum(0)
  np.testing.assert_array_equal(obs, np.asarray(
      two_link_arm.straight_starts(goals[np.argmax(match, 1)])))
  with pytest.raises(ValueError, match='goals must be'):
    envs.make('two_link_arm', goals=(1.0, 2.0, 3.0))
  with pytest.raises(ValueError, match='joint_noise must be'):
    envs.make('two_link_arm', joint_noise=-0.1)


def test_point_mass_is_exact_double_integrator():
  task = envs.make('point_mass', goal=(0.5, -0.5)).unwrapped
  obs = jnp.array([0.1, 0.2, 0.3, -0.4])
  u = jnp.array([1.0, -0.5])
  dt = 0.05
  v = np.array([0.3, -0.4]) + dt * np.array([1.0, -0.5])
  p = np.array([0.1, 0.2]) + dt * v
  np.testing.assert_allclose(task.dynamics(obs, u), np.concatenate([p, v]), rtol=1e-6)
  expected = -((0.1 - 0.5)**2 + (0.2 + 0.5)**2) - 0.01 * 1.25
  np.testing.assert_allclose(task.reward_fn(obs, u, obs), expected, rtol=1e-6)


def test_linear_quadratic_exposes_matrices_and_quadratic_reward():
  task = envs.make('linear_quadratic').unwrapped
  rng = np.random.default_rng(3)
  x, u = rng.normal(size=4).astype(np.float32), rng.normal(size=2).astype(np.float32)
  np.testing.assert_allclose(task.dynamics(x, u), task.A @ x + task.B @ u, rtol=1e-5)
  np.testing.assert_allclose(task.reward_fn(x, u, x), -(x @ task.Q @ x + u @ task.R @ u),
                             rtol=1e-5)
  np.testing.assert_allclose(task.cost(x, u, 0), x @ task.Q @ x + u @ task.R @ u, rtol=1e-5)
  custom = envs.make('linear_quadratic', A=np.eye(3), B=np.ones((3, 1)), Q=np.eye(3),
                     R=np.eye(1))
  assert (custom.observation_size, custom.action_size) == (3, 1)
  with pytest.raises(ValueError, match='B has shape'):
    envs.make('linear_quadratic', A=np.eye(3), B=np.ones((2, 1)), Q=np.eye(3), R=np.eye(1))


# --- gradients against finite differences ----------------------------------------

@pytest.mark.parametrize('name,start', [
    ('pendulum', [np.cos(2.5), np.sin(2.5), 0.3]),
    ('cartpole_swingup', [0.1, 0.2, -0.3, 0.4]),
    ('linear_quadratic', [0.5, -0.2, 0.3, 0.1]),
])
def test_return_gradient_matches_finite_differences(name, start):
  task = envs.make(name).unwrapped
  horizon = 10
  with jax.enable_x64(True):
    obs0 = jnp.array(start, jnp.float64)
    actions = 0.3 * jnp.sin(jnp.arange(horizon * task.action_size, dtype=jnp.float64)
                            ).reshape(horizon, task.action_size)

    def total_reward(obs0, actions):
      def body(obs, action):
        nxt = task.dynamics(obs, action)
        return nxt, task.reward_fn(obs, action, nxt)
      return jnp.sum(jax.lax.scan(body, obs0, actions)[1])

    g_obs, g_act = jax.jit(jax.grad(total_reward, argnums=(0, 1)))(obs0, actions)
    assert np.all(np.isfinite(g_obs)) and np.all(np.isfinite(g_act))
    assert np.abs(g_act).max() > 0  # the actions matter
    eps = 1e-6
    rng = np.random.default_rng(4)
    for _ in range(3):
      d_obs = jnp.asarray(rng.normal(size=obs0.shape))
      d_act = jnp.asarray(rng.normal(size=actions.shape))
      fd = (total_reward(obs0 + eps * d_obs, actions + eps * d_act)
            - total_reward(obs0 - eps * d_obs, actions - eps * d_act)) / (2 * eps)
      analytic = jnp.vdot(g_obs, d_obs) + jnp.vdot(g_act, d_act)
      np.testing.assert_allclose(analytic, fd, rtol=1e-5, atol=1e-7)


def test_unknown_names_and_arguments_fail_in_one_line():
  with pytest.raises(ValueError) as err:
    envs.make('pendulumm')
  assert '\n' not in str(err.value) and 'pendulum' in str(err.value)
  with pytest.raises(ValueError) as err:
    envs.make('pendulum', max_torq=3.0)
  assert '\n' not in str(err.value) and 'max_torque' in str(err.value)
  with pytest.raises(ValueError, match='episode_length'):
    envs.make('pendulum', episode_length=0)

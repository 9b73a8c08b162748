"""MPC with the true model controls the pendulum far better than chance; the
lectures' versions plan, execute and refit as described; iLQR-MPC's feedback law
between replans equals LQR's on a linear-quadratic task."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from brax.envs.base import Wrapper

from mbrl_jax import envs
from mbrl_jax.agents import mpc
from mbrl_jax.data import replay
from mbrl_jax.data.evaluation import make_evaluator
from tests.helpers import assert_rejected, random_returns


def best_random_return(env, episodes=1000):
  """The best return of `episodes` random-policy episodes."""
  return float(random_returns(env, episodes).max())


def test_mpc_swings_up_pendulum_beyond_any_random_episode():
  env = envs.make('pendulum')
  best_random = best_random_return(env)
  assert best_random < -500  # random torques never hold the pendulum up
  config = mpc.default_config()
  config.update(dict(horizon=15, population=100))
  agent = mpc.make(config, env)
  mean_return = float(jax.jit(make_evaluator(env, agent.make_policy, 10))(
      mpc.Params(model={}), jax.random.PRNGKey(2)))
  assert mean_return > -400 > best_random


def test_train_chunk_fills_buffer_with_real_transitions():
  env = envs.make('pendulum', episode_length=20)
  config = mpc.default_config()
  config.update(dict(horizon=5, population=16, steps_per_chunk=40, num_envs=2,
                     buffer_capacity=100))
  agent = mpc.make(config, env)
  state = agent.init(jax.random.PRNGKey(0))
  state, metrics = jax.jit(agent.train_chunk)(state)
  assert int(state.env_steps) == 40
  assert int(replay.size(state.buffer)) == 40
  tr = jax.tree.map(lambda x: x[:40], replay.items(state.buffer))
  np.testing.assert_allclose(tr.next_obs, env.unwrapped.dynamics(tr.obs, tr.action),
                             rtol=1e-5, atol=1e-6)
  assert float(metrics['episodes']) == 2  # two envs, one 20-step episode each
  # Each env's one episode is its 20 steps (time-major in the buffer: [step, env]).
  np.testing.assert_allclose(metrics['episode_return'],
                             tr.reward.reshape((20, 2)).sum(0).mean(), rtol=1e-5)


@pytest.mark.parametrize('override,message', [
    (dict(horizon=0), 'config.horizon must be an integer >= 1, got 0'),
    (dict(dynamics='simulated'), "config.dynamics must be one of 'env', 'model'"),
    (dict(planner='bfgs'), "config.planner must be one of"),
    (dict(replan_every=7), 'must divide the steps per env of a chunk'),
    (dict(replan_every=40, horizon=30, steps_per_chunk=200), 'cannot exceed config.horizon'),
    (dict(dynamics='model', propagation='tsinf', num_particles=3),
     'must be a multiple of config.model.num_elites'),
    (dict(steps_per_chunk=30, num_envs=4), 'must be a multiple of config.num_envs'),
    (dict(buffer_capacity=10), 'config.buffer_capacity must hold one chunk'),
    (dict(ilqr=dict(feedback=None)), 'config.ilqr.feedback must be True or False, got None'),
])
def test_bad_config_values(override, message):
  config = mpc.default_config()
  config.update(override)
  assert_rejected(mpc, config, message)


def test_brax_env_needs_a_model_and_a_reward():
  env = envs.make('brax/halfcheetah', backend='positional')  # no pure reward
  assert_rejected(mpc, mpc.default_config(),
                  r"mpc with dynamics='env' plans with a JAX-native task's own dynamics; "
                  r"Halfcheetah has none: use dynamics='model'", env)
  config = mpc.preset('pets')
  assert_rejected(mpc, config, r"mpc needs the task's reward function \(a JAX-native task or "
                  r"a DM Control task whose reward reads only the observation\) or "
                  r"config.model.learn_reward; Halfcheetah has none", env)
  config.planner, config.model.learn_reward = 'ilqr', True
  assert_rejected(mpc, config, r"the ilqr planner differentiates the task's reward function",
                  env)


def small_pets_config():
  """PETS scaled down for CI: 5 Gaussian members of 3 x 64, TSinf with 5 particles,
  CEM with population 100, 3 iterations, horizon 20; one random episode first."""
  config = mpc.preset('pets', angle_dims=(1,))
  config.update(dict(population=100, num_particles=5, horizon=20))
  config.cem.iterations = 3
  config.model.update(dict(width=64, num_layers=3, max_epochs=50))
  return config


def test_pets_learns_cartpole_swingup_within_four_episodes():
  env = envs.make('cartpole_swingup')
  best_random = best_random_return(env)
  assert best_random < 20  # 1000 random episodes: the pole is never held up
  agent = mpc.make(small_pets_config(), env)
  state = jax.jit(agent.init)(jax.random.PRNGKey(0))
  chunk = jax.jit(agent.train_chunk)
  returns = []
  for _ in range(5):  # one random episode, then four PETS episodes
    state, metrics = chunk(state)
    returns.append(float(metrics['episode_return']))
  assert returns[0] < 20  # the random-action episode
  assert max(returns[1:]) > 100 > best_random, returns
  assert np.isfinite(float(metrics['model_holdout_mse']))
  assert int(state.env_steps) == 1000


def small_version_config(version):
  config = mpc.preset(version)  # the lectures' 0.5, 1.0 and 1.5
  config.update(dict(population=200, random_steps=600))
  config.model.update(dict(width=64, num_layers=2, max_epochs=40))
  if version == 'mpc':
    config.horizon = 15
  return config


@pytest.mark.parametrize('version', ['open_loop_fit_once', 'open_loop_refit', 'mpc'])
def test_lecture_versions_plan_execute_and_refit_as_described(version):
  """0.5 (open_loop_fit_once) fits once after the random data and executes
  whole-episode open-loop plans; 1.0 (open_loop_refit) refits after every episode;
  1.5 (mpc) replans every step and refits; on pendulum, MPC controls far better than
  random torques (mean -1230)."""
  env = envs.make('pendulum')
  config = small_version_config(version)
  agent = mpc.make(config, env)
  state = jax.jit(agent.init)(jax.random.PRNGKey(0))
  chunk = jax.jit(agent.train_chunk)
  epochs = []
  for _ in range(5):  # 3 random episodes, then two with the model
    state, metrics = chunk(state)
    epochs.append(int(metrics['model_epochs']))
  assert int(replay.size(state.buffer)) == 1000
  assert epochs[:2] == [0, 0] and epochs[2] > 0  # first fit right after the random data
  assert (epochs[3] > 0 and epochs[4] > 0) == (version != 'open_loop_fit_once')
  assert config.replan_every == (200 if version.startswith('open_loop') else 1)
  if version == 'mpc':
    mean_return = float(jax.jit(agent.evaluate, static_argnums=2)(
        state.params, jax.random.PRNGKey(1), 4))
    assert mean_return > -400, mean_return


# 'ilqr' runs in `make test-long`: 'ilqr_feedback' plans through the same learned
# model and iLQR, and adds the feedback term.
@pytest.mark.parametrize('version', [pytest.param('ilqr', marks=pytest.mark.long),
                                     'ilqr_feedback'])
def test_ilqr_mpc_through_learned_model_swings_up_pendulum(version):
  """Version 'ilqr': iLQR through the learned model's mean, replanning every step
  (so executing u_plan only); 'ilqr_feedback': replanning every 5 steps and
  executing u_plan + K (x - x_plan) in between, a term that changes what happens
  (the same model without it returns something else). 3 random episodes, 2 with
  the model; random torques average about -1230."""
  env = envs.make('pendulum')
  config = small_version_config(version)
  assert config.replan_every == (5 if version == 'ilqr_feedback' else 1)
  agent = mpc.make(config, env)
  state = jax.jit(agent.init)(jax.random.PRNGKey(0))
  chunk = jax.jit(agent.train_chunk)
  for _ in range(5):
    state, metrics = chunk(state)
  evaluate = lambda agent: float(jax.jit(agent.evaluate, static_argnums=2)(
      state.params, jax.random.PRNGKey(1), 4))
  mean_return = evaluate(agent)
  assert mean_return > -300, mean_return
  if version == 'ilqr_feedback':
    config.ilqr.feedback = False
    assert abs(evaluate(mpc.make(config, env)) - mean_return) > 1e-3


KICK = [0.0, 1.0, 0.0, -1.0]  # velocities of the double integrators


class Kicked(Wrapper):
  """Adds `kick` to the state after step `at` of every `period` steps: a disturbance
  the planner (which plans with the undisturbed task) cannot foresee."""

  def __init__(self, env, kick, at, period):
    super().__init__(env)
    self.kick, self.at, self.period = jnp.asarray(kick), at, period

  def step(self, state, action):
    state = self.env.step(state, action)
    kicked = jnp.round(state.info['steps']).astype(jnp.int32) % self.period == self.at
    return state.replace(obs=state.obs + jnp.where(kicked, self.kick, 0.0))


def finite_horizon_lqr(A, B, Q, R, horizon):
  """Gains L_t (u = -L_t x) and cost-to-go matrices P_t (V_t = x'P_t x) of
  sum_{t<H} x'Qx + u'Ru with no terminal cost, by the Riccati recursion in numpy."""
  P, gains, values = np.zeros_like(Q), [], [np.zeros_like(Q)]
  for _ in range(horizon):
    L = np.linalg.solve(R + B.T @ P @ B, B.T @ P @ A)
    P = Q + A.T @ P @ (A - B @ L)
    gains.insert(0, L)
    values.insert(0, P)
  return np.array(gains), np.array(values)


def run_kicked_lq(feedback, horizon=10, kick_at=3):
  """iLQR-MPC with the true LQ model, replanning every `horizon` steps, in an env
  kicked after step `kick_at` of each plan; (obs, actions, rewards) as [T, envs, .]."""
  # The task's double integrators with 5x stronger forces and R = 2.5 (u'Ru the same
  # for the 5x smaller u): the actions stay inside the agent's [-1, 1], so the bound
  # penalty and clipping never act and iLQR is exactly LQR.
  default = envs.make('linear_quadratic').unwrapped
  env = envs.make('linear_quadratic', episode_length=2 * horizon, B=5 * default.B,
                  R=2.5 * np.eye(2))
  env = Kicked(env, kick=KICK, at=kick_at, period=horizon)
  config = mpc.default_config()
  config.update(dict(planner='ilqr', horizon=horizon, replan_every=horizon, num_envs=2,
                     steps_per_chunk=4 * horizon, buffer_capacity=4 * horizon))
  config.ilqr.feedback = feedback
  agent = mpc.make(config, env)
  state, _ = jax.jit(agent.train_chunk)(agent.init(jax.random.PRNGKey(0)))
  tr = jax.tree.map(lambda x: np.asarray(x, np.float64).reshape((2 * horizon, 2) + x.shape[1:]),
                    replay.items(state.buffer))
  return env.unwrapped, tr.obs, tr.action, tr.reward


def test_ilqr_feedback_between_replans_is_lqr_under_an_unforeseen_kick():
  """On a linear-quadratic task iLQR is LQR and its feedback law u_t = u_plan_t +
  K_t (x_t - x_plan_t) is the optimal reaction to a disturbance: after the kick the
  executed actions are -L_t x_t with L_t from an independent Riccati recursion, and
  each plan's cost equals the closed form (nominal cost before the kick, then the
  optimal cost-to-go x'P_t x from the kicked state). The plan alone (no feedback)
  executes the nominal actions and pays more."""
  horizon, kick_at = 10, 3
  task, obs, actions, rewards = run_kicked_lq(True, horizon, kick_at)
  _, open_obs, open_actions, open_rewards = run_kicked_lq(False, horizon, kick_at)
  A, B, Q, R = (np.asarray(m, np.float64) for m in (task.A, task.B, task.Q, task.R))
  gains, values = finite_horizon_lqr(A, B, Q, R, horizon)
  assert np.abs(actions).max() < 1.0  # bounds inactive (the agent clips to [-1, 1])

  step_in_plan = np.arange(2 * horizon) % horizon
  np.testing.assert_allclose(actions, -np.einsum('tao,tno->tna', gains[step_in_plan], obs),
                             atol=2e-4)
  for plan_start in (0, horizon):
    steps = slice(plan_start, plan_start + horizon)
    x0 = obs[plan_start]                                  # [envs, obs]
    # The nominal (unkicked) state at the kick, from x0 under the LQR law.
    x = x0
    for t in range(kick_at):
      x = x @ (A - B @ gains[t]).T
    kicked = obs[plan_start + kick_at]
    np.testing.assert_allclose(kicked - x, np.broadcast_to(KICK, x.shape),
                               atol=1e-4)  # the kick happened where it should
    quad = lambda P, x: np.einsum('ni,ij,nj->n', x, P, x)
    # The nominal cost up to the kick, then the optimal cost-to-go from the kicked state.
    cost = quad(values[0], x0) - quad(values[kick_at], x) + quad(values[kick_at], kicked)
    np.testing.assert_allclose(rewards[steps].sum(0), -cost, rtol=1e-4)

  # Same start states; before the first kick nothing differs, from the kicked state
  # on the actions do (but for the plan's last step, where L = 0: no cost follows it).
  np.testing.assert_allclose(open_obs[:kick_at + 1] - obs[:kick_at + 1], 0.0, atol=1e-6)
  np.testing.assert_allclose(open_actions[:kick_at], actions[:kick_at], atol=1e-5)
  assert np.abs(open_actions[kick_at:horizon - 1] - actions[kick_at:horizon - 1]).min() > 0.01
  open_return, feedback_return = open_rewards.sum(0), rewards.sum(0)  # seen: -43, -53 vs -32, -39
  assert np.all(open_return < feedback_return - 0.1 * np.abs(feedback_return)), (
      open_return, feedback_return)

"""Model-predictive control through the env's own or learned dynamics.

The lectures' versions are presets of one agent (`preset(name)`):
  'open_loop_fit_once'  (version 0.5) random data, fit a deterministic model once,
          plan a whole episode open loop and execute all of it;
  'open_loop_refit'  (version 1.0) the same open-loop plans, but every episode's
          data is added and the model refitted;
  'mpc'   (version 1.5) replan every `replan_every` steps, execute the first
          actions, refit after every chunk of real steps;
  'pets'  'mpc' with a probabilistic ensemble, TSinf particles and CEM;
  'ilqr'  'mpc' with iLQR through the learned model's mean as the planner; it
          replans at every step, so only u_plan is ever executed (the feedback
          term below is zero at a plan's first step);
  'ilqr_feedback'  'ilqr' replanning every 5 steps and executing iLQR's feedback
          law u_t = u_plan_t + K_t (x_t - x_plan_t) in between (the law is
          off, the plan executed open loop, with `ilqr.feedback=False`);
  'env_dynamics' (the default) plans with the task's own dynamics.
The control loop of a chunk (plan, execute, collect) is one lax.scan over
segments of `replan_every` steps, each planning once from the segment's first
real state; the model is refitted at the end of the chunk. Within a segment the
j-th step applies u_j = u_plan_j + K_j (x_j - x_plan_j), x_j the real (env)
state and x_plan_j the planner's prediction through the model it plans with
(the learned mean, or the true dynamics): x_0 = x_plan_0, so the term acts from
the second step of a segment on, and only for iLQR with `ilqr.feedback` (the
shooting planners have no gains). Every real transition goes into a replay
buffer in the TrainState, the dataset the model is fitted to.
"""

from mbrl_jax.agents.mpc.config import (DYNAMICS, PLANNERS, PRESETS, REFITS, SIZES,
                                        default_config, preset, validate)
from mbrl_jax.agents.mpc.train import Params, Plan, TrainState, make

__all__ = ['DYNAMICS', 'PLANNERS', 'PRESETS', 'Params', 'Plan', 'REFITS', 'SIZES', 'TrainState',
           'default_config', 'make', 'preset', 'validate']

"""Cart-pole swing-up of PETS (Chua et al. 2018), as used in mbrl-lib.

PETS simulates it in MuJoCo (RK4, 0.02 s, 2 substeps per action): a capsule cart
(radius 0.1, half-length 0.1) on a slider and a capsule pole (radius 0.049, from the
hinge to (0.001, -0.6)), density 1000, damping 1 on both joints, a motor of gear 100
with control in [-3, 3]. Here the same rigid-body equations are written out
(Lagrangian of a cart and a pole with the inertias MuJoCo derives from those
capsules), together with MuJoCo's soft limit of the rail at |x| = 2.5 (its default
solref/solimp constraint model), and integrated with the same RK4 steps; tests
compare with MuJoCo, inside and against the rail limit.

Observation (x, theta, x_dot, theta_dot), theta = 0 hanging down; reward
exp(-|tip - (0, 0.6)|^2 / 0.6^2) - 0.01 |a|^2 on the next observation; 200 steps;
start at rest hanging down plus N(0, 0.1^2) noise on all four coordinates.
"""

import math

import jax
import jax.numpy as jnp

from mbrl_jax.envs.base import Task, bounds, over_leading_dims, rk4

POLE_LENGTH = 0.6  # the reward's tip distance
RAIL_LIMIT = 2.5
# MuJoCo's default constraint parameters: solref (timeconst, dampratio = 1) and
# solimp (dmin, dmax, width, midpoint 0.5, power 2). MuJoCo raises timeconst to at
# least twice the timestep.
SOLREF_TIMECONST = 0.02
SOLIMP_DMIN, SOLIMP_DMAX, SOLIMP_WIDTH = 0.9, 0.95, 0.001


def _impedance(violation):
  """MuJoCo's impedance: dmin at contact, dmax past `width`, a quadratic spline between."""
  x = jnp.clip(violation / SOLIMP_WIDTH, 0.0, 1.0)
  y = jnp.where(x <= 0.5, 2 * x**2, 1 - 2 * (1 - x)**2)
  return SOLIMP_DMIN + y * (SOLIMP_DMAX - SOLIMP_DMIN)


def _capsule(radius, length, density=1000.0):
  """Mass and inertia about the centre, perpendicular to the axis (MuJoCo's)."""
  cylinder = density * math.pi * radius**2 * length
  spheres = density * 4.0 / 3.0 * math.pi * radius**3
  inertia = (cylinder * (3 * radius**2 + length**2) / 12.0
             + spheres * (2 * radius**2 / 5 + length**2 / 4 + 3 * length * radius / 8))
  return cylinder + spheres, inertia


class CartpoleSwingup(Task):

  def __init__(self, gravity: float = 9.81, damping: float = 1.0,
               gear: float = 100.0, timestep: float = 0.02, substeps: int = 2):
    self.gravity, self.damping, self.gear = gravity, damping, gear
    self.timestep, self.substeps = timestep, substeps
    self.cart_mass, _ = _capsule(0.1, 0.2)
    pole_end = (0.001, 0.6)  # the pole's far end, as in the PETS model
    pole_len = math.hypot(*pole_end)
    self.pole_mass, self.pole_inertia = _capsule(0.049, pole_len)
    self.pole_com = pole_len / 2  # hinge to centre of mass
    self.pole_tilt = math.atan2(*pole_end)  # the centre of mass sits off-axis
    m11, m12, m22 = (float(v) for v in self._mass_matrix(0.0))
    self._inv_mass0 = m22 / (m11 * m22 - m12 * m12)  # MuJoCo's dof_invweight0
    self.obs_size, self.act_size, self.episode_length = 4, 1, 200
    self.action_low, self.action_high = bounds(-3.0, 3.0, 1)

  @property
  def dt(self) -> float:
    return self.timestep * self.substeps

  def initial_obs(self, rng):
    return 0.1 * jax.random.normal(rng, (4,))

  def _mass_matrix(self, th):
    m, d = self.pole_mass, self.pole_com
    return (self.cart_mass + m, -m * d * jnp.cos(th - self.pole_tilt),
            self.pole_inertia + m * d * d)

  def _deriv(self, state, force):
    x, x_dot, th, th_dot = state
    m, d, g = self.pole_mass, self.pole_com, self.gravity
    s = jnp.sin(th - self.pole_tilt)
    m11, m12, m22 = self._mass_matrix(th)
    f1 = force - self.damping * x_dot - m * d * s * th_dot**2
    f2 = -m * g * d * s - self.damping * th_dot
    det = m11 * m22 - m12 * m12
    x_acc = (m22 * f1 - m12 * f2) / det
    th_acc = (m11 * f2 - m12 * f1) / det
    # The rail limit: MuJoCo's soft constraint moves the cart's acceleration to
    # (1 - d) * a + d * a_ref, a_ref a spring-damper towards the limit, with
    # impedance d; the regularizer uses the cart's inverse inertia at theta = 0.
    # It only pushes inwards.
    side = jnp.sign(x)
    violation = jnp.maximum(jnp.abs(x) - RAIL_LIMIT, 0.0)  # -r in MuJoCo's terms
    imp = _impedance(violation)
    inv_mass = m22 / det  # the cart entry of M^-1 now (A)
    regularizer = (1 - imp) / imp * self._inv_mass0
    timeconst = max(SOLREF_TIMECONST, 2 * self.timestep)
    stiffness = imp / (SOLIMP_DMAX * timeconst) ** 2
    damping = 2.0 / (SOLIMP_DMAX * timeconst)
    # Constraint coordinate r = limit - side * x (velocity and acceleration likewise).
    acc_free = -side * x_acc
    acc_ref = -damping * (-side * x_dot) + stiffness * violation
    force = (acc_ref - acc_free) / (inv_mass + regularizer)
    push = jnp.where(violation > 0, jnp.maximum(force, 0.0), 0.0)
    # Apply the constraint force (-side * push along x) through M^-1.
    x_acc = x_acc - side * push * m22 / det
    th_acc = th_acc + side * push * m12 / det
    return jnp.stack([x_dot, x_acc, th_dot, th_acc])

  def _single_dynamics(self, obs, action):
    # Integrate in (x, x_dot, theta, theta_dot) order, observe (x, theta, x_dot, theta_dot).
    state = obs[jnp.array([0, 2, 1, 3])]
    force = self.gear * action[0]
    for _ in range(self.substeps):
      state = rk4(lambda s: self._deriv(s, force), state, self.timestep)
    return state[jnp.array([0, 2, 1, 3])]

  def dynamics(self, obs, action, t=0):
    return over_leading_dims(self._single_dynamics, obs, action)

  def tip_position(self, obs):
    x, th = obs[..., 0], obs[..., 1]
    return jnp.stack([x - POLE_LENGTH * jnp.sin(th), -POLE_LENGTH * jnp.cos(th)], -1)

  def reward_fn(self, obs, action, next_obs):
    del obs
    target = jnp.array([0.0, POLE_LENGTH])
    dist2 = jnp.sum((self.tip_position(next_obs) - target)**2, axis=-1)
    return jnp.exp(-dist2 / POLE_LENGTH**2) - 0.01 * jnp.sum(action**2, axis=-1)

"""The arm as MJCF: a UR5e with a parallel gripper, from its published kinematic parameters.

The arm is written from the UR5e's published kinematic parameters (the joint origins of
ur_description, which follow Universal Robots' DH table: d1 0.1625, a2 -0.425, a3 -0.3922,
d4 0.1333, d5 0.0997, d6 0.0996) with simple capsule geometry, and uses the vendor driver's joint
names, so one bridge configuration drives the simulated and the real arm. The gripper is a
two-finger parallel gripper on slide joints that holds objects by friction only.

:func:`arm_body` is the arm's kinematic tree, shared by the simulator's scene
(:mod:`contrastive_vla.sim.scene`) and :func:`arm_model`, the arm alone that the arm bridge
plans with (no table, blocks or camera). MuJoCo reads ``MUJOCO_GL`` when it is first imported,
so every module imports it through :func:`import_mujoco`.
"""

from __future__ import annotations

from collections.abc import Iterable
import ctypes.util
import math
import os
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # for the hints only: at run time mujoco comes via import_mujoco
    import mujoco

_BACKEND_LIBRARIES = (('egl', 'EGL'), ('osmesa', 'OSMesa'))


def configure_gl() -> str:
    """Pick a headless GL backend unless the user chose one; returns the backend name."""
    chosen = os.environ.get('MUJOCO_GL')
    if chosen:
        return chosen
    for backend, library in _BACKEND_LIBRARIES:
        if ctypes.util.find_library(library):
            os.environ['MUJOCO_GL'] = backend
            if backend == 'osmesa':
                os.environ.setdefault('PYOPENGL_PLATFORM', 'osmesa')
            return backend
    os.environ['MUJOCO_GL'] = 'egl'
    return 'egl'


def import_mujoco() -> ModuleType:
    configure_gl()
    # deferred: MUJOCO_GL must be chosen before mujoco is first imported
    import mujoco

    return mujoco


# Radius of the link capsules (visual only: arm links do not collide; the workspace box and
# the joint limits keep the arm off the table).
_LINK_RADIUS = {'shoulder': 0.06, 'upper_arm': 0.054, 'forearm': 0.045, 'wrist': 0.04}
# Distance from the flange (tool0) to the tool centre point between the fingertips.
TCP_OFFSET = 0.16


def _quat_rpy(roll, pitch, yaw):
    """MuJoCo quaternion (w x y z) of URDF rpy (R = Rz(yaw) Ry(pitch) Rx(roll))."""
    cr, sr = math.cos(roll / 2), math.sin(roll / 2)
    cp, sp = math.cos(pitch / 2), math.sin(pitch / 2)
    cy, sy = math.cos(yaw / 2), math.sin(yaw / 2)
    return (cr * cp * cy + sr * sp * sy, sr * cp * cy - cr * sp * sy,
            cr * sp * cy + sr * cp * sy, cr * cp * sy - sr * sp * cy)


def _fmt(values):
    return ' '.join(f'{v:.6g}' for v in values)


def fmt(values: Iterable[float]) -> str:
    return ' '.join(f'{v:.6g}' for v in values)


def _joint(name, cfg, index):
    lo, hi = cfg['robot']['joint_lower'][index], cfg['robot']['joint_upper'][index]
    return (f'<joint name="{name}" axis="0 0 1" range="{lo} {hi}" damping="2" '
            f'armature="0.1"/>')


def _finger(side, sign, joint_name, opening):
    """One finger: a pad on a slide joint that opens away from the gripper centre line."""
    return f"""                    <body name="{side}_finger" pos="0 {sign * 0.007} 0.08"
                          gravcomp="1">
                      <joint name="{joint_name}" type="slide"
                             axis="0 {sign} 0" range="0 {opening}" damping="5" armature="0.01"/>
                      <geom name="{side}_pad" type="box" size="0.012 0.006 0.045"
                            pos="0 {sign * 0.006} 0.045" rgba="0.25 0.25 0.28 1" mass="0.05"
                            friction="1.5 0.02 0.002" condim="6" priority="2"/>
                    </body>"""


def arm_body(cfg: dict[str, Any], wrist_camera: str = '') -> str:
    """MJCF of the arm's kinematic tree (``<body name="base_link">...``) for an arm config."""
    robot = cfg['robot']
    names = robot['joint_names']
    r = _LINK_RADIUS
    wrist_cam = wrist_camera
    fingers = '\n'.join(_finger(side, sign, name, robot['finger_open'])
                        for side, sign, name in (('left', 1, robot['gripper_joint_names'][0]),
                                                 ('right', -1, robot['gripper_joint_names'][1])))
    base = fmt(_quat_rpy(0, 0, math.pi))
    return f"""    <body name="base_link" pos="0 0 0" quat="{base}" gravcomp="1">
      <geom type="cylinder" size="0.075 0.04" pos="0 0 0.04" class="link"/>
      <body name="shoulder_link" pos="0 0 0.1625" gravcomp="1">
        {_joint(names[0], cfg, 0)}
        <inertial pos="0 0 0" mass="3.7" diaginertia="0.0103 0.0103 0.0067"/>
        <geom class="link" fromto="0 0 -0.06 0 0 0.06" size="{r['shoulder']}"/>
        <body name="upper_arm_link" pos="0 0 0" quat="{fmt(_quat_rpy(math.pi / 2, 0, 0))}"
              gravcomp="1">
          {_joint(names[1], cfg, 1)}
          <inertial pos="-0.2125 0 0.138" mass="8.39" diaginertia="0.0151 0.133 0.133"/>
          <geom class="link" fromto="0 0 0 0 0 0.138" size="{r['shoulder']}"/>
          <geom class="link" fromto="0 0 0.138 -0.425 0 0.138" size="{r['upper_arm']}"/>
          <body name="forearm_link" pos="-0.425 0 0" gravcomp="1">
            {_joint(names[2], cfg, 2)}
            <inertial pos="-0.196 0 0.007" mass="2.33" diaginertia="0.0041 0.0311 0.0311"/>
            <geom class="link" fromto="0 0 0.138 0 0 0.007" size="{r['upper_arm']}"/>
            <geom class="link" fromto="0 0 0.007 -0.3922 0 0.007" size="{r['forearm']}"/>
            <body name="wrist_1_link" pos="-0.3922 0 0.1333" gravcomp="1">
              {_joint(names[3], cfg, 3)}
              <inertial pos="0 0 0" mass="1.22" diaginertia="0.0025 0.0025 0.0021"/>
              <geom class="link" fromto="0 0 -0.127 0 0 0.03" size="{r['wrist']}"/>
              <body name="wrist_2_link" pos="0 -0.0997 0"
                    quat="{fmt(_quat_rpy(math.pi / 2, 0, 0))}" gravcomp="1">
                {_joint(names[4], cfg, 4)}
                <inertial pos="0 0 0" mass="1.22" diaginertia="0.0025 0.0025 0.0021"/>
                <geom class="link" fromto="0 0 -0.03 0 0 0.05" size="{r['wrist']}"/>
                <body name="wrist_3_link" pos="0 0.0996 0"
                      quat="{fmt(_quat_rpy(-math.pi / 2, 0, 0))}" gravcomp="1">
                  {_joint(names[5], cfg, 5)}
                  <inertial pos="0 0 -0.02" mass="0.19" diaginertia="0.0001 0.0001 0.0001"/>
                  <geom class="link" fromto="0 0 -0.03 0 0 0.0" size="0.038"/>
                  <site name="tool0" pos="0 0 0" size="0.004"/>
                  <body name="gripper_base" pos="0 0 0" gravcomp="1">
                    <geom type="cylinder" size="0.035 0.02" pos="0 0 0.02"
                          rgba="0.15 0.15 0.17 1"/>
                    <geom name="palm" type="box" size="0.025 0.07 0.02" pos="0 0 0.06"
                          rgba="0.15 0.15 0.17 1"/>
                    {wrist_cam}
                    <site name="tcp" pos="0 0 {TCP_OFFSET}" size="0.006" rgba="1 0 1 0"/>
{fingers}
                  </body>
                </body>
              </body>
            </body>
          </body>
        </body>
      </body>
    </body>"""


# Position servo gains of the arm joints: (kp, kv, force limit in N m), base to wrist.
_ARM_GAINS = ((4000, 300, 330), (4000, 300, 330), (3000, 200, 150), (1000, 50, 54),
              (1000, 50, 54), (1000, 50, 54))


def arm_actuators(cfg: dict[str, Any]) -> str:
    """Position actuators of the arm joints and fingers (the simulator's servos)."""
    robot = cfg['robot']
    lines = [f'    <position name="{name}" joint="{name}" kp="{kp}" kv="{kv}" '
             f'forcerange="-{force} {force}"/>'
             for name, (kp, kv, force) in zip(robot['joint_names'], _ARM_GAINS)]
    for side, joint in zip(('left', 'right'), robot['gripper_joint_names']):
        lines.append(f'    <position name="{side}_finger" joint="{joint}" kp="300" kv="10"\n'
                     '              forcerange="-12 12"/>')
    return '\n'.join(lines) + '\n'


def arm_model(cfg: dict[str, Any], mujoco: ModuleType | None = None) -> mujoco.MjModel:
    """A MuJoCo model of the arm alone, for kinematics (no scene, no rendering)."""
    mujoco = mujoco or import_mujoco()
    return mujoco.MjModel.from_xml_string(f"""
<mujoco model="arm">
  <compiler angle="radian" autolimits="true"/>
  <default>
    <default class="link">
      <geom type="capsule" contype="0" conaffinity="0" group="1"/>
    </default>
  </default>
  <worldbody>
{arm_body(cfg)}
  </worldbody>
</mujoco>""")

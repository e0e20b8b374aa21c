"""The MJCF of the tabletop: a UR5e with a parallel gripper, a table, blocks and target zones.

The arm is written from the UR5e's published kinematic parameters (the joint origins of
ur_description, which follow Universal Robots' DH table: d1 0.1625, a2 -0.425, a3 -0.3922,
d4 0.1333, d5 0.0997, d6 0.0996) with simple capsule geometry, and uses the vendor driver's joint
names, so one bridge configuration drives the simulated and the real arm. The gripper is a
two-finger parallel gripper on slide joints that holds objects by friction only.

One model serves every episode: the scene has ``max_blocks`` blocks and ``num_zones`` zones;
reset recolours and places them (unused blocks are parked out of sight and float).
"""

import math

import numpy as np

from contrastive_vla.resources import config_path

# Radius of the link capsules (visual only: arm links do not collide; the workspace box and
# the joint limits keep the arm off the table).
_LINK_RADIUS = {'shoulder': 0.06, 'upper_arm': 0.054, 'forearm': 0.045, 'wrist': 0.04}
# Distance from the flange (tool0) to the tool centre point between the fingertips.
TCP_OFFSET = 0.16


def load_sim_config(path=None):
    """The simulator configuration (config/sim.yaml), validated enough to fail early."""
    import yaml

    path = path or config_path('sim.yaml')
    with open(path, encoding='utf-8') as f:
        cfg = yaml.safe_load(f)
    for section in ('robot', 'control', 'workspace', 'scene', 'camera'):
        if not isinstance(cfg.get(section), dict):
            raise ValueError(f'{path}: missing section {section!r}')
    robot = cfg['robot']
    n = len(robot['joint_names'])
    for key in ('joint_lower', 'joint_upper', 'joint_velocity', 'home_joints'):
        if len(robot[key]) != n:
            raise ValueError(f'{path}: robot.{key} has {len(robot[key])} values, expected {n}')
    lower, upper = np.array(cfg['workspace']['lower']), np.array(cfg['workspace']['upper'])
    if lower.shape != (3,) or upper.shape != (3,) or not np.all(lower < upper):
        raise ValueError(f'{path}: workspace lower/upper must be 3 numbers with lower < upper')
    if lower[2] <= 0:
        raise ValueError(f'{path}: workspace.lower z must be above the table (z > 0)')
    return cfg


def _quat_rpy(roll, pitch, yaw):
    """MuJoCo quaternion (w x y z) of URDF rpy (R = Rz(yaw) Ry(pitch) Rx(roll))."""
    cr, sr = math.cos(roll / 2), math.sin(roll / 2)
    cp, sp = math.cos(pitch / 2), math.sin(pitch / 2)
    cy, sy = math.cos(yaw / 2), math.sin(yaw / 2)
    return (cr * cp * cy + sr * sp * sy, sr * cp * cy - cr * sp * sy,
            cr * sp * cy + sr * cp * sy, cr * cp * sy - sr * sp * cy)


def _fmt(values):
    return ' '.join(f'{v:.6g}' for v in values)


def _camera_xyaxes(pos, lookat):
    forward = np.asarray(lookat, float) - np.asarray(pos, float)
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    up = np.cross(right, forward)
    return _fmt(np.concatenate([right, up]))


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


def build_mjcf(cfg):
    """Return the MJCF XML string of the whole scene."""
    robot, scene, cam = cfg['robot'], cfg['scene'], cfg['camera']
    names = robot['joint_names']
    r = _LINK_RADIUS
    hb = scene['block_half_size']
    hz = scene['zone_half_size']
    blocks = []
    for i in range(scene['max_blocks']):
        blocks.append(f"""
    <body name="block{i}" pos="{2 + i * 0.2} 2 {hb}">
      <freejoint name="block{i}_joint"/>
      <geom name="block{i}" type="box" size="{hb} {hb} {hb}" mass="{scene['block_mass']}"
            rgba="0.5 0.5 0.5 1" friction="0.7 0.01 0.001" condim="4"/>
    </body>""")
    zones = []
    for i in range(scene['num_zones']):
        zones.append(f"""
    <geom name="zone{i}" type="box" pos="{2 + i * 0.3} -2 0.0005" size="{hz} {hz} 0.0005"
          rgba="0.5 0.5 0.5 1" contype="0" conaffinity="0"/>""")
    wrist_cam = ''
    if cam.get('wrist_camera'):
        wrist_cam = ('<camera name="wrist" pos="0 -0.06 0.06" xyaxes="-1 0 0 0 1 0" '
                     'fovy="70"/>')
    fingers = '\n'.join(_finger(side, sign, name, robot['finger_open'])
                        for side, sign, name in (('left', 1, robot['gripper_joint_names'][0]),
                                                 ('right', -1, robot['gripper_joint_names'][1])))
    shadow = 'true' if cam.get('shadows') else 'false'
    return f"""
<mujoco model="contrastive_vla_tabletop">
  <compiler angle="radian" autolimits="true"/>
  <option timestep="{cfg['control']['timestep']}" integrator="implicitfast" cone="elliptic"
          impratio="10"/>
  <visual>
    <global offwidth="1280" offheight="960"/>
    <quality shadowsize="{2048 if cam.get('shadows') else 0}"/>
    <headlight ambient="0.45 0.45 0.45" diffuse="0.5 0.5 0.5" specular="0 0 0"/>
  </visual>
  <default>
    <geom solref="0.004 1" solimp="0.95 0.99 0.001"/>
    <default class="link">
      <geom type="capsule" contype="0" conaffinity="0" rgba="0.62 0.66 0.7 1" group="1"/>
    </default>
  </default>
  <asset>
    <texture name="grid" type="2d" builtin="checker" rgb1="0.78 0.74 0.68"
             rgb2="0.74 0.70 0.64" width="256" height="256"/>
    <material name="table" texture="grid" texrepeat="6 6"/>
  </asset>
  <worldbody>
    <light name="top" pos="0.5 0 2.0" dir="0 0 -1" diffuse="0.6 0.6 0.6"
           castshadow="{shadow}"/>
    <geom name="floor" type="plane" pos="0 0 -0.75" size="4 4 0.1" rgba="0.3 0.3 0.32 1"/>
    <geom name="table" type="box" pos="0.35 0 -0.025" size="0.75 0.75 0.025"
          material="table" friction="0.6 0.005 0.0001"/>
    <camera name="{cam['name']}" pos="{_fmt(cam['pos'])}"
            xyaxes="{_camera_xyaxes(cam['pos'], cam['lookat'])}" fovy="{cam['fovy']}"/>
    <site name="workspace_centre" pos="0.45 0 0" size="0.005" rgba="0 0 0 0"/>
    <body name="base_link" pos="0 0 0" quat="{_fmt(_quat_rpy(0, 0, math.pi))}" gravcomp="1">
      <geom type="cylinder" size="0.075 0.04" pos="0 0 0.04" class="link"/>
      <body name="shoulder_link" pos="0 0 0.1625" gravcomp="1">
        {_joint(names[0], cfg, 0)}
        <inertial pos="0 0 0" mass="3.7" diaginertia="0.0103 0.0103 0.0067"/>
        <geom class="link" fromto="0 0 -0.06 0 0 0.06" size="{r['shoulder']}"/>
        <body name="upper_arm_link" pos="0 0 0" quat="{_fmt(_quat_rpy(math.pi / 2, 0, 0))}"
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
                    quat="{_fmt(_quat_rpy(math.pi / 2, 0, 0))}" gravcomp="1">
                {_joint(names[4], cfg, 4)}
                <inertial pos="0 0 0" mass="1.22" diaginertia="0.0025 0.0025 0.0021"/>
                <geom class="link" fromto="0 0 -0.03 0 0 0.05" size="{r['wrist']}"/>
                <body name="wrist_3_link" pos="0 0.0996 0"
                      quat="{_fmt(_quat_rpy(-math.pi / 2, 0, 0))}" gravcomp="1">
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
    </body>{''.join(blocks)}{''.join(zones)}
  </worldbody>
  <contact>
    <exclude body1="left_finger" body2="right_finger"/>
  </contact>
  <actuator>
    <position name="{names[0]}" joint="{names[0]}" kp="4000" kv="300" forcerange="-330 330"/>
    <position name="{names[1]}" joint="{names[1]}" kp="4000" kv="300" forcerange="-330 330"/>
    <position name="{names[2]}" joint="{names[2]}" kp="3000" kv="200" forcerange="-150 150"/>
    <position name="{names[3]}" joint="{names[3]}" kp="1000" kv="50" forcerange="-54 54"/>
    <position name="{names[4]}" joint="{names[4]}" kp="1000" kv="50" forcerange="-54 54"/>
    <position name="{names[5]}" joint="{names[5]}" kp="1000" kv="50" forcerange="-54 54"/>
    <position name="left_finger" joint="{robot['gripper_joint_names'][0]}" kp="300" kv="10"
              forcerange="-12 12"/>
    <position name="right_finger" joint="{robot['gripper_joint_names'][1]}" kp="300" kv="10"
              forcerange="-12 12"/>
  </actuator>
</mujoco>"""

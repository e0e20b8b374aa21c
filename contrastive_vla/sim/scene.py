"""The MJCF of the tabletop: the arm (:mod:`contrastive_vla.robot.mjcf`), a table, blocks and
target zones, seen by one camera.

One model serves every episode: the scene has ``max_blocks`` blocks and ``num_zones`` zones;
reset recolours and places them (unused blocks are parked out of sight and float).
"""

import numpy as np

from contrastive_vla.robot.description import ARM_SECTIONS, load_arm_config
from contrastive_vla.robot.mjcf import arm_actuators, arm_body
from contrastive_vla.robot.mjcf import fmt as _fmt


def load_sim_config(path=None):
    """The simulator configuration (config/sim.yaml): the arm's sections and the scene's."""
    return load_arm_config(path, ARM_SECTIONS + ('scene', 'camera'))


def _camera_xyaxes(pos, lookat):
    forward = np.asarray(lookat, float) - np.asarray(pos, float)
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    up = np.cross(right, forward)
    return _fmt(np.concatenate([right, up]))


def build_mjcf(cfg):
    """Return the MJCF XML string of the whole scene."""
    scene, cam = cfg['scene'], cfg['camera']
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
{arm_body(cfg, wrist_cam)}{''.join(blocks)}{''.join(zones)}
  </worldbody>
  <contact>
    <exclude body1="left_finger" body2="right_finger"/>
  </contact>
  <actuator>
{arm_actuators(cfg)}  </actuator>
</mujoco>"""

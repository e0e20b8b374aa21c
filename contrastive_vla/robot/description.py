"""The arm's description: joints, limits, home pose, control rates and the workspace box.

Read from an arm configuration YAML (the packaged ``config/sim.yaml`` describes the UR5e the
simulator and the default bridge use); the simulator's scene adds its own sections to the same
file. Units: metres, radians, seconds, in the robot base frame.
"""

from __future__ import annotations

from collections.abc import Iterable
import os
from typing import Any

import numpy as np
import yaml

from contrastive_vla.core.resources import config_path

ARM_SECTIONS = ('robot', 'control', 'workspace')


def load_arm_config(path: str | os.PathLike[str] | None = None,
                    sections: Iterable[str] = ARM_SECTIONS) -> dict[str, Any]:
    """An arm configuration (default: config/sim.yaml), validated enough to fail early: the
    ``sections`` must be present, per-joint lists as long as the joint list, the workspace a
    box above the table."""
    path = path or config_path('sim.yaml')
    with open(path, encoding='utf-8') as f:
        cfg = yaml.safe_load(f)
    if not isinstance(cfg, dict):
        raise ValueError(f'{path}: not a mapping of sections')
    return check_arm_config(cfg, path, sections)


def check_arm_config(cfg: dict[str, Any], path: Any,
                     sections: Iterable[str] = ARM_SECTIONS) -> dict[str, Any]:
    """Raise ValueError (naming ``path``) unless ``cfg`` is a complete arm configuration;
    returns it."""
    for section in sections:
        if not isinstance(cfg.get(section), dict):
            raise ValueError(f'{path}: missing section {section!r}')
    robot = cfg['robot']
    for key in ('joint_names', 'joint_lower', 'joint_upper', 'joint_velocity', 'home_joints',
                'gripper_joint_names', 'finger_open', 'finger_closed'):
        if key not in robot:
            raise ValueError(f'{path}: robot.{key} is missing')
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


def state_joint_names(cfg: dict[str, Any] | None = None) -> list[str]:
    """Joint names of the robot state vector, in order: the arm joints, then the finger joints
    (the order the VLA node, the data module and the model use)."""
    robot = (cfg or _packaged())['robot']
    return list(robot['joint_names']) + list(robot['gripper_joint_names'])


_PACKAGED = []


def _packaged() -> dict[str, Any]:
    if not _PACKAGED:
        _PACKAGED.append(load_arm_config())
    return _PACKAGED[0]

"""Which arm: a packaged configuration (``config/arms/<name>.yaml``), the simulator's UR5e
(``config/sim.yaml``) or a YAML of your own, with the kinematics from the arm's URDF.

An arm configuration has the sections ``robot`` (home pose, gripper), ``control`` (rates,
speed caps, IK tolerances) and ``workspace`` (the TCP box, base frame); with a ``urdf``
section (``base_frame``, ``tool_frame``, ``tcp_offset``) the joints, their limits and the
kinematics come from a robot description (the ``robot_description`` a ROS 2 robot publishes,
or a file). Without one (``config/sim.yaml``) they come from the YAML and the simulator's MJCF.
"""

from __future__ import annotations

from dataclasses import dataclass
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from contrastive_vla.core.resources import config_path, share_dir
from contrastive_vla.robot.description import check_arm_config, load_arm_config
from contrastive_vla.robot.urdf import UrdfArm, UrdfError, home_within, load_urdf

if TYPE_CHECKING:
    from contrastive_vla.robot.kinematics import ArmKinematics


def packaged_arms() -> list[str]:
    """Names of the packaged arm configurations (config/arms/*.yaml)."""
    return sorted(p.stem for p in (share_dir() / 'config' / 'arms').glob('*.yaml'))


def arm_config_path(name: str | os.PathLike[str] | None) -> Path:
    """'' / None: config/sim.yaml (the simulator's UR5e); a packaged name ('ur5e', 'fr3');
    else a path."""
    if not name:
        return config_path('sim.yaml')
    text = str(name)
    if text in packaged_arms():
        return share_dir() / 'config' / 'arms' / f'{text}.yaml'
    path = Path(os.path.expanduser(text))
    if not path.is_file():
        raise FileNotFoundError(f'arm configuration {text!r} is neither a file nor a packaged '
                                f'arm ({", ".join(packaged_arms())})')
    return path


def needs_description(config: str | os.PathLike[str] | None) -> bool:
    """Whether the configuration takes its kinematics from a URDF (it has a ``urdf`` section)."""
    return isinstance(_read(arm_config_path(config)).get('urdf'), dict)


def _read(path: Path) -> dict[str, Any]:
    with open(path, encoding='utf-8') as f:
        cfg = yaml.safe_load(f)
    if not isinstance(cfg, dict):
        raise ValueError(f'{path}: not a mapping of sections')
    return cfg


@dataclass
class Arm:
    """An arm ready to plan with: the completed configuration (``robot`` has joint_names,
    joint_lower/upper/velocity), its kinematics and, from a URDF, the UrdfArm."""

    cfg: dict[str, Any]
    kinematics: ArmKinematics
    urdf: UrdfArm | None = None
    config_path: str = ''

    @property
    def joint_names(self) -> list[str]:
        return list(self.cfg['robot']['joint_names'])

    @property
    def base_frame(self) -> str:
        return self.urdf.base_frame if self.urdf else 'base_link'


def load_arm(config: str | os.PathLike[str] | None = None, description: str | None = None,
             base_frame: str = '', tool_frame: str = '',
             joint_limits: str | os.PathLike[str] | None = None, mujoco: Any = None) -> Arm:
    """The arm of a configuration (see :func:`arm_config_path`) with its kinematics.

    ``description``: URDF XML text or a file path; required when the configuration has a
    ``urdf`` section, and with one a configuration without it (config/sim.yaml's rates and
    box) is used with the URDF's arm. ``base_frame`` / ``tool_frame`` ('' = the
    configuration's) and ``joint_limits`` (a joint_limits YAML) apply to a URDF arm.
    Raises UrdfError / ValueError / FileNotFoundError with one line saying what to fix.
    """
    # deferred: kinematics needs MuJoCo, loaded only when an arm is built
    from contrastive_vla.robot.kinematics import ArmKinematics
    from contrastive_vla.robot.mjcf import arm_model, import_mujoco
    from contrastive_vla.robot.urdf import urdf_kinematics

    path = arm_config_path(config)
    cfg = _read(path)
    section = cfg.get('urdf')
    mujoco = mujoco or import_mujoco()
    if section is None and not description:
        cfg = load_arm_config(path)
        robot = cfg['robot']
        kin = ArmKinematics(mujoco, arm_model(cfg, mujoco), robot['joint_names'],
                            robot['joint_lower'], robot['joint_upper'])
        return Arm(cfg, kin, None, str(path))
    section = dict(section or {})
    if not description:
        raise UrdfError(f'{path}: this arm takes its kinematics from a URDF: give the robot '
                        'description (the robot_description topic or parameter, or a urdf '
                        'file)')
    base = base_frame or section.get('base_frame') or ''
    tool = tool_frame or section.get('tool_frame') or ''
    urdf = load_urdf(description, base, tool, joint_limits or section.get('joint_limits'),
                     section.get('tcp_offset', (0.0, 0.0, 0.0)))
    robot = dict(cfg.get('robot') or {})
    # a URDF arm: joints and limits from the URDF, never from the YAML
    robot.update(joint_names=urdf.joint_names, joint_lower=urdf.lower, joint_upper=urdf.upper,
                 joint_velocity=urdf.velocity)
    if len(robot.get('home_joints') or ()) != len(urdf.joint_names):
        if section.get('base_frame') is not None:  # the configuration's own home is wrong
            home_within(urdf, robot.get('home_joints') or ())
        # another configuration's rates and box with this URDF: home mid-range
        robot['home_joints'] = [(lo + hi) / 2 for lo, hi in zip(urdf.lower, urdf.upper)]
    robot.setdefault('gripper_joint_names', [])
    robot.setdefault('finger_open', 0.0)
    robot.setdefault('finger_closed', 0.0)
    home_within(urdf, robot['home_joints'])
    cfg['robot'] = robot
    check_arm_config(cfg, path)
    return Arm(cfg, urdf_kinematics(urdf, mujoco), urdf, str(path))


def arm_state_names(config: str | os.PathLike[str] | None = None,
                    description: str | None = None) -> list[str] | None:
    """The robot state's joint names of an arm (its joints, then the gripper's): from the
    configuration, or for a URDF arm from the description; None when a URDF arm's description
    is not at hand (then the joints the arm driver publishes are the state)."""
    path = arm_config_path(config)
    cfg = _read(path)
    section = cfg.get('urdf')
    gripper = list((cfg.get('robot') or {}).get('gripper_joint_names') or [])
    if section is None and not description:
        robot = load_arm_config(path)['robot']
        return list(robot['joint_names']) + list(robot['gripper_joint_names'])
    if not description:
        return None
    section = dict(section or {})
    urdf = load_urdf(description, section.get('base_frame', ''), section.get('tool_frame', ''),
                     section.get('joint_limits'), section.get('tcp_offset', (0.0, 0.0, 0.0)))
    return urdf.joint_names + gripper

"""Any arm from its URDF: joints, limits and frames read from the vendor's robot description,
kinematics by MuJoCo compiling that URDF (meshes stripped, so no mesh file is needed).

This module does not interpret the URDF's kinematics itself: it removes the ``<visual>`` and
``<collision>`` geometry, asks MuJoCo's URDF compiler to keep every link as a body (fixed
joints included, so the named frames exist), adds a site at the tool frame (plus an optional
TCP offset) and lets MuJoCo do forward kinematics and Jacobians. Only the joint metadata MuJoCo
does not keep (the velocity limits, which joints lack limits) is read from the XML.

Frames: ``base_frame`` is the link the poses (and the workspace box) are expressed in; it must
not move with any joint. ``tool_frame`` is the link primitives are applied to. The arm's joints
are the movable joints on the path from the base to the tool, in order.

Joint limits: position and velocity limits from the URDF's ``<limit>``; a joint_limits YAML
(MoveIt / ros2_control format, ``joint_limits: {name: {has_position_limits, min_position,
max_position, has_velocity_limits, max_velocity}}``) can tighten them or give the limits a
joint lacks (a ``continuous`` joint). The tighter of the two wins, never the wider.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
import math
import os
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any
import xml.etree.ElementTree as ET

import numpy as np
import yaml

if TYPE_CHECKING:  # for the hints only: at run time mujoco comes via import_mujoco
    import mujoco

    from contrastive_vla.robot.kinematics import ArmKinematics

MOVABLE = {'revolute': 'hinge', 'continuous': 'hinge', 'prismatic': 'slide'}
TCP_SITE = 'tcp'


class UrdfError(ValueError):
    """A robot description the bridge cannot use; the message says what to fix."""

    user_facing = True


@dataclass
class UrdfArm:
    """The arm a URDF describes between two of its frames (see the module docstring)."""

    name: str
    base_frame: str
    tool_frame: str
    joint_names: list[str]
    lower: list[float]
    upper: list[float]
    velocity: list[float]
    xml: str                       # the URDF MuJoCo compiles (geometry stripped)
    tcp_offset: tuple[float, float, float] = (0.0, 0.0, 0.0)
    frames: list[str] = field(default_factory=list)  # every link name
    source: str = ''               # where the description came from (for messages)


def read_description(source: str) -> tuple[ET.Element, str]:
    """(root element, label) of a URDF given as XML text or a file path."""
    text, label = source, 'robot_description'
    # XML text (a robot_description, perhaps after a byte-order mark), else a file path
    if not source.lstrip('\ufeff \t\r\n').startswith('<') and '\n' not in source \
            and len(source) < 4096:
        path = Path(os.path.expanduser(source))
        try:
            text, label = path.read_text(encoding='utf-8'), str(path)
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            raise UrdfError(f'URDF file {source[:200]!r} cannot be read '
                            f'({type(exc).__name__}: {str(exc)[:200]})') from None
    try:
        root = ET.fromstring(text.lstrip('\ufeff'))
    except ET.ParseError as exc:
        raise UrdfError(f'{label}: not valid XML ({exc})') from None
    if root.tag != 'robot':
        raise UrdfError(f'{label}: not a URDF (root element <{root.tag}>, expected <robot>)')
    return root, label


def strip_geometry(root: ET.Element) -> ET.Element:
    """Remove visual and collision geometry (mesh files are not needed for kinematics), any
    ``<mujoco>`` block, and ros2_control / gazebo / transmission elements MuJoCo ignores."""
    for link in root.iter('link'):
        for tag in ('visual', 'collision'):
            for element in link.findall(tag):
                link.remove(element)
    for tag in ('mujoco', 'ros2_control', 'gazebo', 'transmission'):
        for element in root.findall(tag):
            root.remove(element)
    compiler = ET.SubElement(ET.SubElement(root, 'mujoco'), 'compiler')
    # keep every link as a body (the named frames), give massless links a token mass
    compiler.attrib.update(fusestatic='false', discardvisual='true', boundmass='1e-4',
                           boundinertia='1e-8', angle='radian')
    return root


def read_joint_limits(path: str | os.PathLike[str]) -> dict[str, dict[str, Any]]:
    """{joint: {has_position_limits, min_position, ...}} from a joint_limits YAML: a
    ``joint_limits:`` mapping at any depth (a MoveIt joint_limits.yaml, a ros2_control or
    robot_description_planning parameters file)."""
    try:
        with open(path, encoding='utf-8') as f:
            data = yaml.safe_load(f)
    except OSError as exc:
        raise UrdfError(f'joint limits file {str(path)!r}: {exc.strerror}') from None
    except yaml.YAMLError as exc:
        raise UrdfError(f'joint limits file {str(path)!r}: not valid YAML ({exc})') from None
    found = _find_key(data, 'joint_limits')
    if not isinstance(found, dict):
        raise UrdfError(f'joint limits file {str(path)!r} has no "joint_limits:" mapping')
    for name, entry in found.items():
        if not isinstance(entry, dict):
            raise UrdfError(f'joint limits file {str(path)!r}: joint {name!r} needs a mapping')
    return found


def _find_key(data: Any, key: str) -> Any:
    if isinstance(data, dict):
        if key in data:
            return data[key]
        for value in data.values():
            found = _find_key(value, key)
            if found is not None:
                return found
    return None


def _float(element: ET.Element | None, attribute: str) -> float | None:
    if element is None or element.get(attribute) is None:
        return None
    try:
        return float(element.get(attribute))
    except ValueError:
        return None


def _limits(joint: ET.Element, override: Mapping[str, Any] | None,
            label: str) -> tuple[float, float, float]:
    """(lower, upper, velocity) of one arm joint: the URDF's, tightened by the override."""
    name, kind = joint.get('name'), joint.get('type')
    limit = joint.find('limit')
    lower = upper = None
    if kind != 'continuous':
        lower, upper = _float(limit, 'lower'), _float(limit, 'upper')
    velocity = _float(limit, 'velocity')
    if velocity is not None and velocity <= 0:
        velocity = None  # URDF's 0 means "no limit given"
    o = override or {}
    if o.get('has_position_limits') and None not in (o.get('min_position'),
                                                     o.get('max_position')):
        lo, hi = float(o['min_position']), float(o['max_position'])
        lower = lo if lower is None else max(lower, lo)
        upper = hi if upper is None else min(upper, hi)
    if o.get('has_velocity_limits') and o.get('max_velocity') is not None:
        v = float(o['max_velocity'])
        if not v > 0:
            raise UrdfError(f'{label}: joint_limits: joint {name!r} max_velocity must be > 0, '
                            f'got {o["max_velocity"]!r}')
        velocity = v if velocity is None else min(velocity, v)
    missing = [what for what, value in (('position', lower), ('velocity', velocity))
               if value is None or not math.isfinite(value)]
    if missing:
        raise UrdfError(f'{label}: joint {name!r} ({kind}) has no {" or ".join(missing)} '
                        'limits: give them in a joint_limits YAML (has_position_limits, '
                        'min_position, max_position, has_velocity_limits, max_velocity)')
    if not lower < upper:
        raise UrdfError(f'{label}: joint {name!r} has an empty range [{lower}, {upper}]')
    return lower, upper, velocity


def _chain(root: ET.Element, base: str, tool: str, label: str) -> list[ET.Element]:
    """The movable joints from ``base`` to ``tool``, in order (base fixed to the root)."""
    links = [link.get('name') for link in root.findall('link')]
    for role, frame in (('base_frame', base), ('tool_frame', tool)):
        if frame not in links:
            raise UrdfError(f'{label}: {role} {frame!r} is not a link of the URDF (links: '
                            f'{", ".join(links)})')
    by_child = {j.find('child').get('link'): j for j in root.findall('joint')
                if j.find('child') is not None and j.find('parent') is not None}

    def ancestry(link: str) -> list[ET.Element]:
        path, seen = [], {link}
        while link in by_child:
            joint = by_child[link]
            path.append(joint)
            link = joint.find('parent').get('link')
            if link in seen:  # a URDF is a tree; a loop would never end
                raise UrdfError(f'{label}: the joints form a loop at link {link!r} (joint '
                                f'{joint.get("name")!r}); a URDF must be a tree')
            seen.add(link)
        return path[::-1]  # root first

    base_path, tool_path = ancestry(base), ancestry(tool)
    moving = [j.get('name') for j in base_path if j.get('type') != 'fixed']
    if moving:
        raise UrdfError(f'{label}: base_frame {base!r} moves with joint(s) '
                        f'{", ".join(moving)}; name a frame fixed to the robot base')
    shared = {id(j) for j in base_path}
    chain = [j for j in tool_path if id(j) not in shared and j.get('type') != 'fixed']
    for joint in chain:
        if joint.get('type') not in MOVABLE:
            raise UrdfError(f'{label}: joint {joint.get("name")!r} between {base!r} and '
                            f'{tool!r} is {joint.get("type")!r}; only revolute, continuous and '
                            'prismatic joints are supported')
    if not chain:
        raise UrdfError(f'{label}: no movable joint between {base!r} and {tool!r}')
    return chain


def load_urdf(source: str, base_frame: str, tool_frame: str,
              joint_limits: str | os.PathLike[str] | Mapping[str, Any] | None = None,
              tcp_offset: Sequence[float] = (0.0, 0.0, 0.0)) -> UrdfArm:
    """The arm between ``base_frame`` and ``tool_frame`` of a URDF (XML text or a file path).

    Raises UrdfError (one line) for a missing frame, a joint without limits, an unreadable
    file, a base that moves."""
    root, label = read_description(source)
    if not tool_frame:
        raise UrdfError(f'{label}: no tool_frame given (the link primitives move)')
    if not base_frame:
        raise UrdfError(f'{label}: no base_frame given (the frame poses are expressed in)')
    overrides: Mapping[str, Any] = {}
    if isinstance(joint_limits, Mapping):
        overrides = joint_limits
    elif joint_limits:
        overrides = read_joint_limits(joint_limits)
    chain = _chain(root, base_frame, tool_frame, label)
    limits = [_limits(j, overrides.get(j.get('name')), label) for j in chain]
    offset = tuple(float(v) for v in tcp_offset)
    if len(offset) != 3 or not all(math.isfinite(v) for v in offset):
        raise UrdfError(f'tcp_offset must be 3 numbers (m, in the tool frame), got {tcp_offset}')
    frames = [link.get('name') for link in root.findall('link')]
    xml = ET.tostring(strip_geometry(root), encoding='unicode')
    return UrdfArm(root.get('name', 'robot'), base_frame, tool_frame,
                   [j.get('name') for j in chain], [lo for lo, _, _ in limits],
                   [hi for _, hi, _ in limits], [v for _, _, v in limits], xml, offset,
                   frames, label)


def urdf_model(arm: UrdfArm, mujoco: ModuleType | None = None) -> mujoco.MjModel:
    """The arm as a MuJoCo model: the URDF compiled, a site ``tcp`` at the tool frame (plus the
    TCP offset). Nothing else (no scene, no rendering)."""
    if mujoco is None:
        # deferred: MuJoCo comes through import_mujoco, which picks the GL backend first
        from contrastive_vla.robot.mjcf import import_mujoco

        mujoco = import_mujoco()
    try:
        spec = mujoco.MjSpec.from_string(arm.xml)
        spec.body(arm.tool_frame).add_site(name=TCP_SITE, pos=list(arm.tcp_offset))
        return spec.compile()
    except Exception as exc:  # noqa: BLE001 - MuJoCo's compiler errors are ValueErrors mostly
        raise UrdfError(f'{arm.source}: MuJoCo cannot compile the URDF: '
                        f'{str(exc).splitlines()[0] if str(exc) else exc!r}') from None


def urdf_kinematics(arm: UrdfArm, mujoco: ModuleType | None = None) -> ArmKinematics:
    """ArmKinematics of the arm's tool frame, poses in its base frame."""
    from contrastive_vla.robot.kinematics import ArmKinematics
    from contrastive_vla.robot.mjcf import import_mujoco

    mujoco = mujoco or import_mujoco()
    model = urdf_model(arm, mujoco)
    return ArmKinematics(mujoco, model, arm.joint_names, arm.lower, arm.upper, site=TCP_SITE,
                         base_body=arm.base_frame)


def home_within(arm: UrdfArm, home: Sequence[float]) -> np.ndarray:
    """The home configuration as an array, checked against the arm's joints and limits."""
    q = np.asarray(home, dtype=np.float64)
    if q.shape != (len(arm.joint_names),):
        raise UrdfError(f'home_joints has {q.size} values; the arm {arm.name!r} has '
                        f'{len(arm.joint_names)} joints ({", ".join(arm.joint_names)})')
    bad = [n for n, v, lo, hi in zip(arm.joint_names, q, arm.lower, arm.upper)
           if not lo <= v <= hi]
    if bad:
        raise UrdfError(f'home_joints is outside the joint limits at {", ".join(bad)}')
    return q

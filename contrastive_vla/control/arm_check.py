"""Before powering an arm: plan every primitive of the vocabulary from a set of start poses
with the bridge's own planner, and count what would happen. No ROS, no simulator.

Start poses: the configuration's home, then the home orientation moved to a grid of points
inside the workspace box (solved by IK from home; points the arm cannot reach that way are
listed as unreachable starts). From each, every primitive is planned exactly as the arm bridge
plans it (:class:`~contrastive_vla.control.arm_commands.JointMotionPlanner`: safety checks,
workspace clamp, IK within the joint limits, Cartesian interpolation at the speed caps). A plan
counts as *reached* when the forward kinematics of its end point is within the IK tolerance of
the (clamped) target, *refused* with the planner's reason, and every planned trajectory is
checked again, independently, against the URDF's position and velocity limits
(``limit_violations``: must be 0).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from contrastive_vla.control.arm_commands import JointMotionPlanner, limits_from_config
from contrastive_vla.core.delta import clamp_to_box
from contrastive_vla.core.status import Outcome
from contrastive_vla.core.vocabulary import PrimitiveVocabulary
from contrastive_vla.robot import kinematics as kin
from contrastive_vla.robot.arms import Arm


def start_poses(arm: Arm, grid: int = 3, margin: float = 0.05) -> tuple[
        list[NDArray[np.float64]], list[list[float]]]:
    """(joint configurations, unreachable TCP points): home, then the home orientation at a
    ``grid``^3 of points in the workspace box shrunk by ``margin`` m."""
    cfg = arm.cfg
    control = cfg['control']
    home = np.asarray(cfg['robot']['home_joints'], dtype=np.float64)
    _, home_rot = arm.kinematics.fk(home)
    lower = np.asarray(cfg['workspace']['lower']) + margin
    upper = np.asarray(cfg['workspace']['upper']) - margin
    axes = [np.linspace(lo, hi, grid) if grid > 1 else [(lo + hi) / 2]
            for lo, hi in zip(lower, upper)]
    poses, unreachable = [home], []
    for x in axes[0]:
        for y in axes[1]:
            for z in axes[2]:
                point = np.array([x, y, z])
                q, pos_err, rot_err = arm.kinematics.ik(point, home_rot, home, iterations=300)
                if pos_err <= control['ik_tolerance_m'] and rot_err <= control[
                        'ik_tolerance_rad']:
                    poses.append(q)
                else:
                    unreachable.append(np.round(point, 3).tolist())
    return poses, unreachable


def violations(q_start: NDArray[np.float64], points: NDArray[np.float64],
               times: NDArray[np.float64], lower: NDArray[np.float64],
               upper: NDArray[np.float64], velocity: NDArray[np.float64]) -> list[str]:
    """Position and velocity limit violations of a trajectory (independent of the planner)."""
    out = []
    below = np.argwhere(points < lower - 1e-9)
    above = np.argwhere(points > upper + 1e-9)
    out += [f'point {k} joint {j} below its lower limit' for k, j in below[:3]]
    out += [f'point {k} joint {j} above its upper limit' for k, j in above[:3]]
    path = np.vstack([q_start[None], points])
    dt = np.diff(np.concatenate([[0.0], times]))[:, None]
    speed = np.abs(np.diff(path, axis=0)) / dt
    fast = np.argwhere(speed > velocity[None] * (1 + 1e-6))
    out += [f'segment {k} joint {j} at {speed[k, j]:.2f} rad/s' for k, j in fast[:3]]
    return out


def reachable_box(arm: Arm, samples: int = 20000, seed: int = 0) -> dict[str, list[float]]:
    """Bounding box of the TCP over uniformly sampled joint configurations (base frame)."""
    rng = np.random.default_rng(seed)
    k = arm.kinematics
    points = np.array([k.fk(rng.uniform(k.lower, k.upper))[0] for _ in range(samples)])
    return {'lower': np.round(points.min(axis=0), 3).tolist(),
            'upper': np.round(points.max(axis=0), 3).tolist()}


def check_arm(arm: Arm, bridge_params: Mapping[str, Any],
              vocab: PrimitiveVocabulary | None = None, grid: int = 3,
              box_samples: int = 20000) -> dict[str, Any]:
    """The report (JSON-ready) of planning every primitive from every start pose."""
    vocab = vocab or PrimitiveVocabulary.load()
    cfg = arm.cfg
    limits = limits_from_config(cfg, bridge_params)
    planner = JointMotionPlanner(arm.kinematics, limits, cfg['control'])
    control = planner.control
    lower, upper = np.asarray(limits.joint_lower), np.asarray(limits.joint_upper)
    velocity = np.asarray(limits.joint_velocity)
    box_lo, box_hi = np.asarray(limits.workspace_lower), np.asarray(limits.workspace_upper)
    poses, unreachable = start_poses(arm, grid)
    rows = {p.name: {'primitive': p.name, 'family': p.axis, 'plans': 0, 'reached': 0,
                     'clamped': 0, 'refused': 0, 'limit_violations': 0, 'reasons': Counter()}
            for p in vocab}
    margins = []
    per_start = []
    for q0 in poses:
        start_pos, start_rot = arm.kinematics.fk(q0)
        start_violations = 0
        for p in vocab:
            row = rows[p.name]
            row['plans'] += 1
            delta = p.delta_array()
            plan = planner.plan(q0, delta)
            if p.is_gripper:
                row['reached' if plan.status == Outcome.DONE else 'refused'] += 1
                continue
            if not plan.moves:
                row['refused'] += 1
                row['reasons'][_reason(plan.message)] += 1
                continue
            bad = violations(q0, plan.points, plan.times, lower, upper, velocity)
            if bad:
                row['limit_violations'] += 1
                start_violations += 1
                row['reasons']['limit violation: ' + bad[0]] += 1
            margins.append(float(min(np.min(plan.points - lower), np.min(upper - plan.points))))
            goal_pos, goal_rot = kin.target_pose(start_pos, start_rot, delta)
            goal_pos, clamped = clamp_to_box(goal_pos, box_lo, box_hi)
            end_pos, end_rot = arm.kinematics.fk(plan.points[-1])
            pos_err, rot_err = kin.pose_error(goal_pos, goal_rot, end_pos, end_rot)
            if pos_err <= control['ik_tolerance_m'] and rot_err <= control['ik_tolerance_rad']:
                row['reached'] += 1
                row['clamped'] += int(clamped)
            else:
                row['refused'] += 1
                row['reasons'][f'end point {pos_err * 100:.1f} cm / '
                               f'{math.degrees(rot_err):.1f} deg off the target'] += 1
        per_start.append({'tcp': np.round(start_pos, 3).tolist(),
                          'limit_violations': start_violations})
    primitives = []
    for row in rows.values():
        row['reasons'] = dict(row['reasons'].most_common())
        primitives.append(row)
    families: dict[str, dict[str, int]] = {}
    for row in primitives:
        f = families.setdefault(row['family'], {'plans': 0, 'reached': 0})
        f['plans'] += row['plans']
        f['reached'] += row['reached']
    total = {key: sum(row[key] for row in primitives)
             for key in ('plans', 'reached', 'clamped', 'refused', 'limit_violations')}
    urdf = arm.urdf
    return {
        'arm': {'config': arm.config_path, 'urdf': urdf.source if urdf else None,
                'base_frame': arm.base_frame, 'tool_frame': urdf.tool_frame if urdf else 'tcp',
                'joints': [{'joint': n, 'lower': round(lo, 4), 'upper': round(hi, 4),
                            'velocity': round(v, 4)}
                           for n, lo, hi, v in zip(arm.joint_names, lower, upper, velocity)]},
        'workspace': limits.workspace,
        'start_poses': len(poses), 'unreachable_starts': unreachable,
        'per_start': per_start,
        **total,
        'families': {name: {**f, 'share_reached': round(f['reached'] / max(f['plans'], 1), 3)}
                     for name, f in families.items()},
        'min_joint_limit_margin': round(min(margins), 4) if margins else None,
        'reachable_box': reachable_box(arm, box_samples) if box_samples else None,
        'primitives': primitives,
    }


def _reason(message: str) -> str:
    """A refusal's reason without its numbers, so equal reasons count together."""
    text = message.split(' (residual')[0]
    if 'leaves the reachable space' in text:
        return 'the straight-line path leaves the reachable space'
    return text


def table(report: Mapping[str, Any]) -> str:
    """The report as a plain-text table, one row per primitive, then the totals."""
    lines = [f'{"primitive":<22} {"family":<13} {"plans":>5} {"reached":>7} {"clamped":>7} '
             f'{"refused":>7} {"limit":>5}  main refusal reason']
    for row in report['primitives']:
        reason = next(iter(row['reasons']), '')
        lines.append(f'{row["primitive"]:<22} {row["family"]:<13} {row["plans"]:>5} '
                     f'{row["reached"]:>7} {row["clamped"]:>7} {row["refused"]:>7} '
                     f'{row["limit_violations"]:>5}  {reason}')
    lines.append('')
    lines.append('family         share reached')
    for name, f in report['families'].items():
        lines.append(f'{name:<14} {f["share_reached"]:.3f} ({f["reached"]}/{f["plans"]})')
    lines.append('')
    lines.append(f'{report["start_poses"]} start poses ({len(report["unreachable_starts"])} '
                 f'grid points unreachable with the home orientation), {report["plans"]} plans: '
                 f'{report["reached"]} reached ({report["clamped"]} at the workspace boundary), '
                 f'{report["refused"]} refused, {report["limit_violations"]} limit violations; '
                 f'smallest joint-limit margin {report["min_joint_limit_margin"]} rad')
    if report.get('reachable_box'):
        lines.append(f'reachable box (TCP, {report["arm"]["base_frame"]} frame): '
                     f'{report["reachable_box"]["lower"]} .. {report["reachable_box"]["upper"]}; '
                     f'workspace box {report["workspace"]["lower"]} .. '
                     f'{report["workspace"]["upper"]}')
    return '\n'.join(lines)

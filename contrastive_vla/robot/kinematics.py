"""Cartesian control of the simulated arm: differential IK and primitive execution.

A primitive's 8-D delta becomes a target pose of the tool centre point (TCP): translation in the
base frame, roll/pitch/yaw about the base axes around the TCP, wrist rotation about the tool's
approach axis. The target is checked before anything moves: it is clamped into the workspace
box (reported as ``clamped``), solved with damped-least-squares IK within the joint limits, and
refused as ``unreachable`` when IK cannot get within tolerance. The motion is then interpolated
(linear in position, geodesic in orientation) over enough control ticks to respect the
Cartesian and joint speed limits, and tracked by the joint position actuators.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
import math
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from contrastive_vla.core.delta import GRIPPER_INDEX, DeltaError, as_delta, clamp_to_box
from contrastive_vla.core.status import AT_BOUNDARY, Outcome
from contrastive_vla.core.vocabulary import axis_rotation

# a clamped motion shorter than this is no motion: the arm was already at the boundary (it
# settles a fraction of a millimetre off it), the message says so (core.status.AT_BOUNDARY)
BOUNDARY_STILL_M = 0.002
BOUNDARY_STILL_RAD = math.radians(1.0)

if TYPE_CHECKING:  # for the hints only: at run time mujoco comes via import_mujoco
    import mujoco


@dataclass
class MotionResult:
    status: Outcome
    message: str = ''
    ticks: int = 0

    @property
    def ok(self) -> bool:
        return Outcome(self.status).moved


def skew(v: ArrayLike) -> NDArray[np.float64]:
    return np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])


def rotvec_to_matrix(r: ArrayLike) -> NDArray[np.float64]:
    """Rodrigues: rotation vector (axis * angle, radians) -> 3x3 matrix."""
    angle = float(np.linalg.norm(r))
    if angle < 1e-12:
        return np.eye(3) + skew(r)
    k = skew(np.asarray(r) / angle)
    return np.eye(3) + math.sin(angle) * k + (1 - math.cos(angle)) * k @ k


def matrix_to_rotvec(m: NDArray[np.float64]) -> NDArray[np.float64]:
    """Inverse of :func:`rotvec_to_matrix`, robust near 0 and pi."""
    # on Python floats: numpy's per-call overhead on 3x3 arrays was most of an IK iteration
    (m00, m01, m02), (m10, m11, m12), (m20, m21, m22) = m.tolist()
    cos = max(-1.0, min(1.0, (m00 + m11 + m22 - 1) / 2))
    angle = math.acos(cos)
    if angle < 1e-7:
        return np.array([0.5 * (m21 - m12), 0.5 * (m02 - m20), 0.5 * (m10 - m01)])
    if angle > math.pi - 1e-4:
        # axis from the symmetric part: R = 2 a a^T - I at angle pi
        a = np.sqrt(np.maximum((np.diag(m) + 1) / 2, 0))
        i = int(np.argmax(a))
        a[(i + 1) % 3] = math.copysign(a[(i + 1) % 3], m[i, (i + 1) % 3] + m[(i + 1) % 3, i])
        a[(i + 2) % 3] = math.copysign(a[(i + 2) % 3], m[i, (i + 2) % 3] + m[(i + 2) % 3, i])
        return a / np.linalg.norm(a) * angle
    scale = 2 * math.sin(angle)
    return np.array([(m21 - m12) / scale * angle, (m02 - m20) / scale * angle,
                     (m10 - m01) / scale * angle])


def target_pose(position: ArrayLike, rotation: ArrayLike,
                delta: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Apply an 8-D primitive delta to a TCP pose (base frame); returns (position, rotation)."""
    d = np.asarray(delta, dtype=np.float64)
    new_position = np.asarray(position, dtype=np.float64) + d[:3]
    new_rotation = np.asarray(rotation, dtype=np.float64)
    for i, axis in enumerate(('roll', 'pitch', 'yaw')):
        if d[3 + i] != 0:
            new_rotation = axis_rotation(axis, d[3 + i]) @ new_rotation
    if d[6] != 0:
        # about the tool's own approach (z) axis: right-multiply
        new_rotation = new_rotation @ axis_rotation('yaw', d[6])
    return new_position, new_rotation


class ArmKinematics:
    """IK and FK of the arm's TCP on a private MjData (never disturbs the simulation)."""

    def __init__(self, mujoco: ModuleType, model: mujoco.MjModel, joint_names: Sequence[str],
                 lower: ArrayLike, upper: ArrayLike, site: str = 'tcp',
                 base_body: str | None = None, nullspace_gain: float | None = None) -> None:
        """``base_body``: poses are expressed in this body's frame (fixed to the world; None:
        the world frame). ``nullspace_gain``: for a redundant arm (more than 6 joints, the
        default then 0.5), each IK step also moves, within the null space of the task, toward
        the seed configuration and away from joint limits it is close to; 0 turns it off."""
        self.mj = mujoco
        self.model = model
        self.scratch = mujoco.MjData(model)
        self.site = model.site(site).id
        self.qpos_index = np.array([model.joint(n).qposadr[0] for n in joint_names])
        self.dof_index = np.array([model.joint(n).dofadr[0] for n in joint_names])
        self.lower = np.asarray(lower, dtype=np.float64)
        self.upper = np.asarray(upper, dtype=np.float64)
        # the Jacobian's two halves are rows of one array (mj_jacSite fills them in place)
        self._jac = np.zeros((6, model.nv))
        self._jacp, self._jacr = self._jac[:3], self._jac[3:]
        # views into the scratch data (MjData's arrays never move): no lookups per iteration
        self._site_pos = self.scratch.site_xpos[self.site]
        self._site_rot = self.scratch.site_xmat[self.site].reshape(3, 3)
        first = int(self.qpos_index[0])
        contiguous = np.array_equal(self.qpos_index, np.arange(first, first + len(joint_names)))
        self._qpos = (self.scratch.qpos[first:first + len(joint_names)] if contiguous
                      else None)
        if nullspace_gain is None:
            nullspace_gain = 0.5 if len(joint_names) > 6 else 0.0
        self.nullspace_gain = float(nullspace_gain)
        # the base's pose in the world (it moves with no joint: computed once)
        self.base_pos, self.base_rot = np.zeros(3), np.eye(3)
        if base_body is not None:
            mujoco.mj_kinematics(model, self.scratch)
            b = model.body(base_body).id
            self.base_pos = self.scratch.xpos[b].copy()
            self.base_rot = self.scratch.xmat[b].reshape(3, 3).copy()

    def fk(self, q: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """TCP position and rotation matrix in the base frame."""
        d = self.scratch
        d.qpos[self.qpos_index] = q
        self.mj.mj_kinematics(self.model, d)
        pos, rot = d.site_xpos[self.site], d.site_xmat[self.site].reshape(3, 3)
        return self.base_rot.T @ (pos - self.base_pos), self.base_rot.T @ rot

    def ik(self, position: NDArray[np.float64], rotation: NDArray[np.float64], q_seed: ArrayLike,
           iterations: int = 60, damping: float = 0.03, tol_m: float = 1e-4,
           tol_rad: float = 1e-3) -> tuple[NDArray[np.float64], float, float]:
        """Damped least squares from ``q_seed``; returns (q, position error m, angle error rad).

        Joint limits are enforced at every iteration (the solution is always within them).
        """
        q = np.clip(np.asarray(q_seed, dtype=np.float64), self.lower, self.upper)
        seed = q.copy()
        # the target in the world frame, where MuJoCo computes
        position = self.base_rot @ np.asarray(position) + self.base_pos
        rotation = self.base_rot @ np.asarray(rotation)
        d, mj, model = self.scratch, self.mj, self.model
        regulariser = damping ** 2 * np.eye(6)
        lower, upper = self.lower, self.upper
        pos_err = rot_err = math.inf
        for _ in range(iterations):
            e_pos, e_rot = self._pose_errors(q, position, rotation)
            pos_err, rot_err = math.sqrt(e_pos @ e_pos), math.sqrt(e_rot @ e_rot)
            if pos_err < tol_m and rot_err < tol_rad:
                break
            mj.mj_comPos(model, d)  # the Jacobian needs it; the errors above do not
            mj.mj_jacSite(model, d, self._jacp, self._jacr, self.site)
            jac = self._jac[:, self.dof_index]
            err = np.concatenate([e_pos, e_rot])
            dq = jac.T @ np.linalg.solve(jac @ jac.T + regulariser, err)
            if self.nullspace_gain > 0:
                # the exact null-space projector for the posture, so the posture term cannot
                # pull the tool off its target
                null = np.eye(len(q)) - np.linalg.pinv(jac, rcond=1e-3) @ jac
                dq += null @ (self.nullspace_gain * self.secondary(q, seed))
            step = float(np.abs(dq).max())
            if step > 0.3:
                dq *= 0.3 / step
            q = np.minimum(np.maximum(q + dq, lower), upper)
        else:  # out of iterations: the errors reported are those of the q returned
            e_pos, e_rot = self._pose_errors(q, position, rotation)
            pos_err, rot_err = math.sqrt(e_pos @ e_pos), math.sqrt(e_rot @ e_rot)
        return q, pos_err, rot_err

    def _pose_errors(self, q: NDArray[np.float64], position: NDArray[np.float64],
                     rotation: NDArray[np.float64]) -> tuple[NDArray[np.float64],
                                                             NDArray[np.float64]]:
        """(position error, rotation vector error) of the TCP at ``q`` against a world-frame
        target; leaves the scratch data's kinematics at ``q``."""
        if self._qpos is not None:
            self._qpos[:] = q
        else:
            self.scratch.qpos[self.qpos_index] = q
        self.mj.mj_kinematics(self.model, self.scratch)
        return (position - self._site_pos,
                matrix_to_rotvec(rotation @ self._site_rot.T))

    def secondary(self, q: NDArray[np.float64], seed: NDArray[np.float64],
                  margin: float = 0.15) -> NDArray[np.float64]:
        """The redundant arm's secondary motion: toward the seed configuration (stay near the
        current posture), and away from a limit within ``margin`` of the joint's range."""
        span = self.upper - self.lower
        low = np.clip((self.lower + margin * span - q) / (margin * span), 0, None)
        high = np.clip((q - (self.upper - margin * span)) / (margin * span), 0, None)
        return (seed - q) + (low - high) * margin * span


def plan_motion(kin: ArmKinematics, q_start: ArrayLike, delta: ArrayLike,
                workspace: Mapping[str, Any], control: Mapping[str, Any],
                velocity_limits: ArrayLike) -> tuple[MotionResult, NDArray[np.float64] | None]:
    """Plan the joint waypoints of a primitive delta; pure apart from the IK scratch data.

    Returns ``(MotionResult, waypoints)``; waypoints is an array (ticks, n_joints), empty when
    nothing may move.
    """
    try:
        d = as_delta(delta)
    except DeltaError as exc:
        return MotionResult(Outcome.REJECTED, str(exc)), None
    start_pos, start_rot = kin.fk(q_start)
    goal_pos, goal_rot = target_pose(start_pos, start_rot, d)
    lower, upper = np.asarray(workspace['lower']), np.asarray(workspace['upper'])
    goal_pos, clamped = clamp_to_box(goal_pos, lower, upper)
    message = ''
    if clamped:
        message = (f'target {np.round(start_pos + d[:3], 3).tolist()} is outside the workspace '
                   f'box; stopping at {np.round(goal_pos, 3).tolist()}')
    q_goal, pos_err, rot_err = kin.ik(goal_pos, goal_rot, q_start)
    if pos_err > control['ik_tolerance_m'] or rot_err > control['ik_tolerance_rad']:
        return MotionResult(Outcome.UNREACHABLE,
                            f'IK cannot reach the target within the joint limits '
                            f'(residual {pos_err * 100:.1f} cm, '
                            f'{math.degrees(rot_err):.1f} deg)'), None
    distance = float(np.linalg.norm(goal_pos - start_pos))
    rotvec = matrix_to_rotvec(goal_rot @ start_rot.T)
    angle = float(np.linalg.norm(rotvec))
    tick = control['tick']
    ticks = max(control['min_ticks'],
                math.ceil(distance / (control['max_linear_speed'] * tick)),
                math.ceil(angle / (control['max_angular_speed'] * tick)))
    # joint speed: plan again with more ticks if any joint would move too fast
    for _attempt in range(4):
        waypoints, ok = [], True
        q = np.asarray(q_start, dtype=np.float64)
        for k in range(1, ticks + 1):
            s = k / ticks
            pos = start_pos + s * (goal_pos - start_pos)
            rot = rotvec_to_matrix(s * rotvec) @ start_rot
            q_next, pe, re = kin.ik(pos, rot, q, iterations=30)
            if pe > control['ik_tolerance_m'] or re > control['ik_tolerance_rad']:
                return MotionResult(Outcome.UNREACHABLE,
                                    'the straight-line path leaves the reachable '
                                    f'space at {s:.0%} of the motion'), None
            waypoints.append(q_next)
            q = q_next
        steps = np.abs(np.diff(np.vstack([q_start] + waypoints), axis=0))
        needed = float(np.max(steps / (np.asarray(velocity_limits) * tick)))
        if needed <= 1.0:
            break
        ticks = math.ceil(ticks * needed * 1.05)
        ok = False
    if not ok:
        return MotionResult(Outcome.UNREACHABLE,
                            'the motion needs joint speeds above the limits'), None
    status = Outcome.CLAMPED if clamped else Outcome.DONE
    if clamped and distance < BOUNDARY_STILL_M and angle < BOUNDARY_STILL_RAD:
        message = f'{AT_BOUNDARY} (moves {distance * 1000:.1f} mm): {message}'
    return MotionResult(status, message, ticks=len(waypoints)), np.vstack(waypoints)


def pose_error(goal_pos: ArrayLike, goal_rot: NDArray[np.float64], pos: NDArray[np.float64],
               rot: NDArray[np.float64]) -> tuple[float, float]:
    """(distance m, angle rad) between a pose and the goal pose."""
    return (float(np.linalg.norm(np.asarray(goal_pos) - pos)),
            float(np.linalg.norm(matrix_to_rotvec(goal_rot @ rot.T))))


def obstruction(position_error: float, rotation_error: float) -> str | None:
    """Why a finished motion counts as obstructed (more than 1 cm or 5 degrees short of its
    target after settling: contact held the arm back), or None when it got there."""
    if position_error > 0.01 or rotation_error > math.radians(5):
        return (f'stopped {position_error * 100:.1f} cm / {math.degrees(rotation_error):.1f} '
                'deg short of the target')
    return None


def gripper_command(delta: ArrayLike) -> int:
    """+1 open, -1 close, 0 leave the gripper alone."""
    value = float(np.asarray(delta)[GRIPPER_INDEX])
    return 0 if value == 0 else (1 if value > 0 else -1)

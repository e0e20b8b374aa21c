"""Primitive delta -> arm commands, after the safety checks. No ROS here.

``JointMotionPlanner`` turns a delta into a timed joint trajectory for a ros2_control joint
trajectory controller: target pose from the current joint positions (forward kinematics of the
arm model), clamped into the workspace box, solved by IK within the joint limits, interpolated
in Cartesian space at the speed limits (the simulator's own ``plan_motion``, so the ROS graph
moves the arm exactly as ``eval-sim`` does), then checked point by point against the joint and
velocity limits. ``twist_plan`` in ``safety`` does the same for MoveIt Servo.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from contrastive_vla.control import safety
from contrastive_vla.core.delta import GRIPPER_INDEX
from contrastive_vla.core.status import Outcome
from contrastive_vla.robot import kinematics as kin


@dataclass
class JointPlan:
    status: Outcome                            # DONE / CLAMPED / UNREACHABLE / REJECTED
    message: str
    points: NDArray[np.float64] | None = None  # (k, n) joint positions
    times: NDArray[np.float64] | None = None   # (k,) seconds from the start
    gripper: int = 0                           # +1 open, -1 close, 0 unchanged

    @property
    def moves(self) -> bool:
        return self.points is not None and len(self.points) > 0

    @property
    def duration(self) -> float:
        return float(self.times[-1]) if self.moves else 0.0


def limits_from_config(sim_cfg: Mapping[str, Any],
                       bridge_params: Mapping[str, Any]) -> safety.ArmSafetyLimits:
    """ArmSafetyLimits from the arm description (config/sim.yaml) and the bridge parameters."""
    p = bridge_params
    robot, control, box = sim_cfg['robot'], sim_cfg['control'], sim_cfg['workspace']
    return safety.ArmSafetyLimits(
        workspace_lower=tuple(p.get('workspace_lower') or box['lower']),
        workspace_upper=tuple(p.get('workspace_upper') or box['upper']),
        # the per-step limits are the bridge's parameters (ros/node_parameters.py), no default here
        max_step_translation=float(p['max_step_translation']),
        max_step_rotation=float(p['max_step_rotation']),
        max_linear_speed=float(p.get('max_linear_speed') or control['max_linear_speed']),
        max_angular_speed=float(p.get('max_angular_speed') or control['max_angular_speed']),
        joint_lower=tuple(robot['joint_lower']), joint_upper=tuple(robot['joint_upper']),
        joint_velocity=tuple(robot['joint_velocity']))


class JointMotionPlanner:
    def __init__(self, kinematics: kin.ArmKinematics, limits: safety.ArmSafetyLimits,
                 control: Mapping[str, Any]) -> None:
        self.kin = kinematics
        self.limits = limits
        # the speed caps of the bridge win over the simulator's defaults
        self.control = dict(control, max_linear_speed=limits.max_linear_speed,
                            max_angular_speed=limits.max_angular_speed)

    def plan(self, q_now: ArrayLike, delta: ArrayLike) -> JointPlan:
        try:
            d = safety.check_delta(delta, self.limits)
            q_now = safety.check_joint_positions(q_now, self.limits, what='current joint state')
        except safety.SafetyError as exc:
            return JointPlan(Outcome.REJECTED, str(exc))
        gripper = kin.gripper_command(d)
        if not np.any(d[:GRIPPER_INDEX] != 0):
            return JointPlan(Outcome.DONE, '', None, None, gripper)
        result, waypoints = kin.plan_motion(self.kin, q_now, d, self.limits.workspace,
                                            self.control, self.limits.joint_velocity)
        if waypoints is None:
            return JointPlan(result.status, result.message, None, None, 0)
        times = self.control['tick'] * np.arange(1, len(waypoints) + 1)
        try:
            safety.check_trajectory(q_now, waypoints, times, self.limits)
            end, _ = self.kin.fk(waypoints[-1])
            if not safety.inside_workspace(end, self.limits, tolerance=2e-3):
                raise safety.SafetyError(f'planned end point {np.round(end, 3).tolist()} '
                                             'is outside the workspace box')
        except safety.SafetyError as exc:
            return JointPlan(Outcome.REJECTED, str(exc))
        return JointPlan(result.status, result.message, waypoints, times, gripper)

    def tracking_error(self, q_goal: ArrayLike, q_now: ArrayLike) -> tuple[float, float]:
        """(position error m, rotation error rad) of the TCP between two joint vectors."""
        return kin.pose_error(*self.kin.fk(q_goal), *self.kin.fk(q_now))

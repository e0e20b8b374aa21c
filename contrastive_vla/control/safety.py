"""Safety checks of the arm-command bridge: pure functions, no ROS, no simulator.

Every command the bridge sends has passed these. They refuse rather than guess: a delta with a
NaN, a step larger than the per-step limit, a joint target outside the joint limits, or a
trajectory segment faster than the joint velocity limits is rejected with a reason; a target
outside the workspace box is clamped onto it (and reported), so "move left" at the boundary
stops at the boundary instead of leaving the box. Units: metres, radians, seconds; positions in
the robot base frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

from contrastive_vla.core.delta import GRIPPER_INDEX, DeltaError, as_delta, clamp_to_box


class SafetyError(ValueError):
    """A command that must not reach the arm; the message says which limit and by how much."""


@dataclass(frozen=True)
class ArmSafetyLimits:
    workspace_lower: tuple[float, ...]  # (3,) TCP box, base frame (m)
    workspace_upper: tuple[float, ...]
    max_step_translation: float         # largest translation one primitive may ask for (m)
    max_step_rotation: float            # largest rotation one primitive may ask for (rad)
    max_linear_speed: float             # TCP speed cap (m/s)
    max_angular_speed: float            # TCP angular speed cap (rad/s)
    joint_lower: tuple[float, ...] = field(default=())     # (n,) rad
    joint_upper: tuple[float, ...] = field(default=())
    joint_velocity: tuple[float, ...] = field(default=())  # (n,) rad/s

    def __post_init__(self) -> None:
        lower, upper = np.asarray(self.workspace_lower), np.asarray(self.workspace_upper)
        if lower.shape != (3,) or upper.shape != (3,) or np.any(lower >= upper):
            raise ValueError(f'workspace box needs 3 lower < upper values, got {lower.tolist()} '
                             f'/ {upper.tolist()}')
        for name in ('max_step_translation', 'max_step_rotation', 'max_linear_speed',
                     'max_angular_speed'):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f'{name} must be a positive number, got {value!r}')
        n = len(self.joint_lower)
        if len(self.joint_upper) != n or (self.joint_velocity and len(self.joint_velocity) != n):
            raise ValueError('joint_lower, joint_upper and joint_velocity need one value per '
                             'joint')
        if n and np.any(np.asarray(self.joint_lower) >= np.asarray(self.joint_upper)):
            raise ValueError('every joint needs lower < upper')

    @property
    def workspace(self) -> dict[str, list[float]]:
        return {'lower': list(self.workspace_lower), 'upper': list(self.workspace_upper)}


def check_delta(delta: ArrayLike, limits: ArmSafetyLimits) -> NDArray[np.float64]:
    """Validate a primitive delta (:func:`~contrastive_vla.core.delta.as_delta`, then the
    per-step and gripper limits); returns it as a float array or raises SafetyError."""
    try:
        d = as_delta(delta)
    except DeltaError as exc:
        raise SafetyError(str(exc)) from None
    translation = float(np.linalg.norm(d[:3]))
    if translation > limits.max_step_translation + 1e-9:
        raise SafetyError(f'translation step {translation:.3f} m exceeds the per-step '
                              f'limit {limits.max_step_translation:.3f} m')
    rotation = float(np.linalg.norm(d[3:GRIPPER_INDEX]))
    if rotation > limits.max_step_rotation + 1e-9:
        raise SafetyError(f'rotation step {rotation:.3f} rad exceeds the per-step limit '
                              f'{limits.max_step_rotation:.3f} rad')
    if d[GRIPPER_INDEX] not in (-1.0, 0.0, 1.0):
        raise SafetyError(f'gripper command must be -1 (close), 0 (unchanged) or +1 (open), '
                              f'got {d[GRIPPER_INDEX]}')
    return d


def clamp_to_workspace(position: ArrayLike,
                       limits: ArmSafetyLimits) -> tuple[NDArray[np.float64], bool]:
    """(clamped position, whether it was clamped)."""
    return clamp_to_box(position, limits.workspace_lower, limits.workspace_upper)


def inside_workspace(position: ArrayLike, limits: ArmSafetyLimits,
                     tolerance: float = 1e-6) -> bool:
    p = np.asarray(position, dtype=np.float64)
    return bool(np.all(p >= np.asarray(limits.workspace_lower) - tolerance)
                and np.all(p <= np.asarray(limits.workspace_upper) + tolerance))


def check_joint_positions(q: ArrayLike, limits: ArmSafetyLimits,
                          what: str = 'joint target') -> NDArray[np.float64]:
    """Raise SafetyError unless ``q`` is finite and within the joint limits."""
    q = np.asarray(q, dtype=np.float64).reshape(-1)
    if not np.all(np.isfinite(q)):
        raise SafetyError(f'{what} has non-finite values: {q.tolist()}')
    if limits.joint_lower:
        lower, upper = np.asarray(limits.joint_lower), np.asarray(limits.joint_upper)
        if q.shape != lower.shape:
            raise SafetyError(f'{what} has {q.shape[0]} joints; expected {lower.shape[0]}')
        bad = np.flatnonzero((q < lower - 1e-9) | (q > upper + 1e-9))
        if bad.size:
            i = int(bad[0])
            raise SafetyError(f'{what}: joint {i} at {q[i]:.3f} rad is outside '
                                  f'[{lower[i]:.3f}, {upper[i]:.3f}]')
    return q


def check_trajectory(q_start: ArrayLike, waypoints: ArrayLike, times: ArrayLike,
                     limits: ArmSafetyLimits) -> NDArray[np.float64]:
    """Every point within the joint limits, every segment within the joint velocity limits.

    ``waypoints`` (k, n) joint positions reached at ``times`` (k,) seconds after the start.
    """
    points = np.asarray(waypoints, dtype=np.float64)
    times = np.asarray(times, dtype=np.float64)
    if points.ndim != 2 or points.shape[0] != times.shape[0] or points.shape[0] == 0:
        raise SafetyError('trajectory needs one time per waypoint and at least one point')
    if np.any(np.diff(np.concatenate([[0.0], times])) <= 0):
        raise SafetyError('trajectory times must increase from 0')
    for k, q in enumerate(points):
        check_joint_positions(q, limits, what=f'waypoint {k}')
    if limits.joint_velocity:
        path = np.vstack([np.asarray(q_start, dtype=np.float64)[None], points])
        dt = np.diff(np.concatenate([[0.0], times]))[:, None]
        speed = np.abs(np.diff(path, axis=0)) / dt
        ratio = speed / np.asarray(limits.joint_velocity)[None]
        if np.max(ratio) > 1.0 + 1e-6:
            k, j = np.unravel_index(int(np.argmax(ratio)), ratio.shape)
            raise SafetyError(f'segment {k} moves joint {j} at {speed[k, j]:.2f} rad/s, '
                                  f'above its limit {limits.joint_velocity[j]:.2f} rad/s')
    return points


def limit_twist(linear: ArrayLike, angular: ArrayLike,
                limits: ArmSafetyLimits) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Scale a twist down (direction kept) to the linear and angular speed caps."""
    v = np.asarray(linear, dtype=np.float64)
    w = np.asarray(angular, dtype=np.float64)
    if not (np.all(np.isfinite(v)) and np.all(np.isfinite(w))):
        raise SafetyError('twist has non-finite values')
    scale = 1.0
    speed, turn = float(np.linalg.norm(v)), float(np.linalg.norm(w))
    if speed > limits.max_linear_speed:
        scale = min(scale, limits.max_linear_speed / speed)
    if turn > limits.max_angular_speed:
        scale = min(scale, limits.max_angular_speed / turn)
    return v * scale, w * scale


def twist_plan(
        delta: ArrayLike, limits: ArmSafetyLimits, tcp_position: ArrayLike | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.float64], float, bool]:
    """A primitive as a constant twist held for a duration (MoveIt Servo style).

    Returns ``(linear (3,), angular (3,), duration s, clamped)``. The translation is first
    shortened so the TCP ends inside the workspace box (when the current TCP position is
    known), then the speed is capped; the duration covers the whole (possibly shortened) motion.
    Wrist rotation is folded into the angular velocity about the tool axis by the caller.
    """
    d = check_delta(delta, limits)
    translation = d[:3].copy()
    clamped = False
    if tcp_position is not None:
        goal, clamped = clamp_to_workspace(np.asarray(tcp_position) + translation, limits)
        translation = goal - np.asarray(tcp_position)
    rotation = d[3:6]
    distance, angle = float(np.linalg.norm(translation)), float(np.linalg.norm(rotation))
    duration = max(distance / limits.max_linear_speed, angle / limits.max_angular_speed)
    if duration <= 0:
        return np.zeros(3), np.zeros(3), 0.0, clamped
    linear, angular = limit_twist(translation / duration, rotation / duration, limits)
    return linear, angular, duration, clamped


class CommandWatchdog:
    """Halts when no fresh command/heartbeat arrived for ``timeout`` seconds (clock-agnostic)."""

    def __init__(self, timeout: float) -> None:
        self.set_timeout(timeout)
        self.last: float | None = None

    def set_timeout(self, timeout: float) -> None:
        """A new timeout; the last command/heartbeat heard still counts."""
        if not timeout > 0:
            raise ValueError(f'command timeout must be positive, got {timeout!r}')
        self.timeout = float(timeout)

    def feed(self, now: float) -> None:
        self.last = float(now)

    def expired(self, now: float) -> bool:
        return self.last is None or float(now) - self.last > self.timeout

    def age(self, now: float) -> float:
        return math.inf if self.last is None else float(now) - self.last


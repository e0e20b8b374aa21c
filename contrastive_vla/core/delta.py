"""The 8-D primitive delta every layer passes around: its layout, its validation, and the clamp
of a target into the workspace box.

``[dx, dy, dz, roll, pitch, yaw, wrist_rotate, gripper]``: metres and radians in the robot base
frame (x away from the base, y to its left, z up); gripper +1 = open, -1 = close, 0 = unchanged.
The simulator, the motion planner and the safety checks of the arm bridge read deltas through
:func:`as_delta`, so a malformed one is refused with the same reason wherever it arrives.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

DELTA_LAYOUT = ('dx', 'dy', 'dz', 'roll', 'pitch', 'yaw', 'wrist_rotate', 'gripper')
DELTA_SIZE = len(DELTA_LAYOUT)
GRIPPER_INDEX = DELTA_LAYOUT.index('gripper')


class DeltaError(ValueError):
    """A delta that cannot be executed: not numeric, not 8 values, or not finite."""


def as_delta(delta: ArrayLike) -> NDArray[np.float64]:
    """``delta`` as a float64 array of shape (8,); raises :class:`DeltaError` saying why not."""
    try:
        d = np.asarray(delta, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise DeltaError(f'delta is not numeric: {delta!r}') from None
    if d.shape[0] != DELTA_SIZE:
        raise DeltaError(f'delta has {d.shape[0]} values; expected {DELTA_SIZE} '
                         f'({" ".join(DELTA_LAYOUT)})')
    if not np.all(np.isfinite(d)):
        raise DeltaError(f'delta has non-finite values: {d.tolist()}')
    return d


def clamp_to_box(position: ArrayLike, lower: ArrayLike,
                 upper: ArrayLike) -> tuple[NDArray[np.float64], bool]:
    """Clamp a point into the axis-aligned box [lower, upper]; returns (clamped point as
    float64, whether it moved by more than a nanometre)."""
    p = np.asarray(position, dtype=np.float64)
    clamped = np.clip(p, np.asarray(lower, dtype=np.float64), np.asarray(upper, dtype=np.float64))
    return clamped, bool(np.any(np.abs(clamped - p) > 1e-9))

"""Field values of standard ROS messages, independent of the message classes.

Both ROS Python stacks of the package build the same messages: rosbags dataclasses (the bag
room) and rclpy messages (the ros room). The conventions live here once, as plain values the
builders pass to their own classes:

- time: ``builtin_interfaces/msg/Time`` ``(sec, nanosec)`` <-> integer nanoseconds;
- ``sensor_msgs/msg/CameraInfo`` of an undistorted pinhole camera.
"""

from __future__ import annotations

import math
from typing import Any, Protocol

import numpy as np

NS_PER_S = 1_000_000_000


class Stamp(Protocol):
    """Anything with the fields of ``builtin_interfaces/msg/Time`` (either stack's class)."""

    sec: int
    nanosec: int


def stamp_to_ns(stamp: Stamp) -> int:
    """``builtin_interfaces/Time`` -> ns: ``sec * 1e9 + nanosec``, exact for any nanosec.

    Some writers store un-normalized stamps (``sec=0, nanosec=2_000_000_000``); this keeps
    their meaning instead of rejecting them.
    """
    return int(stamp.sec) * NS_PER_S + int(stamp.nanosec)


def ns_to_time_fields(stamp_ns: int) -> tuple[int, int]:
    """ns -> ``(sec, nanosec)`` of a normalized ``builtin_interfaces/Time`` (0 <= nanosec < 1e9).

    Negative times keep ``nanosec`` non-negative (``-1`` ns is ``sec=-1, nanosec=999999999``),
    as rclpy's ``Time.to_msg`` does.
    """
    sec, nanosec = divmod(int(stamp_ns), NS_PER_S)
    return sec, nanosec


def seconds_to_ns(seconds: float) -> int:
    """Seconds (float) -> ns, rounding the fraction to the nearest nanosecond.

    The whole seconds are split off first so that large epoch times keep the full precision
    of the float's fraction (``seconds * 1e9`` would round to a multiple of 256 ns).
    """
    whole = math.floor(seconds)
    return int(whole) * NS_PER_S + int(round((seconds - whole) * NS_PER_S))


def camera_info_fields(width: int, height: int, fx: float, fy: float, cx: float,
                       cy: float) -> dict[str, Any]:
    """Fields of a ``sensor_msgs/msg/CameraInfo`` of an undistorted pinhole camera.

    ``fx, fy`` are focal lengths and ``cx, cy`` the principal point, all in pixels; ``k`` and
    ``p`` are filled from them, ``r`` is identity, distortion is plumb_bob with zero
    coefficients. Returns ``dict(width, height, distortion_model, d, k, r, p, binning_x,
    binning_y)`` with float64 numpy arrays; add ``header`` and ``roi`` (message classes) and
    pass them as keyword arguments to the message constructor.
    """
    return {
        'width': int(width),
        'height': int(height),
        'distortion_model': 'plumb_bob',
        'd': np.zeros(5, dtype=np.float64),
        'k': np.array([fx, 0.0, cx, 0.0, fy, cy, 0.0, 0.0, 1.0], dtype=np.float64),
        'r': np.eye(3, dtype=np.float64).reshape(-1),
        'p': np.array([fx, 0.0, cx, 0.0, 0.0, fy, cy, 0.0, 0.0, 0.0, 1.0, 0.0],
                      dtype=np.float64),
        'binning_x': 0,
        'binning_y': 0,
    }


"""Builders of the standard messages the package records, as rosbags dataclasses of the
ROS 2 Kilted type store (what :class:`~contrastive_vla.bag.writer.BagWriter` serializes).

Stamps are integer nanoseconds since the epoch; the field conventions shared with the rclpy
builders (time, camera info) come from :mod:`contrastive_vla.core.msgfields`.
"""

from collections.abc import Sequence

import numpy as np

from contrastive_vla.bag.typestores import kilted_typestore
from contrastive_vla.core.images import rgb_to_image_fields
from contrastive_vla.core.msgfields import camera_info_fields, ns_to_time_fields, stamp_to_ns

__all__ = [
    'bool_msg',
    'camera_info_msg',
    'float64_array_msg',
    'image_msg',
    'joint_state_msg',
    'make_header',
    'stamp_to_ns',
    'string_msg',
]


def _time(stamp_ns):
    sec, nanosec = ns_to_time_fields(stamp_ns)
    return kilted_typestore().types['builtin_interfaces/msg/Time'](sec=sec, nanosec=nanosec)


def make_header(stamp_ns: int, frame_id: str = '') -> object:
    """``std_msgs/msg/Header`` stamped ``stamp_ns`` (ns since epoch) in frame ``frame_id``."""
    return kilted_typestore().types['std_msgs/msg/Header'](stamp=_time(stamp_ns),
                                                             frame_id=str(frame_id))


def image_msg(rgb: np.ndarray, stamp_ns: int, frame_id: str) -> object:
    """``sensor_msgs/msg/Image`` (rgb8, step = 3 * width) from an ``H x W x 3`` uint8 array.

    ``frame_id`` is the camera's optical frame (z forward, x right, y down).
    """
    fields = rgb_to_image_fields(rgb, data_as='numpy')
    return kilted_typestore().types['sensor_msgs/msg/Image'](
        header=make_header(stamp_ns, frame_id), **fields)


def camera_info_msg(width: int, height: int, fx: float, fy: float, cx: float, cy: float,
                    stamp_ns: int, frame_id: str) -> object:
    """``sensor_msgs/msg/CameraInfo`` of an undistorted pinhole camera.

    ``fx, fy`` are focal lengths and ``cx, cy`` the principal point, all in pixels; see
    :func:`~contrastive_vla.core.msgfields.camera_info_fields` for the other fields.
    """
    types = kilted_typestore().types
    roi = types['sensor_msgs/msg/RegionOfInterest'](
        x_offset=0, y_offset=0, height=0, width=0, do_rectify=False)
    return types['sensor_msgs/msg/CameraInfo'](
        header=make_header(stamp_ns, frame_id), roi=roi,
        **camera_info_fields(width, height, fx, fy, cx, cy))


def string_msg(text: str) -> object:
    """``std_msgs/msg/String`` (e.g. the current language instruction)."""
    return kilted_typestore().types['std_msgs/msg/String'](data=str(text))


def bool_msg(value: bool) -> object:
    """``std_msgs/msg/Bool``."""
    return kilted_typestore().types['std_msgs/msg/Bool'](data=bool(value))


def joint_state_msg(names: Sequence[str], positions: Sequence[float],
                    velocities: Sequence[float] | None = None,
                    efforts: Sequence[float] | None = None, stamp_ns: int = 0,
                    frame_id: str = '') -> object:
    """``sensor_msgs/msg/JointState``: positions in rad (or m), velocities in rad/s (m/s),
    efforts in N*m (N). ``velocities``/``efforts`` may be omitted (sent empty, as allowed).

    Raises:
        ValueError: a given array's length differs from the number of names.

    """
    names = [str(n) for n in names]
    arrays = {}
    for field, values in (('position', positions), ('velocity', velocities),
                          ('effort', efforts)):
        arr = np.asarray([] if values is None else values, dtype=np.float64).reshape(-1)
        if values is not None and arr.size != len(names):
            raise ValueError(f'joint_state_msg: {field} has {arr.size} values for '
                             f'{len(names)} joint names')
        arrays[field] = arr
    return kilted_typestore().types['sensor_msgs/msg/JointState'](
        header=make_header(stamp_ns, frame_id), name=names, **arrays)


def float64_array_msg(values: Sequence[float], label: str = '') -> object:
    """``std_msgs/msg/Float64MultiArray`` holding a 1-D vector with one labelled dimension.

    E.g. a primitive's 8-D delta ``[dx dy dz (m), roll pitch yaw wrist (rad), grip]`` with
    ``label='delta'``; ``layout.dim[0]`` has ``size = stride = len(values)``.
    """
    types = kilted_typestore().types
    data = np.asarray(values, dtype=np.float64).reshape(-1)
    dim = types['std_msgs/msg/MultiArrayDimension'](
        label=str(label), size=int(data.size), stride=int(data.size))
    layout = types['std_msgs/msg/MultiArrayLayout'](dim=[dim], data_offset=0)
    return types['std_msgs/msg/Float64MultiArray'](layout=layout, data=data)

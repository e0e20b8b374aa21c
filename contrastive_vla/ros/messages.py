"""rclpy message builders and the small conventions carried inside standard messages.

The primitive command (``primitive_delta``, ``std_msgs/Float64MultiArray``): ``data`` is the
8-D delta ``[dx dy dz roll pitch yaw wrist_rotate gripper]`` in the robot base frame (metres,
radians; gripper +1 open, -1 close, 0 unchanged) and ``layout.dim[0].label`` is a JSON object
``{"decision": <int>, "image_stamp": <float s>}`` tying the command to the decision and the
camera frame it came from. Commands typed by hand may leave the label empty.
"""

import importlib
import json
import math

import numpy as np

from contrastive_vla.core.images import pinhole_intrinsics, rgb_to_image_fields
from contrastive_vla.core.topics import topic
from contrastive_vla.core.vocabulary import DELTA_LAYOUT


def type_class(type_name):
    """The rclpy message class of a ROS type name ('sensor_msgs/msg/Image' -> Image)."""
    package, _, name = type_name.split('/')
    return getattr(importlib.import_module(f'{package}.msg'), name)


def msg_class(key):
    """The rclpy message class of a topic of config/topics.yaml ('image' -> Image)."""
    return type_class(topic(key).type)


def stamp_seconds(stamp):
    return stamp.sec + stamp.nanosec * 1e-9


def time_msg(seconds):
    from builtin_interfaces.msg import Time

    sec = math.floor(seconds)
    return Time(sec=int(sec), nanosec=int(round((seconds - sec) * 1e9)) % 1_000_000_000)


def header(stamp, frame_id=''):
    from std_msgs.msg import Header

    return Header(stamp=stamp, frame_id=frame_id)


def image(rgb, stamp, frame_id):
    from sensor_msgs.msg import Image

    return Image(header=header(stamp, frame_id), **rgb_to_image_fields(rgb))


def camera_info(width, height, fov_deg, stamp, frame_id, vertical=False):
    """CameraInfo of an ideal, undistorted pinhole camera with the given field of view
    (horizontal, or vertical as MuJoCo's ``fovy``)."""
    from sensor_msgs.msg import CameraInfo

    fx, fy, cx, cy = pinhole_intrinsics(width, height, fov_deg, vertical=vertical)
    return CameraInfo(header=header(stamp, frame_id), width=int(width), height=int(height),
                      distortion_model='plumb_bob', d=[0.0] * 5,
                      k=[fx, 0.0, cx, 0.0, fy, cy, 0.0, 0.0, 1.0],
                      r=[1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0],
                      p=[fx, 0.0, cx, 0.0, 0.0, fy, cy, 0.0, 0.0, 0.0, 1.0, 0.0])


def string(text):
    from std_msgs.msg import String

    return String(data=text)


def json_string(payload):
    return string(json.dumps(payload, separators=(',', ':'), default=_jsonable))


def _jsonable(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f'{type(value).__name__} is not JSON serialisable')


def delta_command(delta, decision=None, image_stamp=None):
    from std_msgs.msg import Float64MultiArray, MultiArrayDimension, MultiArrayLayout

    label = json.dumps({'decision': decision, 'image_stamp': image_stamp})
    dim = MultiArrayDimension(label=label, size=len(DELTA_LAYOUT), stride=len(DELTA_LAYOUT))
    return Float64MultiArray(layout=MultiArrayLayout(dim=[dim], data_offset=0),
                             data=[float(v) for v in delta])


def parse_delta_command(msg):
    """(delta ndarray, decision id or None, image stamp or None); the delta is not validated
    here (the bridge's safety checks do that and say what is wrong)."""
    decision = stamp = None
    if msg.layout.dim:
        try:
            meta = json.loads(msg.layout.dim[0].label or '{}')
            if isinstance(meta, dict):
                decision, stamp = meta.get('decision'), meta.get('image_stamp')
        except ValueError:
            pass
    if decision is not None and not isinstance(decision, int):
        decision = None
    if stamp is not None and not isinstance(stamp, (int, float)):
        stamp = None
    return np.asarray(msg.data, dtype=np.float64), decision, stamp


def parse_json(msg):
    """A JSON object from a String message, or None if it is not one."""
    try:
        value = json.loads(msg.data)
    except (ValueError, TypeError):
        return None
    return value if isinstance(value, dict) else None

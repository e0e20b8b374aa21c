"""rclpy message builders and the small conventions carried inside standard messages.

The primitive command (``primitive_delta``) stays a ``std_msgs/Float64MultiArray`` (custom
message packages are not available, and recorded bags keep their type): ``data`` is the 8-D
delta ``[dx dy dz roll pitch yaw wrist_rotate gripper]`` in the robot base frame (metres,
radians; gripper +1 open, -1 close, 0 unchanged), ``layout.dim[0]`` is ``('delta', 8, 8)``
(as in recorded bags) and labelled dimensions after it carry the metadata in their uint32
``size``/``stride`` fields, typed and exact (no JSON, no float seconds):

- ``('decision', size=<decision id>, stride=0)``: the VLA decision (or teleop step) it is;
- ``('image_stamp', size=<sec>, stride=<nanosec>)``: the stamp of the camera frame it was
  decided on, as ``builtin_interfaces/Time`` splits it.

They are found by label, not position; a hand-typed ``ros2 topic pub ... "{data: [...]}"`` has
none and means "no decision, no frame". In process it is a :class:`DeltaCommand`.
"""

import dataclasses
import enum
import importlib
import json
import math
import re

from builtin_interfaces.msg import Time
import numpy as np
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Float64MultiArray, Header, MultiArrayDimension, MultiArrayLayout, String

from contrastive_vla.core.images import pinhole_intrinsics, rgb_to_image_fields
from contrastive_vla.core.msgfields import (
    NS_PER_S,
    camera_info_fields,
    ns_to_time_fields,
    seconds_to_ns,
    stamp_to_ns,
)
from contrastive_vla.core.topics import topic


def type_class(type_name):
    """The rclpy message class of a ROS type name ('sensor_msgs/msg/Image' -> Image)."""
    package, _, name = type_name.split('/')
    return getattr(importlib.import_module(f'{package}.msg'), name)


def msg_class(key):
    """The rclpy message class of a topic of config/topics.yaml ('image' -> Image)."""
    return type_class(topic(key).type)


def stamp_seconds(stamp):
    return stamp_to_ns(stamp) / NS_PER_S


def time_msg(seconds):
    sec, nanosec = ns_to_time_fields(seconds_to_ns(seconds))
    return Time(sec=sec, nanosec=nanosec)


def header(stamp, frame_id=''):
    return Header(stamp=stamp, frame_id=frame_id)


def image(rgb, stamp, frame_id):
    return Image(header=header(stamp, frame_id), **rgb_to_image_fields(rgb))


def camera_info(width, height, fov_deg, stamp, frame_id, vertical=False):
    """CameraInfo of an ideal, undistorted pinhole camera with the given field of view
    (horizontal, or vertical as MuJoCo's ``fovy``)."""
    fx, fy, cx, cy = pinhole_intrinsics(width, height, fov_deg, vertical=vertical)
    fields = camera_info_fields(width, height, fx, fy, cx, cy)
    # rclpy takes numpy arrays only for fixed-size arrays (k, r, p), not for the sequence d.
    fields['d'] = fields['d'].tolist()
    return CameraInfo(header=header(stamp, frame_id), **fields)


def string(text):
    return String(data=text)


def json_string(payload):
    """A String of ``payload`` as compact JSON: a dict, or a dataclass (its fields, in order;
    nested dataclasses, enums and numpy values are converted too)."""
    return string(json.dumps(payload, separators=(',', ':'), default=_jsonable))


def _jsonable(value):
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f'{type(value).__name__} is not JSON serialisable')


# labels of the primitive_delta layout (see the module docstring)
DELTA_LABEL, DECISION_LABEL, IMAGE_STAMP_LABEL = 'delta', 'decision', 'image_stamp'
_UINT32 = 1 << 32


@dataclasses.dataclass(frozen=True, eq=False)
class DeltaCommand:
    """A primitive command as parsed: the 8-D delta (not validated: the bridge's safety checks
    say what is wrong with it), the decision id and the frame's stamp (ns), each None when the
    message does not carry it."""

    delta: np.ndarray
    decision: int | None = None
    image_stamp_ns: int | None = None


def delta_command(delta, decision=None, image_stamp_ns=None):
    """The ``primitive_delta`` message of ``delta`` (decision id and frame stamp in ns optional;
    each must fit the uint32 fields: ValueError otherwise)."""
    data = [float(v) for v in delta]
    dims = [MultiArrayDimension(label=DELTA_LABEL, size=len(data), stride=len(data))]
    if decision is not None:
        if not 0 <= int(decision) < _UINT32:
            raise ValueError(f'decision id {decision} does not fit a uint32')
        dims.append(MultiArrayDimension(label=DECISION_LABEL, size=int(decision), stride=0))
    if image_stamp_ns is not None:
        sec, nanosec = ns_to_time_fields(image_stamp_ns)
        if not 0 <= sec < _UINT32:
            raise ValueError(f'image stamp {image_stamp_ns} ns is out of range')
        dims.append(MultiArrayDimension(label=IMAGE_STAMP_LABEL, size=sec, stride=nanosec))
    return Float64MultiArray(layout=MultiArrayLayout(dim=dims, data_offset=0), data=data)


def parse_delta_command(msg):
    """The :class:`DeltaCommand` of a ``primitive_delta`` message; metadata that is absent or
    malformed (a stamp's nanosec over 1e9) is None."""
    decision = stamp_ns = None
    for dim in msg.layout.dim:
        if dim.label == DECISION_LABEL and decision is None:
            decision = int(dim.size)
        elif dim.label == IMAGE_STAMP_LABEL and stamp_ns is None and dim.stride < NS_PER_S:
            stamp_ns = int(dim.size) * NS_PER_S + int(dim.stride)
    return DeltaCommand(np.asarray(msg.data, dtype=np.float64), decision, stamp_ns)


# bounds on untrusted JSON (String messages from anyone on the graph)
MAX_JSON_CHARS = 64 * 1024
MAX_JSON_DEPTH = 32
MAX_INT_DIGITS = 20  # any int64 / uint64 (a stamp in ns, a seed) fits
_JSON_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"')
_NOT_BRACKETS = re.compile(r'[^\[\]{}]')


def diagnostic_values(msg, node_name):
    """The key/value pairs of the status in a ``DiagnosticArray`` whose name ends with
    ``node_name`` (the graph's nodes name theirs ``contrastive_vla: <node>``), or None."""
    for status in msg.status:
        if status.name.endswith(node_name):
            return {kv.key: kv.value for kv in status.values}
    return None


def held_by_text(holders):
    """The arm bridge's ``held_by`` diagnostics value: its holders, comma-separated, or
    'none'."""
    return ', '.join(holders) or 'none'


def held_by(values):
    """The holders named by the arm bridge's diagnostics ``values`` (:func:`held_by_text`); an
    empty set when nothing holds it."""
    return {h.strip() for h in values.get('held_by', 'none').split(',')} - {'none'}


def parse_json(msg):
    """A JSON object from a String message, or None if it is not one or is out of bounds
    (:func:`parse_json_checked` says why)."""
    return parse_json_checked(msg)[0]


def parse_json_checked(msg):
    """``(object, None)`` for a String message holding a JSON object within bounds, else
    ``(None, reason)``. Refused: over MAX_JSON_CHARS characters, nested deeper than
    MAX_JSON_DEPTH, NaN / Infinity or a float overflowing to infinity, an integer of more than
    MAX_INT_DIGITS digits, anything but an object. Never raises."""
    try:
        text = msg.data
        if not isinstance(text, str):
            return None, f'not text ({type(text).__name__})'
        if len(text) > MAX_JSON_CHARS:
            return None, f'{len(text)} characters (at most {MAX_JSON_CHARS})'
        depth = _nesting_depth(text)
        if depth > MAX_JSON_DEPTH:
            return None, f'nested {depth} deep (at most {MAX_JSON_DEPTH})'
        value = json.loads(text, parse_constant=_refuse_constant, parse_int=_bounded_json_int,
                           parse_float=_finite_json_float)
    except (ValueError, TypeError, RecursionError, MemoryError) as exc:
        return None, f'not JSON within bounds: {str(exc)[:200]}'
    if not isinstance(value, dict):
        return None, f'a JSON object is expected, not {type(value).__name__}'
    return value, None


def _nesting_depth(text):
    """The deepest bracket nesting of JSON ``text`` (brackets inside strings not counted)."""
    depth = deepest = 0
    for c in _NOT_BRACKETS.sub('', _JSON_STRINGS.sub('', text)):
        depth = depth + 1 if c in '[{' else depth - 1
        deepest = max(deepest, depth)
    return deepest


def _refuse_constant(name):
    raise ValueError(f'{name} is not a finite number')


def _bounded_json_int(text):
    if len(text.lstrip('-')) > MAX_INT_DIGITS:
        raise ValueError(f'an integer of {len(text.lstrip("-"))} digits '
                         f'(at most {MAX_INT_DIGITS})')
    return int(text)


def _finite_json_float(text):
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f'{text[:40]} is not a finite number')
    return value


def bounded_int(value, lo, hi):
    """``value`` as an int if it is an integer (not a bool, not a float) in [lo, hi], else
    None: a number taken from a message, checked before use."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        return None
    return int(value) if lo <= value <= hi else None

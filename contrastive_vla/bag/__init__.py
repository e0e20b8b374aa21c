"""The bag room: rosbag2 files (sqlite3 and MCAP) read and written without a ROS install.

Entry points: :func:`open_bag` (read), :class:`BagWriter` (write), :func:`partial_recordings`
and :func:`recover_bag` (crash recovery) and the message builders. Import them from here; the
modules behind are:

- :mod:`~contrastive_vla.bag.types`: BagError, TopicInfo, BagMessage;
- :mod:`~contrastive_vla.bag.typestores`: type stores and types from embedded definitions;
- :mod:`~contrastive_vla.bag.metadata`: ``metadata.yaml``;
- :mod:`~contrastive_vla.bag.storage_sqlite`, :mod:`~contrastive_vla.bag.storage_mcap`: the
  storage files, damaged ones included;
- :mod:`~contrastive_vla.bag.reader`, :mod:`~contrastive_vla.bag.writer`,
  :mod:`~contrastive_vla.bag.recovery`, :mod:`~contrastive_vla.bag.messages`.

Timestamps are integer nanoseconds since the Unix epoch (bag receive time), as in rosbag2.
Messages are rosbags dataclasses; the builders use the ROS 2 Kilted type store.
"""

try:
    import rosbags  # noqa: F401 - checked here so that every module gets the clear message
except ImportError as _exc:  # pragma: no cover - depends on the installation
    raise ImportError(
        'contrastive_vla.bag needs the pure-Python "rosbags" package '
        '(pip install rosbags)') from _exc

from contrastive_vla.bag.messages import (
    bool_msg,
    camera_info_msg,
    float64_array_msg,
    image_msg,
    joint_state_msg,
    make_header,
    stamp_to_ns,
    string_msg,
)
from contrastive_vla.bag.reader import BagReader, find_bags, open_bag
from contrastive_vla.bag.recovery import partial_recordings, recover_bag
from contrastive_vla.bag.types import BagError, BagMessage, TopicInfo
from contrastive_vla.bag.typestores import kilted_typestore
from contrastive_vla.bag.writer import BagWriter

__all__ = [
    'BagError',
    'BagMessage',
    'BagReader',
    'BagWriter',
    'TopicInfo',
    'bool_msg',
    'camera_info_msg',
    'find_bags',
    'float64_array_msg',
    'image_msg',
    'joint_state_msg',
    'kilted_typestore',
    'make_header',
    'open_bag',
    'partial_recordings',
    'recover_bag',
    'stamp_to_ns',
    'string_msg',
]

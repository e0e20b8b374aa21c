"""The values the bag room hands out and the errors it raises."""

from typing import NamedTuple


class BagError(Exception):
    """A bag cannot be read or written; the message names the bag, topic and problem."""


class TopicInfo(NamedTuple):
    """One topic of a bag: name, message type and number of messages in the storage."""

    name: str
    msgtype: str
    count: int


class BagMessage(NamedTuple):
    """One decoded message: topic, type, bag timestamp (ns since epoch) and rosbags object."""

    topic: str
    msgtype: str
    timestamp_ns: int
    msg: object


class StorageError(Exception):
    """A storage file cannot be opened; turned into a note or a BagError by the reader."""


class Conn(NamedTuple):
    """One connection (topic + type) of a storage file, with its message count there."""

    id: int
    topic: str
    msgtype: str
    count: int
    serialization_format: str

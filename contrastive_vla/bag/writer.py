"""Writing rosbag2 bags (:class:`BagWriter`) with ``rosbags.rosbag2.Writer``.

Metadata version 9, readable by ``ros2 bag info``/``ros2 bag play``; written into a hidden
sibling directory that is renamed to the final name only when the bag is complete.
:meth:`BagWriter.flush` reaches into the rosbags storage backends (there is no public API for
it); a test pins that behaviour against the locked rosbags version. MCAP chunks carry CRC32s
(:mod:`~contrastive_vla.bag.mcap_chunks`), so readers notice corrupt data.
"""

import logging
import os
from pathlib import Path
import shutil
import sqlite3
import tempfile

import numpy as np
from rosbags.interfaces import (
    Qos,
    QosDurability,
    QosHistory,
    QosLiveliness,
    QosReliability,
    QosTime,
)
from rosbags.rosbag2 import Writer
from rosbags.rosbag2.enums import StoragePlugin
from rosbags.typesys.store import Typestore

from contrastive_vla.bag.mcap_chunks import add_chunk_crcs
from contrastive_vla.bag.types import BagError
from contrastive_vla.bag.typestores import kilted_typestore

LOGGER = logging.getLogger(__name__)

_MAX_NS = 2**63 - 1

# The "infinite" duration as rosbag2 (Jazzy and later) records it for deadline/lifespan/lease.
_INFINITE = QosTime(9223372036, 854775807)


def _offered_qos(latched):
    """Offered QoS as ``ros2 bag record`` stores it (history/depth are not discoverable)."""
    return [Qos(
        history=QosHistory.UNKNOWN,
        depth=0,
        reliability=QosReliability.RELIABLE,
        durability=QosDurability.TRANSIENT_LOCAL if latched else QosDurability.VOLATILE,
        deadline=_INFINITE,
        lifespan=_INFINITE,
        liveliness=QosLiveliness.AUTOMATIC,
        liveliness_lease_duration=_INFINITE,
        avoid_ros_namespace_conventions=False,
    )]


class BagWriter:
    """Write a rosbag2 bag (metadata v9, MCAP by default or sqlite3); use as ``with``.

    The bag is written into a hidden temporary sibling directory (``.<name>.*.partial``) and
    renamed to ``path`` when the ``with`` block ends without an exception, so the existence of
    ``path`` means the bag is complete. On an exception the partial bag is deleted; a process
    killed mid-write leaves only the hidden directory behind.

    Args:
        path: the bag directory to create; must not exist.
        storage: ``'mcap'`` (default, what ``ros2 bag record`` writes since Iron) or
            ``'sqlite3'``.
        typestore: rosbags type store to serialize with (default: ROS 2 Kilted).

    """

    def __init__(self, path: str | os.PathLike, storage: str = 'mcap',
                 typestore: Typestore | None = None) -> None:
        self.path = Path(path)
        plugins = {'mcap': StoragePlugin.MCAP, 'sqlite3': StoragePlugin.SQLITE3}
        if storage not in plugins:
            raise BagError(f'{self.path}: storage {storage!r} is not supported '
                           "(use 'mcap' or 'sqlite3')")
        self.storage = storage
        self.typestore = typestore if typestore is not None else kilted_typestore()
        self._plugin = plugins[storage]
        self._tmpdir = None
        self._writer = None
        self._connections = {}

    def open(self) -> 'BagWriter':
        """Create the temporary bag; called by ``with``."""
        if self._writer is not None:
            raise BagError(f'{self.path}: the bag writer is already open')
        if self.path.exists():
            raise BagError(f'{self.path}: exists already; BagWriter never overwrites a bag')
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._tmpdir = Path(tempfile.mkdtemp(
                prefix=f'.{self.path.name}.', suffix='.partial', dir=self.path.parent))
            writer = Writer(self._tmpdir / self.path.name, version=Writer.VERSION_LATEST,
                            storage_plugin=self._plugin)
            writer.open()
            if self.storage == 'mcap':
                add_chunk_crcs(writer.storage)
        except Exception as exc:
            self._remove_tmpdir()
            raise BagError(f'{self.path}: cannot create the bag ({exc})') from exc
        self._writer = writer
        return self

    def add_topic(self, topic: str, msgtype: str, latched: bool = False) -> None:
        """Declare ``topic`` with ``msgtype`` (e.g. ``'sensor_msgs/msg/Image'``).

        ``latched=True`` records the offered QoS as reliable + transient_local (as ``ros2 bag
        record`` stores a latched publisher), so ``ros2 bag play`` re-publishes it latched.
        """
        self._check_open()
        if topic in self._connections:
            raise BagError(f'{self.path}: topic {topic} was already added')
        if msgtype not in self.typestore.types:
            raise BagError(f'{self.path}: topic {topic}: message type {msgtype!r} is not in the '
                           'type store; register it first')
        try:
            self._connections[topic] = self._writer.add_connection(
                topic, msgtype, typestore=self.typestore,
                offered_qos_profiles=_offered_qos(latched))
        except Exception as exc:
            raise BagError(f'{self.path}: cannot add topic {topic} ({exc})') from exc

    def write(self, topic: str, timestamp_ns: int, msg: object) -> None:
        """Serialize ``msg`` (a rosbags message of the topic's type) at ``timestamp_ns``."""
        conn = self._connection(topic)
        msgtype = getattr(type(msg), '__msgtype__', conn.msgtype)
        if msgtype != conn.msgtype:
            raise BagError(f'{self.path}: topic {topic} has type {conn.msgtype}, '
                           f'got a {msgtype} message')
        try:
            raw = self.typestore.serialize_cdr(msg, conn.msgtype)
        except Exception as exc:
            raise BagError(f'{self.path}: topic {topic}: cannot serialize the message as '
                           f'{conn.msgtype} ({type(exc).__name__}: {exc})') from exc
        self._write(conn, topic, timestamp_ns, raw)

    def write_raw(self, topic: str, timestamp_ns: int, cdr_bytes: bytes) -> None:
        """Write already serialized CDR bytes (with the 4-byte encapsulation header)."""
        conn = self._connection(topic)
        raw = bytes(cdr_bytes)
        if len(raw) < 4 or raw[:2] not in (b'\x00\x00', b'\x00\x01'):
            raise BagError(f'{self.path}: topic {topic}: data is not CDR (it must start with '
                           'the encapsulation header 00 00 or 00 01)')
        self._write(conn, topic, timestamp_ns, raw)

    def flush(self) -> None:
        """Put what was written so far on disk, so a hard kill cannot take it.

        MCAP: the chunk being filled (up to 1 MiB, in memory) is written out; sqlite3: the
        transaction is committed. The recorder calls this about once a second. It reaches into
        the rosbags storage backend (no public API for this); the behaviour is pinned by a test
        against the locked rosbags version, and it is a no-op if the backend changes shape.
        """
        self._check_open()
        storage = getattr(self._writer, 'storage', None)
        chunk = getattr(storage, 'chunk', None)
        if chunk is not None and hasattr(storage, 'close_chunk'):
            if chunk.bio.tell() > 0:
                storage.close_chunk()
            storage.bio.flush()
        elif isinstance(getattr(storage, 'conn', None), sqlite3.Connection):
            storage.conn.commit()

    def _write(self, conn, topic, timestamp_ns, raw):
        if (not isinstance(timestamp_ns, (int, np.integer)) or isinstance(timestamp_ns, bool)
                or not 0 <= int(timestamp_ns) <= _MAX_NS):
            raise BagError(f'{self.path}: topic {topic}: timestamp_ns must be an integer in '
                           f'[0, 2**63), got {timestamp_ns!r}')
        self._writer.write(conn, int(timestamp_ns), raw)

    def _connection(self, topic):
        self._check_open()
        conn = self._connections.get(topic)
        if conn is None:
            raise BagError(f'{self.path}: topic {topic} was not added (call add_topic first)')
        return conn

    def _check_open(self):
        if self._writer is None:
            raise BagError(f'{self.path}: the bag writer is not open (use it in a with block)')

    def close(self) -> None:
        """Finish the bag and move it to ``path``."""
        self._check_open()
        writer, self._writer = self._writer, None
        try:
            writer.close()
            if self.path.exists():
                raise BagError(f'{self.path}: appeared while writing; the new bag is discarded')
            os.rename(self._tmpdir / self.path.name, self.path)
        except BagError:
            self._remove_tmpdir()
            raise
        except Exception as exc:
            self._remove_tmpdir()
            raise BagError(f'{self.path}: cannot finish the bag ({exc})') from exc
        self._remove_tmpdir()

    def abort(self) -> None:
        """Discard the partial bag; ``path`` is left untouched."""
        writer, self._writer = self._writer, None
        if writer is not None:
            try:
                writer.abort()
            except Exception:  # noqa: BLE001 - the files are deleted right after
                LOGGER.debug('abort of %s failed', self.path, exc_info=True)
        self._remove_tmpdir()

    def _remove_tmpdir(self):
        tmpdir, self._tmpdir = self._tmpdir, None
        if tmpdir is not None:
            shutil.rmtree(tmpdir, ignore_errors=True)

    def __enter__(self) -> 'BagWriter':
        return self.open()

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is None:
            self.close()
        else:
            self.abort()
        return False

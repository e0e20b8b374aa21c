"""Read and write rosbag2 bags (sqlite3 and MCAP) without a ROS installation, via ``rosbags``.

Reading (:func:`open_bag`) is deliberately more forgiving than ``rosbags.rosbag2.Reader``,
because real bags written by the ROS 2 tools trip it up in ways that silently lose data:

- Storage connections are matched to topics by **topic and type only**. rosbags also demands
  that the QoS profiles in ``metadata.yaml`` equal the ones in the storage file; bags whose
  metadata was edited or regenerated (rosbag2's own test bags, reindexed bags) then yield
  nothing, without an error. QoS has no bearing on decoding, so it is ignored here.
- sqlite3 storage is read by this module directly, opened ``immutable=1`` (never creates
  ``-shm``/``-wal`` files next to a read-only bag); MCAP through rosbags' indexed reader.
- Types missing from the type store are registered from the definitions embedded in the bag
  (MCAP schema records, the sqlite3 ``message_definitions`` table). Service-event types
  (``pkg/srv/X_Event``), whose embedded definition is the ``.srv`` text, are built the way
  rosidl builds them: ``X_Request``, ``X_Response`` and ``X_Event`` =
  ``service_msgs/msg/ServiceEventInfo info, X_Request[<=1] request, X_Response[<=1] response``.
- Damage is reported, not fatal, where something can still be read: a truncated MCAP (no
  footer: an interrupted recording) is scanned sequentially, a truncated sqlite3 file is read
  up to the first missing page, a split bag with a missing file reads the others, undecodable
  messages are skipped. Every loss is described in ``reader.skipped`` (and logged).
  A bag none of whose storage files can be opened raises :class:`BagError`.

Writing (:class:`BagWriter`) uses ``rosbags.rosbag2.Writer`` (metadata version 9, readable by
``ros2 bag info``/``ros2 bag play``), into a hidden sibling directory that is renamed to the
final name only when the bag is complete.

Timestamps are integer nanoseconds since the Unix epoch (bag receive time), as in rosbag2.
Messages are rosbags dataclasses; the builders at the end use the ROS 2 Kilted type store.
"""

from collections import defaultdict
from contextlib import ExitStack
import functools
import heapq
import io
import logging
import os
from pathlib import Path, PurePosixPath
import re
import shutil
import sqlite3
import struct
import sys
import tempfile
from typing import NamedTuple

import numpy as np
import yaml

try:
    from rosbags.interfaces import (
        MessageDefinitionFormat,
        Nodetype,
        Qos,
        QosDurability,
        QosHistory,
        QosLiveliness,
        QosReliability,
        QosTime,
    )
    from rosbags.rosbag2 import Writer
    from rosbags.rosbag2.enums import StoragePlugin
    from rosbags.rosbag2.storage_mcap import McapReader
    from rosbags.typesys import Stores, get_types_from_idl, get_types_from_msg, get_typestore
except ImportError as _exc:  # pragma: no cover - depends on the installation
    raise ImportError(
        'contrastive_vla.bag.bags needs the pure-Python "rosbags" package '
        '(pip install rosbags)') from _exc

if sys.version_info >= (3, 14):  # pragma: no cover
    from compression import zstd
else:
    from backports import zstd

from contrastive_vla.core.images import rgb_to_image_fields

__all__ = [
    'BagError',
    'BagMessage',
    'BagReader',
    'BagWriter',
    'TopicInfo',
    'bool_msg',
    'camera_info_msg',
    'float64_array_msg',
    'image_msg',
    'joint_state_msg',
    'kilted_typestore',
    'make_header',
    'open_bag',
    'stamp_to_ns',
    'string_msg',
]

LOGGER = logging.getLogger(__name__)

NS_PER_S = 1_000_000_000
_MAX_NS = 2**63 - 1
_STORAGE_SUFFIXES = {'.mcap': 'mcap', '.db3': 'sqlite3'}
_MCAP_MAGIC = b'\x89MCAP0\r\n'
_SQLITE_MAGIC = b'SQLite format 3\x00'

# ros_distro (metadata v8+) -> type store. 'rolling' and unknown names fall back to the version.
_DISTRO_STORES = {
    'dashing': Stores.ROS2_DASHING,
    'eloquent': Stores.ROS2_ELOQUENT,
    'foxy': Stores.ROS2_FOXY,
    'galactic': Stores.ROS2_GALACTIC,
    'humble': Stores.ROS2_HUMBLE,
    'iron': Stores.ROS2_IRON,
    'jazzy': Stores.ROS2_JAZZY,
    'kilted': Stores.ROS2_KILTED,
    'lyrical': Stores.ROS2_LYRICAL,
}


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


class _StorageError(Exception):
    """A storage file cannot be opened; turned into a note or a BagError by the reader."""


class _Conn(NamedTuple):
    id: int
    topic: str
    msgtype: str
    count: int
    serialization_format: str


@functools.lru_cache(maxsize=None)
def kilted_typestore():
    """The shared ROS 2 Kilted rosbags type store used by the message builders and writer."""
    return get_typestore(Stores.ROS2_KILTED)


def _pick_store(version, ros_distro):
    """Type store for a bag: its ``ros_distro`` if known, else by metadata version.

    v1-4 Foxy, v5-6 Humble, v7-8 Iron, v9 and bags without metadata Kilted (what new bags
    are written with). The stores differ little; types missing from the chosen store are
    registered from the bag's embedded definitions anyway.
    """
    distro = str(ros_distro or '').strip().lower()
    if distro in _DISTRO_STORES:
        return _DISTRO_STORES[distro]
    if version is None or version >= 9:
        return Stores.ROS2_KILTED
    if version <= 4:
        return Stores.ROS2_FOXY
    if version <= 6:
        return Stores.ROS2_HUMBLE
    return Stores.ROS2_IRON


def _natural_key(path):
    return [int(part) if part.isdigit() else part for part in re.split(r'(\d+)', path.name)]


# --------------------------------------------------------------------------------------------
# Storage files
# --------------------------------------------------------------------------------------------

class _SqliteStorage:
    """A rosbag2 sqlite3 file (schema 1-4), opened read-only and immutable.

    A file truncated mid-write (its header promises more pages than it has) is read from a
    zero-padded temporary copy: SQLite refuses such a file (or silently zero-fills a cut last
    page), but on the padded copy
    the rows in intact pages are readable (a table scan until it meets a missing page, so a
    lost page can leave a gap); they are then yielded in time order.
    """

    def __init__(self, path, display, make_tmpdir):
        self.display = display
        self.notes = []
        self.definitions = {}
        self.conns = {}
        self.start_ns = None
        self.end_ns = None
        self._con = None
        self._index = None  # recovered mode: [(timestamp, rowid, topic_id)] sorted by time
        # A file shorter than its header says was cut mid-write: read it in recovery mode even
        # if SQLite would open it (it zero-fills short reads, hiding the damage).
        padded = self._padded_copy(path, make_tmpdir)
        try:
            self._open(path if padded is None else padded, recovering=padded is not None)
        except _StorageError:
            self.close()
            raise
        except sqlite3.DatabaseError as exc:
            self.close()
            what = ('truncated sqlite3 database could not be recovered' if padded is not None
                    else 'not a readable sqlite3 database')
            raise _StorageError(f'{what} ({exc})') from None

    @staticmethod
    def _padded_copy(path, make_tmpdir):
        try:
            size = path.stat().st_size
            with path.open('rb') as stream:
                header = stream.read(100)
        except OSError:
            return None
        # The in-header page count is only valid when the change counter matches the
        # version-valid-for number (SQLite >= 3.7 keeps them equal).
        if (len(header) < 100 or not header.startswith(_SQLITE_MAGIC)
                or header[24:28] != header[92:96]):
            return None
        page_size = int.from_bytes(header[16:18], 'big')
        page_size = 65536 if page_size == 1 else page_size
        expected = page_size * int.from_bytes(header[28:32], 'big')
        if expected <= size:
            return None
        copy = make_tmpdir() / path.name
        shutil.copyfile(path, copy)
        with copy.open('r+b') as stream:
            stream.truncate(expected)
        return copy

    def _open(self, path, recovering):
        # immutable=1: no locking, no -shm/-wal files, works on read-only directories.
        self._con = sqlite3.connect(f'{Path(path).resolve().as_uri()}?immutable=1', uri=True)
        con = self._con
        tables = {row[0] for row in con.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not {'messages', 'topics'} <= tables:
            raise _StorageError('sqlite3 file has no rosbag2 "messages" and "topics" tables')
        columns = {row[1] for row in con.execute('PRAGMA table_info(topics)')}
        fmt = 'serialization_format' if 'serialization_format' in columns else "'cdr'"
        topics = list(con.execute(f'SELECT id, name, type, {fmt} FROM topics ORDER BY id'))
        if 'message_definitions' in tables:
            try:
                for name, encoding, text in con.execute(
                        'SELECT topic_type, encoding, encoded_message_definition '
                        'FROM message_definitions ORDER BY id'):
                    _add_definition(self.definitions, name, encoding, text)
            except sqlite3.DatabaseError:
                if not recovering:
                    raise
        counts = defaultdict(int)
        if recovering:
            index = []
            error = None
            try:
                for rowid, topic_id, stamp in con.execute(
                        'SELECT id, topic_id, timestamp FROM messages ORDER BY id'):
                    # Zeroed (missing) pages can surface as rows of NULLs: not messages.
                    if isinstance(stamp, int) and isinstance(topic_id, int) and rowid:
                        index.append((stamp, rowid, topic_id))
            except sqlite3.DatabaseError as exc:
                error = exc
            index.sort()
            self._index = index
            for _stamp, _rowid, topic_id in index:
                counts[topic_id] += 1
            if index:
                self.start_ns, self.end_ns = index[0][0], index[-1][0]
            self.notes.append(
                f'{self.display}: sqlite3 file is truncated (shorter than its header says); '
                f'recovered {len(index)} messages that lie before the missing pages'
                + (f', the rest are lost ({error})' if error else ''))
        else:
            for topic_id, count, first, last in con.execute(
                    'SELECT topic_id, COUNT(*), MIN(timestamp), MAX(timestamp) '
                    'FROM messages GROUP BY topic_id'):
                counts[topic_id] = count
                self.start_ns = first if self.start_ns is None else min(self.start_ns, first)
                self.end_ns = last if self.end_ns is None else max(self.end_ns, last)
        self.conns = {
            cid: _Conn(cid, name, msgtype, counts.get(cid, 0), fmt or 'cdr')
            for cid, name, msgtype, fmt in topics}

    def messages(self, conn_ids):
        """Yield ``(timestamp_ns, conn_id, cdr_bytes)`` in time order for ``conn_ids``."""
        wanted = set(conn_ids)
        if self._index is not None:
            for stamp, rowid, topic_id in self._index:
                if topic_id in wanted:
                    row = self._con.execute(
                        'SELECT data FROM messages WHERE id = ?', (rowid,)).fetchone()
                    if row is not None and row[0] is not None:
                        yield stamp, topic_id, bytes(row[0])
            return
        marks = ','.join('?' * len(wanted))
        cursor = self._con.execute(
            'SELECT timestamp, topic_id, data FROM messages '
            f'WHERE topic_id IN ({marks}) ORDER BY timestamp, id', sorted(wanted))
        for stamp, topic_id, data in cursor:
            yield stamp, topic_id, bytes(data)

    def close(self):
        con, self._con = self._con, None
        if con is not None:
            con.close()


class _McapStorage:
    """An intact, indexed MCAP file read through rosbags (chunk index, time-ordered merge)."""

    def __init__(self, path, display):
        self.display = display
        self.notes = []
        self.definitions = {}
        reader = McapReader(path)
        reader.open()
        self._reader = reader
        self.conns = {}
        for conn in reader.connections:
            fmt = getattr(conn.ext, 'serialization_format', 'cdr')
            self.conns[conn.id] = _Conn(conn.id, conn.topic, conn.msgtype, conn.msgcount, fmt)
            if conn.msgdef.format != MessageDefinitionFormat.NONE:
                encoding = 'ros2idl' if conn.msgdef.format == MessageDefinitionFormat.IDL else ''
                _add_definition(self.definitions, conn.msgtype, encoding or 'ros2msg',
                                conn.msgdef.data)
        meta = reader.metadata
        if meta.message_count:
            self.start_ns, self.end_ns = meta.start_time, meta.end_time - 1
        else:
            self.start_ns = self.end_ns = None

    def messages(self, conn_ids):
        wanted = set(conn_ids)
        conns = [c for c in self._reader.connections if c.id in wanted]
        for conn, stamp, data in self._reader.messages(conns):
            yield stamp, conn.id, data

    def close(self):
        reader, self._reader = self._reader, None
        if reader is not None and reader.bio is not None:
            reader.close()


class _McapScanStorage:
    """Sequential MCAP scan that needs no summary, index or footer.

    Used when rosbags cannot open a file, typically because a recording was interrupted and
    the file ends mid-record without a footer. Records are read in file order until the data
    runs out; a cut chunk is decompressed as far as it goes. Messages come in file order,
    sorted within each chunk (rosbag2 writes in receive order, so this is time order in
    practice).
    """

    def __init__(self, path, display, reason):
        self.display = display
        self.path = path
        self.definitions = {}
        self.conns = {}
        self.start_ns = None
        self.end_ns = None
        schemas = {}
        channels = {}
        counts = defaultdict(int)
        end_note = None
        for event in self._scan():
            kind = event[0]
            if kind == 'schema':
                _, sid, name, encoding, data = event
                schemas[sid] = name
                _add_definition(self.definitions, name, encoding, data)
            elif kind == 'channel':
                _, cid, sid, topic, encoding = event
                channels[cid] = (topic, schemas.get(sid, ''), encoding)
            elif kind == 'message':
                _, cid, stamp, _data = event
                counts[cid] += 1
                self.start_ns = stamp if self.start_ns is None else min(self.start_ns, stamp)
                self.end_ns = stamp if self.end_ns is None else max(self.end_ns, stamp)
            elif kind == 'end':
                end_note = event[1]
        self.conns = {
            cid: _Conn(cid, topic, msgtype, counts.get(cid, 0), encoding)
            for cid, (topic, msgtype, encoding) in channels.items()}
        total = sum(counts.values())
        note = f'{display}: MCAP index unusable ({reason}); scanned the file sequentially'
        if end_note:
            note += f' and recovered {total} messages; {end_note}'
        self.notes = [note]

    def _scan(self):
        """Yield schema/channel/message events; a final ('end', note) on damage."""
        with self.path.open('rb') as stream:
            if stream.read(8) != _MCAP_MAGIC:
                raise _StorageError('not an MCAP file (bad magic bytes)')
            while True:
                offset = stream.tell()
                head = stream.read(9)
                if not head:
                    yield 'end', f'the file ends at byte {offset} without a footer'
                    return
                if len(head) < 9:
                    yield 'end', f'the file is cut inside the record at byte {offset}'
                    return
                opcode = head[0]
                (length,) = struct.unpack('<Q', head[1:])
                if opcode in (0x02, 0x0F):  # footer, data end: the summary follows
                    return
                if opcode not in (0x03, 0x04, 0x05, 0x06):
                    stream.seek(length, os.SEEK_CUR)
                    continue
                content = stream.read(length)
                cut = len(content) < length
                if opcode == 0x06:
                    note = yield from self._chunk(content, offset, cut)
                    if note:
                        yield 'end', note
                        return
                elif cut:
                    yield 'end', f'the file is cut inside the record at byte {offset}'
                    return
                else:
                    yield from _mcap_records(content, 0, len(content), opcode)

    @staticmethod
    def _chunk(content, offset, cut):
        bio = io.BytesIO(content)
        try:
            _start, _end, size, _crc = struct.unpack('<QQQI', _read(bio, 28))
            compression = _read(bio, struct.unpack('<I', _read(bio, 4))[0]).decode()
            (records_len,) = struct.unpack('<Q', _read(bio, 8))
        except (struct.error, ValueError, UnicodeDecodeError):
            return f'the file is cut inside the chunk at byte {offset}'
        records = bio.read(records_len)
        try:
            if compression == 'zstd':
                data = zstd.ZstdDecompressor().decompress(records)
            elif compression == 'lz4':
                from lz4.frame import LZ4FrameDecompressor
                data = LZ4FrameDecompressor().decompress(records)
            elif compression == '':
                data = records
            else:
                return f'the chunk at byte {offset} uses unknown compression {compression!r}'
        except Exception as exc:  # noqa: BLE001 - any decompressor failure ends the scan
            return f'the chunk at byte {offset} could not be decompressed ({exc})'
        events = []
        pos = 0
        partial = False
        while pos < len(data):
            if pos + 9 > len(data):
                partial = True
                break
            opcode = data[pos]
            (length,) = struct.unpack_from('<Q', data, pos + 1)
            if pos + 9 + length > len(data):
                partial = True
                break
            events.extend(_mcap_records(data, pos + 9, pos + 9 + length, opcode))
            pos += 9 + length
        messages = sorted((e for e in events if e[0] == 'message'), key=lambda e: e[2])
        yield from (e for e in events if e[0] != 'message')
        yield from messages
        if cut or partial or len(data) < size:
            return f'the file is cut inside the chunk at byte {offset}'
        return None

    def messages(self, conn_ids):
        wanted = set(conn_ids)
        for event in self._scan():
            if event[0] == 'message' and event[1] in wanted:
                yield event[2], event[1], event[3]

    def close(self):
        pass


def _read(bio, size):
    data = bio.read(size)
    if len(data) != size:
        raise ValueError('short read')
    return data


def _mcap_records(buf, start, end, opcode):
    """Parse one schema/channel/message record body ``buf[start:end]`` into scan events."""
    try:
        if opcode == 0x05:
            if end - start < 22:
                return []
            cid, _seq, log_time, _pub = struct.unpack_from('<HIQQ', buf, start)
            return [('message', cid, log_time, bytes(buf[start + 22:end]))]
        bio = io.BytesIO(bytes(buf[start:end]))
        if opcode == 0x03:
            (sid,) = struct.unpack('<H', _read(bio, 2))
            name = _read(bio, struct.unpack('<I', _read(bio, 4))[0]).decode()
            encoding = _read(bio, struct.unpack('<I', _read(bio, 4))[0]).decode()
            data = _read(bio, struct.unpack('<I', _read(bio, 4))[0]).decode()
            return [('schema', sid, name, encoding, data)]
        if opcode == 0x04:
            cid, sid = struct.unpack('<HH', _read(bio, 4))
            topic = _read(bio, struct.unpack('<I', _read(bio, 4))[0]).decode()
            encoding = _read(bio, struct.unpack('<I', _read(bio, 4))[0]).decode()
            return [('channel', cid, sid, topic, encoding)]
    except (struct.error, ValueError, UnicodeDecodeError):
        return []
    return []


def _add_definition(definitions, name, encoding, text):
    """Record an embedded definition (first one wins), if it is a ROS 2 msg or idl text."""
    kind = {'ros2msg': 'msg', 'ros2idl': 'idl', 'omgidl': 'idl'}.get(str(encoding))
    if kind and name and text and name not in definitions:
        definitions[name] = (kind, str(text))


# --------------------------------------------------------------------------------------------
# Reader
# --------------------------------------------------------------------------------------------

class _Metadata(NamedTuple):
    version: int
    storage: str
    files: list
    compression_mode: str
    topics: list  # [(name, msgtype, count)]
    ros_distro: str


def _load_metadata(bag):
    """Parse and validate ``bag/metadata.yaml`` (rosbag2 versions 1-9)."""
    path = bag / 'metadata.yaml'
    try:
        doc = yaml.safe_load(path.read_text(encoding='utf-8'))
    except OSError as exc:
        raise BagError(f'{bag}: cannot read metadata.yaml ({exc.strerror or exc})') from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise BagError(f'{bag}: metadata.yaml is not valid YAML ({exc})') from None
    info = doc.get('rosbag2_bagfile_information') if isinstance(doc, dict) else None
    if not isinstance(info, dict):
        raise BagError(f'{bag}: metadata.yaml has no "rosbag2_bagfile_information" mapping; '
                       'it is not rosbag2 metadata')

    def bad(what):
        return BagError(f'{bag}: metadata.yaml: {what}')

    version = info.get('version')
    if not isinstance(version, int) or isinstance(version, bool):
        raise bad(f'"version" must be an integer, got {version!r}')
    if version > 9:
        LOGGER.warning('%s: metadata version %d is newer than 9; reading it anyway', bag, version)
    storage = info.get('storage_identifier')
    if storage not in ('sqlite3', 'mcap'):
        raise bad(f'storage_identifier {storage!r} is not supported (sqlite3 or mcap)')
    files = info.get('relative_file_paths', [])
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        raise bad(f'"relative_file_paths" must be a list of file names, got {files!r}')
    mode = str(info.get('compression_mode') or '').strip().lower()
    mode = '' if mode == 'none' else mode
    if mode not in ('', 'file', 'message'):
        raise bad(f'compression_mode {mode!r} is not supported (FILE, MESSAGE or none)')
    fmt = str(info.get('compression_format') or '').strip().lower()
    if mode and fmt != 'zstd':
        raise bad(f'compression_format {fmt!r} is not supported (only zstd)')
    entries = info.get('topics_with_message_count') or []
    if not isinstance(entries, list):
        raise bad('"topics_with_message_count" must be a list')
    topics = []
    for idx, entry in enumerate(entries):
        meta = entry.get('topic_metadata') if isinstance(entry, dict) else None
        if (not isinstance(meta, dict) or not isinstance(meta.get('name'), str)
                or not isinstance(meta.get('type'), str)):
            raise bad(f'topics_with_message_count[{idx}] has no topic_metadata name and type')
        count = entry.get('message_count', 0)
        topics.append((meta['name'], meta['type'], count if isinstance(count, int) else 0))
    return _Metadata(version, storage, files, mode, topics, str(info.get('ros_distro') or ''))


class BagReader:
    """A rosbag2 bag opened for reading; use :func:`open_bag` and ``with``.

    Attributes:
        path: the bag as given (directory, or a single .mcap/.db3 file).
        topics: ``{topic: TopicInfo(name, msgtype, count)}`` sorted by topic; ``count`` is what
            the storage files hold (and :meth:`messages` yields unless decoding fails).
        start_ns: timestamp of the first message (ns since epoch); 0 for an empty bag.
        duration_ns: last minus first message timestamp (ns), as ``ros2 bag info`` shows it.
        message_count: sum of the topic counts.
        typestore: the rosbags type store that decodes this bag (picked by ros_distro or
            metadata version, extended by the bag's embedded definitions).
        skipped: human-readable notes about everything that could not be read or decoded.

    """

    def __init__(self, path):
        self.path = Path(path)
        self.skipped = []
        self.topics = {}
        self.start_ns = 0
        self.duration_ns = 0
        self.message_count = 0
        self.typestore = None
        self._stack = ExitStack()
        self._storages = []
        self._compressed_messages = False
        self._decodable = {}
        self._failures = {}
        self._open = False
        try:
            self._do_open()
        except BagError:
            self._stack.close()
            raise
        except Exception as exc:
            self._stack.close()
            raise BagError(f'{self.path}: cannot open bag ({type(exc).__name__}: {exc})') from exc
        self._open = True

    # -- opening -----------------------------------------------------------------------------

    def _note(self, text):
        if text not in self.skipped:
            self.skipped.append(text)
            LOGGER.warning('%s', text)

    def _make_tmpdir(self):
        tmp = tempfile.TemporaryDirectory(prefix='contrastive_vla_bag_')
        self._stack.enter_context(tmp)
        return Path(tmp.name)

    def _do_open(self):
        bag = self.path
        if not bag.exists():
            raise BagError(f'{bag}: no such bag (the path does not exist)')
        metadata = None
        if bag.is_file():
            if bag.name == 'metadata.yaml':
                bag = bag.parent
            elif bag.suffix not in _STORAGE_SUFFIXES:
                raise BagError(f'{bag}: not a bag; expected a bag directory with metadata.yaml, '
                               'an .mcap file or a .db3 file')
        if bag.is_file():
            files = [bag]
            storage = _STORAGE_SUFFIXES[bag.suffix]
        elif (bag / 'metadata.yaml').exists():
            metadata = _load_metadata(bag)
            storage = metadata.storage
            files = self._resolve_files(bag, metadata.files)
            self._compressed_messages = metadata.compression_mode == 'message'
        else:
            files, storage = self._find_storage_files(bag)
            LOGGER.info('%s: no metadata.yaml, reading %d storage file(s) directly',
                        bag, len(files))
        self.typestore = get_typestore(_pick_store(
            metadata.version if metadata else None, metadata.ros_distro if metadata else None))
        for file in files:
            self._open_storage(file, storage, metadata)
        if files and not self._storages:
            raise BagError(f'{self.path}: no storage file could be read: '
                           + '; '.join(self.skipped))
        self._collect_topics(metadata)
        self._prepare_types()

    def _resolve_files(self, bag, relative):
        files, missing = [], []
        for rel in relative:
            candidates = [bag / rel, bag / PurePosixPath(rel).name]
            found = next((c for c in candidates if c.is_file()), None)
            if found is None:
                missing.append(rel)
            else:
                files.append(found)
        if missing and not files:
            raise BagError(f'{bag}: none of the storage files listed in metadata.yaml exist '
                           f'({", ".join(missing)})')
        for rel in missing:
            self._note(f'{bag}: storage file {rel} listed in metadata.yaml is missing; '
                       'its messages are skipped')
        return files

    @staticmethod
    def _find_storage_files(bag):
        found = {kind: sorted((p for p in bag.iterdir() if p.suffix == suffix and p.is_file()),
                              key=_natural_key)
                 for suffix, kind in _STORAGE_SUFFIXES.items()}
        found = {kind: paths for kind, paths in found.items() if paths}
        if len(found) > 1:
            raise BagError(f'{bag}: no metadata.yaml, and both .mcap and .db3 files are present; '
                           'cannot tell which make up the bag')
        if not found:
            compressed = sorted(p.name for p in bag.glob('*.zstd'))
            hint = (f' (compressed files {", ".join(compressed)} need metadata.yaml)'
                    if compressed else '')
            raise BagError(f'{bag}: not a bag: no metadata.yaml and no .mcap or .db3 file{hint}')
        ((storage, files),) = found.items()
        return files, storage

    def _open_storage(self, file, storage, metadata):
        display = str(file)
        path = file
        if metadata is not None and metadata.compression_mode == 'file':
            path = self._make_tmpdir() / (file.stem if file.suffix == '.zstd' else file.name)
            try:
                with file.open('rb') as src, zstd.open(src, 'rb') as unpacked, \
                        path.open('wb') as dst:
                    shutil.copyfileobj(unpacked, dst)
            except (OSError, EOFError, zstd.ZstdError) as exc:
                self._note(f'{display}: zstd file could not be fully decompressed ({exc}); '
                           'reading the part that was')
        try:
            if storage == 'sqlite3':
                opened = _SqliteStorage(path, display, self._make_tmpdir)
            else:
                try:
                    opened = _McapStorage(path, display)
                except Exception as exc:  # noqa: BLE001 - rosbags' reasons vary; rescan
                    opened = _McapScanStorage(path, display, exc)
        except (_StorageError, OSError, sqlite3.Error) as exc:
            self._note(f'{display}: cannot read this {storage} file ({exc}); '
                       'its messages are skipped')
            return
        self._stack.callback(opened.close)
        self._storages.append(opened)
        for note in opened.notes:
            self._note(note)

    def _collect_topics(self, metadata):
        types, counts = {}, defaultdict(int)
        for storage in self._storages:
            for conn in storage.conns.values():
                types.setdefault(conn.topic, conn.msgtype)
                counts[conn.topic] += conn.count
        if metadata is not None:
            readable = len(self._storages) == len(metadata.files)
            for name, msgtype, expected in metadata.topics:
                types.setdefault(name, msgtype)
                have = counts.get(name, 0)
                if have < expected:
                    self._note(
                        f'{self.path}: metadata.yaml lists {expected} message(s) on {name} but '
                        f'the readable storage holds {have}'
                        + ('' if readable else ' (some storage files could not be read)'))
        self.topics = {name: TopicInfo(name, types[name], counts.get(name, 0))
                       for name in sorted(types)}
        self.message_count = sum(info.count for info in self.topics.values())
        starts = [s.start_ns for s in self._storages if s.start_ns is not None]
        ends = [s.end_ns for s in self._storages if s.end_ns is not None]
        if starts and ends:
            self.start_ns = min(starts)
            self.duration_ns = max(ends) - self.start_ns

    def _prepare_types(self):
        definitions = {}
        for storage in self._storages:
            for name, value in storage.definitions.items():
                definitions.setdefault(name, value)
        by_type = defaultdict(list)
        for storage in self._storages:
            for conn in storage.conns.values():
                if conn.serialization_format not in ('cdr', ''):
                    self._note(f'{self.path}: {conn.topic} is serialized as '
                               f'{conn.serialization_format!r}, not CDR; its messages are '
                               'skipped')
                    continue
                by_type[conn.msgtype].append(conn)
        for msgtype, conns in sorted(by_type.items()):
            reason = None
            if msgtype not in self.typestore.types:
                reason = self._register(msgtype, definitions)
            self._decodable[msgtype] = reason is None
            if reason is not None:
                topics = sorted({c.topic for c in conns})
                count = sum(c.count for c in conns)
                self._note(f'{self.path}: {", ".join(topics)} ({msgtype}): {reason}; '
                           f'its {count} messages are skipped')

    def _register(self, msgtype, definitions):
        """Register ``msgtype`` from the bag's embedded definitions; a reason if impossible."""
        parts = msgtype.split('/')
        service = (len(parts) == 3 and parts[1] == 'srv' and parts[2].endswith('_Event'))
        text_def = definitions.get(msgtype)
        if service:
            base = f'{parts[0]}/srv/{parts[2][:-len("_Event")]}'
            text_def = text_def or definitions.get(base)
        if text_def is None:
            return ('type not in the type store and the bag embeds no definition for it')
        kind, text = text_def
        try:
            if service and kind == 'msg' and _is_srv_text(text):
                typs = _service_event_types(msgtype, text, self.typestore)
            elif kind == 'idl':
                typs = get_types_from_idl(text)
            else:
                typs = get_types_from_msg(text, msgtype)
            if msgtype not in typs:
                return f'the embedded definition does not define {msgtype}'
            self.typestore.register(
                {name: td for name, td in typs.items() if name not in self.typestore.types})
            self.typestore.get_msgdef(msgtype)  # resolves nested types: fails early if missing
        except Exception as exc:  # noqa: BLE001 - parser/typesys errors have many types
            return f'the embedded definition could not be used ({type(exc).__name__}: {exc})'
        return None

    # -- reading -----------------------------------------------------------------------------

    def messages(self, topics=None):
        """Yield :class:`BagMessage` for ``topics`` (all if None) in bag-timestamp order.

        Messages that cannot be decoded are skipped and described in :attr:`skipped`.

        Raises:
            BagError: the reader is closed, or a requested topic is not in the bag.

        """
        if not self._open:
            raise BagError(f'{self.path}: the bag reader is closed')
        if topics is None:
            wanted = set(self.topics)
        else:
            wanted = {topics} if isinstance(topics, str) else set(topics)
            unknown = sorted(wanted - set(self.topics))
            if unknown:
                raise BagError(f'{self.path}: topic(s) {", ".join(unknown)} not in the bag '
                               f'(it has: {", ".join(self.topics) or "no topics"})')
        return self._iterate(wanted)

    def _iterate(self, wanted):
        streams = []
        for index, storage in enumerate(self._storages):
            conn_ids = [c.id for c in storage.conns.values()
                        if c.topic in wanted and self._decodable.get(c.msgtype)]
            if conn_ids:
                streams.append(self._guarded(index, storage, conn_ids))
        for stamp, index, conn_id, raw in heapq.merge(*streams, key=lambda item: item[0]):
            conn = self._storages[index].conns[conn_id]
            try:
                if self._compressed_messages:
                    raw = zstd.decompress(raw)
                msg = self.typestore.deserialize_cdr(raw, conn.msgtype)
            except Exception as exc:  # noqa: BLE001 - corrupt payloads raise various errors
                self._decode_failure(conn, exc)
                continue
            yield BagMessage(conn.topic, conn.msgtype, stamp, msg)

    def _guarded(self, index, storage, conn_ids):
        count = 0
        try:
            for stamp, conn_id, raw in storage.messages(conn_ids):
                count += 1
                yield stamp, index, conn_id, raw
        except Exception as exc:  # noqa: BLE001 - damaged storage: keep what was read
            self._note(f'{storage.display}: reading stopped after {count} messages '
                       f'({type(exc).__name__}: {exc}); the rest of this file is skipped')

    def _decode_failure(self, conn, exc):
        key = (conn.topic, conn.msgtype)
        entry = self._failures.get(key)
        if entry is None:
            self.skipped.append('')
            entry = self._failures[key] = [0, f'{type(exc).__name__}: {exc}',
                                           len(self.skipped) - 1]
            LOGGER.warning('%s: a message on %s (%s) could not be decoded: %s',
                           self.path, conn.topic, conn.msgtype, entry[1])
        entry[0] += 1
        self.skipped[entry[2]] = (f'{self.path}: {entry[0]} message(s) on {conn.topic} '
                                  f'({conn.msgtype}) could not be decoded ({entry[1]})')

    # -- lifetime ----------------------------------------------------------------------------

    def close(self):
        """Close the storage files and remove temporary copies (idempotent)."""
        self._open = False
        self._stack.close()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.close()
        return False

    def __repr__(self):
        return (f'BagReader({str(self.path)!r}, {len(self.topics)} topics, '
                f'{self.message_count} messages)')


def open_bag(path):
    """Open a rosbag2 bag for reading: ``with open_bag(path) as bag: ...``.

    ``path`` is a bag directory (with metadata.yaml, any version 1-9, sqlite3 or MCAP,
    uncompressed or zstd FILE/MESSAGE, split or not), a directory of .mcap/.db3 files without
    metadata.yaml (an interrupted recording), or a single .mcap/.db3 file.

    Raises:
        BagError: the path does not exist, is not a bag, its metadata is malformed, or no
            storage file can be read at all. Partial damage is reported in ``skipped``.

    """
    return BagReader(path)


def _is_srv_text(text):
    return any(line.strip() == '---' for line in text.splitlines())


def _service_event_types(msgtype, text, typestore):
    """Typesdict for ``pkg/srv/X_Event`` (+ Request, Response) from embedded .srv text."""
    pkg, _, event = msgtype.split('/')
    name = event[:-len('_Event')]
    # Dependencies may follow the .srv text as '====...\nMSG: pkg/Type' sections.
    match = re.search(r'^=+\s*\nMSG: ', text, flags=re.M)
    main, deps_text = (text[:match.start()], text[match.start():]) if match else (text, '')
    lines = main.splitlines()
    cut = next(i for i, line in enumerate(lines) if line.strip() == '---')
    typs = {}
    for suffix, part in (('Request', lines[:cut]), ('Response', lines[cut + 1:])):
        typs.update(get_types_from_msg('\n'.join(part) + '\n' + deps_text,
                                       f'{pkg}/msg/{name}_{suffix}'))
        typs[f'{pkg}/srv/{name}_{suffix}'] = typs.pop(f'{pkg}/msg/{name}_{suffix}')
    info = 'service_msgs/msg/ServiceEventInfo'
    if info not in typestore.types:
        typs[info] = kilted_typestore().fielddefs[info]
    typs[msgtype] = ([], [
        ('info', (Nodetype.NAME, info)),
        ('request', (Nodetype.SEQUENCE, ((Nodetype.NAME, f'{pkg}/srv/{name}_Request'), 1))),
        ('response', (Nodetype.SEQUENCE, ((Nodetype.NAME, f'{pkg}/srv/{name}_Response'), 1))),
    ])
    return typs


# --------------------------------------------------------------------------------------------
# Writer
# --------------------------------------------------------------------------------------------

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

    def __init__(self, path, storage='mcap', typestore=None):
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

    def open(self):
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
        except Exception as exc:
            self._remove_tmpdir()
            raise BagError(f'{self.path}: cannot create the bag ({exc})') from exc
        self._writer = writer
        return self

    def add_topic(self, topic, msgtype, latched=False):
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

    def write(self, topic, timestamp_ns, msg):
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

    def write_raw(self, topic, timestamp_ns, cdr_bytes):
        """Write already serialized CDR bytes (with the 4-byte encapsulation header)."""
        conn = self._connection(topic)
        raw = bytes(cdr_bytes)
        if len(raw) < 4 or raw[:2] not in (b'\x00\x00', b'\x00\x01'):
            raise BagError(f'{self.path}: topic {topic}: data is not CDR (it must start with '
                           'the encapsulation header 00 00 or 00 01)')
        self._write(conn, topic, timestamp_ns, raw)

    def flush(self):
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

    def close(self):
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

    def abort(self):
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

    def __enter__(self):
        return self.open()

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        else:
            self.abort()
        return False


# --------------------------------------------------------------------------------------------
# Message builders (ROS 2 Kilted types)
# --------------------------------------------------------------------------------------------

def partial_recordings(path):
    """Hidden partial bags a killed writer left next to ``path`` (``.NAME.*.partial``)."""
    path = Path(path)
    if not path.parent.is_dir():
        return []
    return sorted(d for d in path.parent.glob(f'.{path.name}.*.partial') if d.is_dir())


def recover_bag(partial, out, storage='mcap'):
    """Save what an interrupted recording holds as a complete bag at ``out``.

    ``partial`` is the hidden ``.NAME.*.partial`` directory a killed :class:`BagWriter` leaves
    (or any bag directory without ``metadata.yaml``). Everything readable is copied, in time
    order; a cut last record and the chunk that was still in memory at the kill are lost.
    Returns ``(counts per topic, notes on what could not be read)``; the partial directory is
    left in place for the caller to delete once the copy is checked.
    """
    source = Path(partial)
    if not source.is_dir():
        raise BagError(f'{source}: no such directory')
    inner = [d for d in source.iterdir() if d.is_dir()]
    if source.name.endswith('.partial') and len(inner) == 1:
        source = inner[0]  # BagWriter writes the bag one level down
    counts = {}
    with open_bag(source) as reader, BagWriter(out, storage=storage) as writer:
        for info in reader.topics.values():
            writer.add_topic(info.name, info.msgtype)
            counts[info.name] = 0
        for m in reader.messages():
            writer.write(m.topic, m.timestamp_ns, m.msg)
            counts[m.topic] += 1
        notes = list(reader.skipped)
    return counts, notes


def stamp_to_ns(stamp):
    """``builtin_interfaces/Time`` -> ns: ``sec * 1e9 + nanosec``, exact for any nanosec.

    Some writers store un-normalized stamps (``sec=0, nanosec=2_000_000_000``); this keeps
    their meaning instead of rejecting them.
    """
    return int(stamp.sec) * NS_PER_S + int(stamp.nanosec)


def _time(stamp_ns):
    sec, nanosec = divmod(int(stamp_ns), NS_PER_S)
    return kilted_typestore().types['builtin_interfaces/msg/Time'](sec=sec, nanosec=nanosec)


def make_header(stamp_ns, frame_id=''):
    """``std_msgs/msg/Header`` stamped ``stamp_ns`` (ns since epoch) in frame ``frame_id``."""
    return kilted_typestore().types['std_msgs/msg/Header'](stamp=_time(stamp_ns),
                                                             frame_id=str(frame_id))


def image_msg(rgb, stamp_ns, frame_id):
    """``sensor_msgs/msg/Image`` (rgb8, step = 3 * width) from an ``H x W x 3`` uint8 array.

    ``frame_id`` is the camera's optical frame (z forward, x right, y down).
    """
    fields = rgb_to_image_fields(rgb, data_as='numpy')
    return kilted_typestore().types['sensor_msgs/msg/Image'](
        header=make_header(stamp_ns, frame_id), **fields)


def camera_info_msg(width, height, fx, fy, cx, cy, stamp_ns, frame_id):
    """``sensor_msgs/msg/CameraInfo`` of an undistorted pinhole camera.

    ``fx, fy`` are focal lengths and ``cx, cy`` the principal point, all in pixels; ``k`` and
    ``p`` are filled from them, ``r`` is identity, distortion is plumb_bob with zero
    coefficients.
    """
    types = kilted_typestore().types
    k = np.array([fx, 0.0, cx, 0.0, fy, cy, 0.0, 0.0, 1.0], dtype=np.float64)
    p = np.array([fx, 0.0, cx, 0.0, 0.0, fy, cy, 0.0, 0.0, 0.0, 1.0, 0.0], dtype=np.float64)
    roi = types['sensor_msgs/msg/RegionOfInterest'](
        x_offset=0, y_offset=0, height=0, width=0, do_rectify=False)
    return types['sensor_msgs/msg/CameraInfo'](
        header=make_header(stamp_ns, frame_id), height=int(height), width=int(width),
        distortion_model='plumb_bob', d=np.zeros(5, dtype=np.float64), k=k,
        r=np.eye(3, dtype=np.float64).reshape(-1), p=p, binning_x=0, binning_y=0, roi=roi)


def string_msg(text):
    """``std_msgs/msg/String`` (e.g. the current language instruction)."""
    return kilted_typestore().types['std_msgs/msg/String'](data=str(text))


def bool_msg(value):
    """``std_msgs/msg/Bool``."""
    return kilted_typestore().types['std_msgs/msg/Bool'](data=bool(value))


def joint_state_msg(names, positions, velocities=None, efforts=None, stamp_ns=0, frame_id=''):
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


def float64_array_msg(values, label=''):
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

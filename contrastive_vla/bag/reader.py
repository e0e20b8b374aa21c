"""Reading rosbag2 bags (:func:`open_bag`), more forgiving than ``rosbags.rosbag2.Reader``.

Real bags written by the ROS 2 tools trip rosbags' reader up in ways that silently lose data:

- Storage connections are matched to topics by **topic and type only**. rosbags also demands
  that the QoS profiles in ``metadata.yaml`` equal the ones in the storage file; bags whose
  metadata was edited or regenerated (rosbag2's own test bags, reindexed bags) then yield
  nothing, without an error. QoS has no bearing on decoding, so it is ignored here.
- sqlite3 storage is read directly (:mod:`~contrastive_vla.bag.storage_sqlite`); MCAP through
  rosbags' indexed reader (:mod:`~contrastive_vla.bag.storage_mcap`).
- Types missing from the type store are registered from the definitions embedded in the bag
  (MCAP schema records, the sqlite3 ``message_definitions`` table), service events included
  (:mod:`~contrastive_vla.bag.typestores`).
- Damage is reported, not fatal, where something can still be read: a truncated MCAP (no
  footer: an interrupted recording) is scanned sequentially, a truncated sqlite3 file is read
  up to the first missing page, a split bag with a missing file reads the others, undecodable
  messages are skipped, an MCAP chunk failing its CRC is skipped. Every loss is described in
  ``reader.skipped`` (and logged).
  A bag none of whose storage files can be opened raises :class:`BagError`.

Timestamps are integer nanoseconds since the Unix epoch (bag receive time), as in rosbag2.
"""

from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
import heapq
import logging
import os
from pathlib import Path, PurePosixPath
import re
import shutil
import sqlite3
import sys
import tempfile

from rosbags.typesys import get_typestore

if sys.version_info >= (3, 14):  # pragma: no cover
    from compression import zstd
else:
    from backports import zstd

from contrastive_vla.bag.metadata import load_metadata
from contrastive_vla.bag.storage_mcap import McapScanStorage, McapStorage
from contrastive_vla.bag.storage_sqlite import SqliteStorage
from contrastive_vla.bag.types import BagError, BagMessage, StorageError, TopicInfo
from contrastive_vla.bag.typestores import pick_store, register_type

LOGGER = logging.getLogger(__name__)

_STORAGE_SUFFIXES = {'.mcap': 'mcap', '.db3': 'sqlite3'}


def _natural_key(path):
    return [int(part) if part.isdigit() else part for part in re.split(r'(\d+)', path.name)]


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

    def __init__(self, path: str | os.PathLike) -> None:
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
            metadata = load_metadata(bag)
            storage = metadata.storage
            files = self._resolve_files(bag, metadata.files)
            self._compressed_messages = metadata.compression_mode == 'message'
        else:
            files, storage = self._find_storage_files(bag)
            LOGGER.info('%s: no metadata.yaml, reading %d storage file(s) directly',
                        bag, len(files))
        self.typestore = get_typestore(pick_store(
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
                opened = SqliteStorage(path, display, self._make_tmpdir)
            else:
                try:
                    opened = McapStorage(path, display)
                except Exception as exc:  # noqa: BLE001 - rosbags' reasons vary; rescan
                    opened = McapScanStorage(path, display, exc)
        except (StorageError, OSError, sqlite3.Error) as exc:
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
                reason = register_type(self.typestore, msgtype, definitions)
            self._decodable[msgtype] = reason is None
            if reason is not None:
                topics = sorted({c.topic for c in conns})
                count = sum(c.count for c in conns)
                self._note(f'{self.path}: {", ".join(topics)} ({msgtype}): {reason}; '
                           f'its {count} messages are skipped')

    # -- reading -----------------------------------------------------------------------------

    def messages(self, topics: str | Iterable[str] | None = None) -> Iterator[BagMessage]:
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
        noted = len(storage.notes)
        try:
            for stamp, conn_id, raw in storage.messages(conn_ids):
                count += 1
                if len(storage.notes) != noted:  # a storage skipped a part (a corrupt chunk)
                    noted = self._take_notes(storage, noted)
                yield stamp, index, conn_id, raw
        except Exception as exc:  # noqa: BLE001 - damaged storage: keep what was read
            self._note(f'{storage.display}: reading stopped after {count} messages '
                       f'({type(exc).__name__}: {exc}); the rest of this file is skipped')
        self._take_notes(storage, noted)

    def _take_notes(self, storage, noted):
        for note in storage.notes[noted:]:
            self._note(note)
        return len(storage.notes)

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

    def close(self) -> None:
        """Close the storage files and remove temporary copies (idempotent)."""
        self._open = False
        self._stack.close()

    def __enter__(self) -> 'BagReader':
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        self.close()
        return False

    def __repr__(self) -> str:
        return (f'BagReader({str(self.path)!r}, {len(self.topics)} topics, '
                f'{self.message_count} messages)')


def find_bags(paths: Iterable[str | Path]) -> list[Path]:
    """Bag directories under the given paths (a bag, or directories holding bags)."""
    bags = []
    for path in paths:
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f'{path}: no such bag or directory')
        if (path / 'metadata.yaml').is_file() or path.suffix in ('.mcap', '.db3'):
            bags.append(path)
            continue
        bags.extend(_bags_under(path))
    if not bags:
        raise FileNotFoundError(f'no rosbag2 bags (directories with metadata.yaml) under '
                                f'{[str(p) for p in paths]}')
    return bags


def _bags_under(root: Path) -> list[Path]:
    """Bag directories below ``root``, sorted; symbolic links to directories are followed
    (a subset of a dataset is often a folder of links to its bags), each real directory once,
    so a link back up the tree ends nothing. Hidden directories and caches are skipped."""
    found, seen = [], set()
    for here, dirs, files in os.walk(root, followlinks=True):
        real = os.path.realpath(here)
        if real in seen:
            dirs[:] = []
            continue
        seen.add(real)
        if 'metadata.yaml' in files:
            found.append(Path(here))
            dirs[:] = []   # a bag's own folder holds no further bags
            continue
        dirs[:] = sorted(d for d in dirs if not d.startswith('.'))
    return sorted(found)


def open_bag(path: str | os.PathLike) -> BagReader:
    """Open a rosbag2 bag for reading: ``with open_bag(path) as bag: ...``.

    ``path`` is a bag directory (with metadata.yaml, any version 1-9, sqlite3 or MCAP,
    uncompressed or zstd FILE/MESSAGE, split or not), a directory of .mcap/.db3 files without
    metadata.yaml (an interrupted recording), or a single .mcap/.db3 file.

    Raises:
        BagError: the path does not exist, is not a bag, its metadata is malformed, or no
            storage file can be read at all. Partial damage is reported in ``skipped``.

    """
    return BagReader(path)

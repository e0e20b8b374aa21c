"""rosbag2 sqlite3 storage files (schema 1-4), read directly with :mod:`sqlite3`.

Opened ``immutable=1``: never creates ``-shm``/``-wal`` files next to a read-only bag. A file
truncated mid-write is read up to the first missing page.
"""

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
import shutil
import sqlite3

from contrastive_vla.bag.types import Conn, StorageError
from contrastive_vla.bag.typestores import add_definition

_SQLITE_MAGIC = b'SQLite format 3\x00'


class SqliteStorage:
    """A rosbag2 sqlite3 file (schema 1-4), opened read-only and immutable.

    A file truncated mid-write (its header promises more pages than it has) is read from a
    zero-padded temporary copy: SQLite refuses such a file (or silently zero-fills a cut last
    page), but on the padded copy
    the rows in intact pages are readable (a table scan until it meets a missing page, so a
    lost page can leave a gap); they are then yielded in time order.
    """

    def __init__(self, path: Path, display: str, make_tmpdir: Callable[[], Path]) -> None:
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
        except StorageError:
            self.close()
            raise
        except sqlite3.DatabaseError as exc:
            self.close()
            what = ('truncated sqlite3 database could not be recovered' if padded is not None
                    else 'not a readable sqlite3 database')
            raise StorageError(f'{what} ({exc})') from None

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
            raise StorageError('sqlite3 file has no rosbag2 "messages" and "topics" tables')
        columns = {row[1] for row in con.execute('PRAGMA table_info(topics)')}
        fmt = 'serialization_format' if 'serialization_format' in columns else "'cdr'"
        topics = list(con.execute(f'SELECT id, name, type, {fmt} FROM topics ORDER BY id'))
        if 'message_definitions' in tables:
            try:
                for name, encoding, text in con.execute(
                        'SELECT topic_type, encoding, encoded_message_definition '
                        'FROM message_definitions ORDER BY id'):
                    add_definition(self.definitions, name, encoding, text)
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
            cid: Conn(cid, name, msgtype, counts.get(cid, 0), fmt or 'cdr')
            for cid, name, msgtype, fmt in topics}

    def messages(self, conn_ids: Iterable[int]) -> Iterator[tuple[int, int, bytes]]:
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

    def close(self) -> None:
        con, self._con = self._con, None
        if con is not None:
            con.close()


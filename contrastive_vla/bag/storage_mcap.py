"""rosbag2 MCAP storage files: intact ones through rosbags' index, damaged ones by a
sequential scan of the records (an interrupted recording has no summary, index or footer).

Both check each chunk's CRC when it has one (:mod:`~contrastive_vla.bag.mcap_chunks`): a
corrupt chunk is skipped with a note in ``notes`` and the other chunks are still read.
"""

from collections import defaultdict
from collections.abc import Iterable, Iterator
import heapq
import io
import os
from pathlib import Path
import struct

from rosbags.interfaces import MessageDefinitionFormat
from rosbags.rosbag2.storage_mcap import McapReader

from contrastive_vla.bag.mcap_chunks import ChunkError, check_crc, decompress, read_chunk
from contrastive_vla.bag.types import Conn, StorageError
from contrastive_vla.bag.typestores import add_definition

_MCAP_MAGIC = b'\x89MCAP0\r\n'


class McapStorage:
    """An intact, indexed MCAP file read through rosbags (chunk index, time-ordered merge)."""

    def __init__(self, path: Path, display: str) -> None:
        self.display = display
        self.notes = []
        self.definitions = {}
        reader = McapReader(path)
        reader.open()
        self._reader = reader
        self.conns = {}
        for conn in reader.connections:
            fmt = getattr(conn.ext, 'serialization_format', 'cdr')
            self.conns[conn.id] = Conn(conn.id, conn.topic, conn.msgtype, conn.msgcount, fmt)
            if conn.msgdef.format != MessageDefinitionFormat.NONE:
                encoding = 'ros2idl' if conn.msgdef.format == MessageDefinitionFormat.IDL else ''
                add_definition(self.definitions, conn.msgtype, encoding or 'ros2msg',
                               conn.msgdef.data)
        meta = reader.metadata
        if meta.message_count:
            self.start_ns, self.end_ns = meta.start_time, meta.end_time - 1
        else:
            self.start_ns = self.end_ns = None

    def messages(self, conn_ids: Iterable[int]) -> Iterator[tuple[int, int, bytes]]:
        """``(stamp, conn id, data)`` in time order; corrupt chunks are skipped (see notes)."""
        wanted = set(conn_ids)
        reader = self._reader
        if not reader.chunks:  # unchunked file: rosbags' scan
            conns = [c for c in reader.connections if c.id in wanted]
            for conn, stamp, data in reader.messages(conns):
                yield stamp, conn.id, data
            return
        sources = [self._chunk_messages(chunk, wanted) for chunk in reader.chunks
                   if any(chunk.channel_count.get(cid, 0) for cid in wanted)]
        for stamp, order, cid, data in heapq.merge(*sources):
            if order >= 0:
                yield stamp, cid, data

    def _chunk_messages(self, chunk, wanted):
        # a placeholder first, so the merge opens (decompresses) a chunk only when it is due
        yield chunk.message_start_time, -1, 0, b''
        try:
            data = read_chunk(self._reader.bio, chunk.chunk_start_offset)
        except ChunkError as exc:
            note = (f'{self.display}: the chunk at byte {chunk.chunk_start_offset} {exc}; its '
                    f'{sum(chunk.channel_count.values())} message(s) are skipped')
            if note not in self.notes:
                self.notes.append(note)
            return
        events = []
        pos = 0
        while pos + 9 <= len(data):
            opcode = data[pos]
            (length,) = struct.unpack_from('<Q', data, pos + 1)
            if opcode == 0x05 and pos + 9 + length <= len(data):
                events.extend(e for e in _mcap_records(data, pos + 9, pos + 9 + length, opcode)
                              if e[1] in wanted)
            pos += 9 + length
        events.sort(key=lambda e: e[2])
        for order, (_, cid, stamp, payload) in enumerate(events):
            yield stamp, order, cid, payload

    def close(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None and reader.bio is not None:
            reader.close()


class McapScanStorage:
    """Sequential MCAP scan that needs no summary, index or footer.

    Used when rosbags cannot open a file, typically because a recording was interrupted and
    the file ends mid-record without a footer. Records are read in file order until the data
    runs out; a cut chunk is decompressed as far as it goes. Messages come in file order,
    sorted within each chunk (rosbag2 writes in receive order, so this is time order in
    practice).
    """

    def __init__(self, path: Path, display: str, reason: object) -> None:
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
        chunk_notes = []
        for event in self._scan():
            kind = event[0]
            if kind == 'schema':
                _, sid, name, encoding, data = event
                schemas[sid] = name
                add_definition(self.definitions, name, encoding, data)
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
            elif kind == 'note':
                chunk_notes.append(f'{display}: {event[1]}')
        self.conns = {
            cid: Conn(cid, topic, msgtype, counts.get(cid, 0), encoding)
            for cid, (topic, msgtype, encoding) in channels.items()}
        total = sum(counts.values())
        note = f'{display}: MCAP index unusable ({reason}); scanned the file sequentially'
        if end_note:
            note += f' and recovered {total} messages; {end_note}'
        self.notes = [note, *chunk_notes]

    def _scan(self):
        """Yield schema/channel/message events; a final ('end', note) on damage."""
        with self.path.open('rb') as stream:
            if stream.read(8) != _MCAP_MAGIC:
                raise StorageError('not an MCAP file (bad magic bytes)')
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
            _start, _end, size, crc = struct.unpack('<QQQI', _read(bio, 28))
            compression = _read(bio, struct.unpack('<I', _read(bio, 4))[0]).decode()
            (records_len,) = struct.unpack('<Q', _read(bio, 8))
        except (struct.error, ValueError, UnicodeDecodeError):
            return f'the file is cut inside the chunk at byte {offset}'
        records = bio.read(records_len)
        try:
            data = decompress(records, compression)
        except ChunkError as exc:
            return f'the chunk at byte {offset} {exc}'
        if not cut and len(records) == records_len:
            try:
                check_crc(data, size, crc)
            except ChunkError as exc:  # a whole chunk that is corrupt: skip it, read on
                yield 'note', f'the chunk at byte {offset} {exc}; its messages are skipped'
                return None
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

    def messages(self, conn_ids: Iterable[int]) -> Iterator[tuple[int, int, bytes]]:
        wanted = set(conn_ids)
        for event in self._scan():
            if event[0] == 'message' and event[1] in wanted:
                yield event[2], event[1], event[3]

    def close(self) -> None:
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


"""MCAP chunk checksums: written by :func:`add_chunk_crcs`, checked by :func:`read_chunk`.

rosbags' MCAP writer (0.11) writes every chunk with CRC 0 ("not computed"), so corrupt bytes
inside a chunk decode into silently changed messages. The MCAP format stores the CRC32 of a
chunk's *uncompressed* records in the chunk record (byte 24 of its body).
:func:`add_chunk_crcs` hooks the writer's ``close_chunk`` and ``close`` to fill them in when
the bag is finished (there is no option for it); a test pins the hook against the locked
rosbags version, and the hook does nothing if the writer changes shape. Readers check a chunk's
CRC when it is non-zero (bags written by ``ros2 bag record`` may carry zeros, which stay
accepted). The data section's CRC (Data End record) stays 0: computing it meant reading every
chunk back, which halved the recording speed of 640x480 frames here, and the chunk CRCs already
cover every message.
"""

import io
import os
import struct
import sys
from typing import BinaryIO
from zlib import crc32

if sys.version_info >= (3, 14):  # pragma: no cover
    from compression import zstd
else:
    from backports import zstd

CHUNK_OP = 0x06
_CRC_AT = 9 + 24  # opcode + length, then start time, end time, uncompressed size


class ChunkError(Exception):
    """A chunk cannot be trusted: unreadable, undecompressable or failing its CRC."""


def decompress(records: bytes, compression: str) -> bytes:
    """Decompress a chunk's records (``''``, ``'zstd'`` or ``'lz4'``); a cut stream gives
    what it holds. Raises :class:`ChunkError` for an unknown compression or bad data."""
    try:
        if compression == 'zstd':
            return zstd.ZstdDecompressor().decompress(records)
        if compression == 'lz4':
            # optional: only lz4-compressed MCAP chunks need it
            from lz4.frame import LZ4FrameDecompressor
            return LZ4FrameDecompressor().decompress(records)
        if compression == '':
            return records
    except Exception as exc:  # noqa: BLE001 - any decompressor failure means a bad chunk
        raise ChunkError(f'could not be decompressed ({exc})') from exc
    raise ChunkError(f'uses unknown compression {compression!r}')


def check_crc(data: bytes, size: int, crc: int) -> None:
    """Raise :class:`ChunkError` unless ``data`` has ``size`` bytes and, for a non-zero
    ``crc``, that CRC32."""
    if len(data) != size:
        raise ChunkError(f'holds {len(data)} bytes of records instead of {size}')
    if crc and crc32(data) != crc:
        raise ChunkError(f'fails its CRC check (stored {crc:#010x}, data {crc32(data):#010x}): '
                         'the data is corrupt')


def read_chunk(stream: BinaryIO, offset: int) -> bytes:
    """The verified, uncompressed records of the chunk record at byte ``offset`` of
    ``stream`` (a seekable binary file). Raises :class:`ChunkError` with the reason."""
    stream.seek(offset)
    head = stream.read(9)
    if len(head) < 9 or head[0] != CHUNK_OP:
        raise ChunkError('is not a chunk record')
    (length,) = struct.unpack('<Q', head[1:])
    body = io.BytesIO(stream.read(length))
    try:
        _start, _end, size, crc = struct.unpack('<QQQI', _exact(body, 28))
        compression = _exact(body, struct.unpack('<I', _exact(body, 4))[0]).decode()
        records = _exact(body, struct.unpack('<Q', _exact(body, 8))[0])
    except (struct.error, ValueError, UnicodeDecodeError) as exc:
        raise ChunkError('has an unreadable header') from exc
    data = decompress(records, compression)
    check_crc(data, size, crc)
    return data


def _exact(bio, size):
    data = bio.read(size)
    if len(data) != size:
        raise ValueError('short read')
    return data


class _CrcHook:
    """Wraps one rosbags ``McapWriter``'s ``close_chunk`` (each chunk's CRC computed) and
    ``close`` (the CRCs written into the finished file).

    Not written into each chunk as it is closed: rewriting bytes of a page the kernel is
    writing back blocks until that write-back ends, which stalled a live recording for a
    few hundred milliseconds (camera frames lost). A recording killed before ``close`` keeps
    CRC 0 in its chunks: "not computed", accepted unchecked."""

    def __init__(self, storage):
        self.storage = storage
        self.pending = []  # (file offset of a chunk's CRC field, CRC)
        self.close_chunk, self.close = storage.close_chunk, storage.close
        storage.close_chunk = self._close_chunk  # McapWriter.close and flush call this too
        storage.close = self._close

    def _close_chunk(self):
        storage = self.storage
        self.pending.append((storage.bio.tell() + _CRC_AT,
                             crc32(storage.chunk.bio.getvalue())))
        self.close_chunk()

    def _close(self, *args, **kwargs):
        path = self.storage.path
        self.close(*args, **kwargs)
        with open(path, 'r+b') as f:
            for offset, crc in self.pending:
                f.seek(offset)
                f.write(crc.to_bytes(4, 'little'))
        self.pending = []


def add_chunk_crcs(storage: object) -> bool:
    """Make a rosbags ``McapWriter`` (``Writer.storage`` after ``open``) write chunk CRCs;
    returns False (and changes nothing) if the writer does not have the expected shape."""
    chunk = getattr(storage, 'chunk', None)
    if not (callable(getattr(storage, 'close_chunk', None))
            and isinstance(getattr(chunk, 'bio', None), io.BytesIO)
            and callable(getattr(storage, 'close', None))
            and isinstance(getattr(storage, 'path', None), (str, os.PathLike))
            and hasattr(getattr(storage, 'bio', None), 'tell')):
        return False
    _CrcHook(storage)
    return True

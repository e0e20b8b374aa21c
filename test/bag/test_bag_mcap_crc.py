"""MCAP chunk CRCs: written by BagWriter, checked on read; a corrupt chunk is skipped, noted."""

import struct
from zlib import crc32

import numpy as np
import pytest
from rosbags.rosbag2 import Writer
from rosbags.rosbag2.enums import StoragePlugin

from contrastive_vla.bag import BagWriter, image_msg, open_bag, string_msg
from contrastive_vla.bag.mcap_chunks import add_chunk_crcs
from contrastive_vla.core.images import image_to_rgb


def _records(data):
    """``[(opcode, offset, body)]`` of the data section of an MCAP file (up to Data End)."""
    out, pos = [], 8
    while pos + 9 <= len(data):
        opcode = data[pos]
        (length,) = struct.unpack_from('<Q', data, pos + 1)
        out.append((opcode, pos, data[pos + 9:pos + 9 + length]))
        if opcode == 0x0F:
            break
        pos += 9 + length
    return out


def _chunks(data):
    """``[(offset, stored crc, records start, records bytes)]`` of every chunk record."""
    out = []
    for opcode, pos, body in _records(data):
        if opcode == 0x06:
            size, crc, clen = struct.unpack_from('<QII', body, 16)
            assert clen == 0  # BagWriter writes uncompressed chunks
            (rlen,) = struct.unpack_from('<Q', body, 32)
            assert rlen == size
            out.append((pos, crc, pos + 9 + 40, body[40:40 + rlen]))
    return out


def _frame(i):
    return np.full((48, 64, 3), 40 * i + 7, np.uint8)


def _write_frames(path, frames=4):
    """One image per chunk (flush closes the chunk), plus a first chunk with an instruction."""
    with BagWriter(path) as bag:
        bag.add_topic('/instruction', 'std_msgs/msg/String')
        bag.add_topic('/camera/image_raw', 'sensor_msgs/msg/Image')
        bag.write('/instruction', 1, string_msg('pick up the red cube'))
        bag.flush()
        for i in range(frames):
            stamp = (i + 1) * 100_000_000
            bag.write('/camera/image_raw', stamp, image_msg(_frame(i), stamp, 'camera'))
            bag.flush()
    return path / f'{path.name}.mcap'


def _corrupt_frame_chunk(mcap, index):
    """Flip 4 KB inside the image data of frame ``index``'s chunk (not its header)."""
    data = bytearray(mcap.read_bytes())
    _, _, start, records = _chunks(bytes(data))[index + 1]
    middle = start + len(records) // 2
    data[middle:middle + 4096] = bytes(b ^ 0xFF for b in data[middle:middle + 4096])
    mcap.write_bytes(bytes(data))


def test_rosbags_mcap_writer_has_the_shape_the_crc_hook_needs(tmp_path):
    # Pins the hook against the locked rosbags version: if this fails, chunks lose their CRCs.
    writer = Writer(tmp_path / 'plain', version=9, storage_plugin=StoragePlugin.MCAP)
    writer.open()
    try:
        assert add_chunk_crcs(writer.storage) is True
    finally:
        writer.close()


def test_written_chunks_carry_crcs(tmp_path, write_demo_bag):
    path = tmp_path / 'demo'
    write_demo_bag(path, 'mcap')
    chunks = _chunks((path / 'demo.mcap').read_bytes())
    assert chunks
    for _, crc, _, records in chunks:
        assert crc != 0 and crc == crc32(records)


def test_flushed_chunks_carry_crcs(tmp_path):
    mcap = _write_frames(tmp_path / 'frames')
    chunks = _chunks(mcap.read_bytes())
    assert len(chunks) == 5
    assert all(crc == crc32(records) != 0 for _, crc, _, records in chunks)


def test_intact_bag_reads_identically_to_plain_rosbags(tmp_path):
    from rosbags.rosbag2 import Reader

    path = tmp_path / 'frames'
    _write_frames(path)
    with open_bag(path) as bag:
        ours = [(m.topic, m.timestamp_ns) for m in bag.messages()]
        assert bag.skipped == []
        frames = [image_to_rgb(m.msg) for m in bag.messages('/camera/image_raw')]
    with Reader(path) as reader:
        plain = [(c.topic, t) for c, t, _ in reader.messages()]
    assert ours == plain and len(ours) == 5
    for i, frame in enumerate(frames):
        np.testing.assert_array_equal(frame, _frame(i))


@pytest.mark.parametrize('footer', ['indexed', 'cut'])
def test_corrupt_chunk_is_skipped_with_a_note(tmp_path, footer):
    path = tmp_path / 'frames'
    mcap = _write_frames(path)
    _corrupt_frame_chunk(mcap, 1)
    if footer == 'cut':  # an interrupted recording: no summary or footer, read by the scan
        data = mcap.read_bytes()
        opcode, pos, _ = _records(data)[-1]
        assert opcode == 0x0F
        mcap.write_bytes(data[:pos])
        (path / 'metadata.yaml').unlink()
    with open_bag(path) as bag:
        images = list(bag.messages('/camera/image_raw'))
        instructions = list(bag.messages('/instruction'))
        notes = list(bag.skipped)
    assert [m.timestamp_ns for m in images] == [100_000_000, 300_000_000, 400_000_000]
    for m in images:  # no changed frame comes through
        np.testing.assert_array_equal(image_to_rgb(m.msg), _frame(m.timestamp_ns // 10**8 - 1))
    assert [m.msg.data for m in instructions] == ['pick up the red cube']
    crc_notes = [n for n in notes if 'CRC' in n]
    assert len(crc_notes) == 1 and 'skipped' in crc_notes[0] and 'frames.mcap' in crc_notes[0]


def test_eval_style_consumers_see_the_note(tmp_path):
    from contrastive_vla.bag.recovery import recover_bag

    path = tmp_path / 'frames'
    mcap = _write_frames(path)
    _corrupt_frame_chunk(mcap, 2)
    counts, notes = recover_bag(path, tmp_path / 'copy')
    assert counts == {'/camera/image_raw': 3, '/instruction': 1}
    assert any('CRC' in n for n in notes)


def test_fixture_chunks_with_and_without_crcs_read(fixtures, read_all):
    # ros2 bag writes zstd chunks with CRCs and uncompressed ones with CRC 0: both are accepted
    crcs = {}
    for mcap in sorted(fixtures.rglob('*.mcap')):
        crcs[mcap.parent.name] = [crc for _, crc, _, _ in _chunks_any(mcap.read_bytes())]
        bag, messages = read_all(mcap.parent)
        assert not [n for n in bag.skipped if 'CRC' in n]
        assert len(messages) == bag.message_count > 0
    assert any(all(c != 0 for c in v) for v in crcs.values())
    assert any(all(c == 0 for c in v) for v in crcs.values())


def test_corrupt_fixture_chunk_is_noted(fixtures, tmp_path):
    import shutil

    bag_dir = tmp_path / 'talker'
    shutil.copytree(fixtures / 'talker_mcap_v4_qos_mismatch', bag_dir)
    mcap = bag_dir / 'talker.mcap'
    data = bytearray(mcap.read_bytes())
    ((pos, crc, start, records),) = _chunks_any(bytes(data))
    assert crc != 0
    data[start + len(records) // 2] ^= 0x01  # one bit inside the zstd stream
    mcap.write_bytes(bytes(data))
    with open_bag(bag_dir) as bag:
        messages = list(bag.messages())
        notes = list(bag.skipped)
    assert messages == []
    assert any(f'chunk at byte {pos}' in n for n in notes)


def _chunks_any(data):
    """Like _chunks for any compression: ``[(offset, crc, records start, records bytes)]``."""
    out = []
    for opcode, pos, body in _records(data):
        if opcode == 0x06:
            crc, clen = struct.unpack_from('<II', body, 24)
            (rlen,) = struct.unpack_from('<Q', body, 32 + clen)
            start = 40 + clen
            out.append((pos, crc, pos + 9 + start, body[start:start + rlen]))
    return out

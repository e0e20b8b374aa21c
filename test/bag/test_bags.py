"""rosbag2 reading (real fixtures, damaged bags) and writing (round trips) with rosbags."""

from pathlib import Path
import re
import shutil
import sqlite3

import numpy as np
import pytest
import yaml

from contrastive_vla.bag.bags import (
    BagError,
    BagMessage,
    BagWriter,
    TopicInfo,
    bool_msg,
    camera_info_msg,
    float64_array_msg,
    image_msg,
    joint_state_msg,
    kilted_typestore,
    make_header,
    open_bag,
    partial_recordings,
    recover_bag,
    stamp_to_ns,
    string_msg,
)
from contrastive_vla.core.images import image_to_rgb

FIXTURES = Path(__file__).resolve().parents[2].parent / 'shared' / 'fixtures' / 'bags'

TALKER = {'/topic': ('std_msgs/msg/String', 10), '/rosout': ('rcl_interfaces/msg/Log', 10),
          '/parameter_events': ('rcl_interfaces/msg/ParameterEvent', 0)}
SERVICES = {
    '/test_topic1': ('test_msgs/msg/Strings', 1),
    '/test_topic2': ('test_msgs/msg/Strings', 1),
    '/test_service1/_service_event': ('test_msgs/srv/BasicTypes_Event', 4),
    '/test_service2/_service_event': ('test_msgs/srv/BasicTypes_Event', 4),
    '/events/write_split': ('rosbag2_interfaces/msg/WriteSplitEvent', 0),
}
# Topics, types and message counts per fixture, from fixtures/bags/SOURCES.md.
EXPECTED = {
    'talker_sqlite3_v4': TALKER,
    'talker_sqlite3_v4_qos_mismatch': TALKER,
    'talker_mcap_v4_qos_mismatch': TALKER,
    'talker_zstd_file_split_v4': {
        '/topic': ('std_msgs/msg/String', 383), '/rosout': ('rcl_interfaces/msg/Log', 392),
        '/parameter_events': ('rcl_interfaces/msg/ParameterEvent', 0)},
    'talker_zstd_message_split_v4': {
        '/topic': ('std_msgs/msg/String', 369), '/rosout': ('rcl_interfaces/msg/Log', 758),
        '/parameter_events': ('rcl_interfaces/msg/ParameterEvent', 0)},
    'empty_zstd_file_v4': {'/parameter_events': ('rcl_interfaces/msg/ParameterEvent', 0),
                           '/rosout': ('rcl_interfaces/msg/Log', 0)},
    'cdr_test_sqlite3_v7': {'/test_topic': ('test_msgs/msg/BasicTypes', 3),
                            '/array_topic': ('test_msgs/msg/Arrays', 4)},
    'topics_services_mcap_v8': SERVICES,
    'topics_services_sqlite3_v8': SERVICES,
    'turtlesim_jazzy_mcap_v9': {'/turtle1/pose': ('turtlesim/msg/Pose', 2501),
                                '/turtle1/cmd_vel': ('geometry_msgs/msg/Twist', 18)},
    'image_rosbag2py_sqlite3_v5': {'/image': ('sensor_msgs/msg/Image', 3)},
}


@pytest.fixture(scope='module')
def fixtures():
    if not FIXTURES.is_dir():
        pytest.skip(f'{FIXTURES} is absent: the shared bag fixtures live beside the repository')
    return FIXTURES


def read_all(path, topics=None):
    with open_bag(path) as bag:
        return bag, list(bag.messages(topics))


# -- real bags -------------------------------------------------------------------------------

@pytest.mark.parametrize('name', sorted(EXPECTED))
def test_fixture_decodes_every_message(fixtures, name):
    expected = EXPECTED[name]
    bag, messages = read_all(fixtures / name)
    assert bag.topics == {t: TopicInfo(t, msgtype, count)
                          for t, (msgtype, count) in sorted(expected.items())}
    assert bag.skipped == []
    decoded = {}
    for m in messages:
        assert isinstance(m, BagMessage) and m.msg.__msgtype__ == m.msgtype
        decoded[m.topic] = decoded.get(m.topic, 0) + 1
    assert decoded == {t: c for t, (_, c) in expected.items() if c}
    stamps = [m.timestamp_ns for m in messages]
    assert stamps == sorted(stamps)
    if messages:
        assert bag.start_ns == stamps[0] and bag.duration_ns == stamps[-1] - stamps[0]
    else:
        assert bag.start_ns == 0 and bag.duration_ns == 0 and bag.message_count == 0


def test_every_fixture_directory_opens_without_notes(fixtures):
    dirs = sorted(p for p in fixtures.iterdir() if p.is_dir())
    assert {p.name for p in dirs} >= set(EXPECTED)
    for path in dirs:
        bag, messages = read_all(path)
        assert bag.skipped == [], path.name
        assert len(messages) == bag.message_count, path.name


def test_reading_creates_no_files_in_the_fixture_dirs(fixtures):
    before = {p for p in fixtures.rglob('*')}
    for name in ('talker_sqlite3_v4', 'talker_zstd_message_split_v4', 'cdr_test_sqlite3_v7'):
        read_all(fixtures / name)
    assert {p for p in fixtures.rglob('*')} == before


@pytest.mark.parametrize('name', ['talker_sqlite3_v4', 'talker_sqlite3_v4_qos_mismatch',
                                  'talker_mcap_v4_qos_mismatch'])
def test_talker_strings_despite_qos_mismatch(fixtures, name):
    _, messages = read_all(fixtures / name, '/topic')
    assert [m.msg.data for m in messages] == [f'Hello, world! {i}' for i in range(10)]
    _, rosout = read_all(fixtures / name, ['/rosout'])
    assert [m.msg.msg for m in rosout] == [f"Publishing: 'Hello, world! {i}'" for i in range(10)]


@pytest.mark.parametrize('name', ['talker_zstd_file_split_v4', 'talker_zstd_message_split_v4'])
def test_split_zstd_talker_counts_up_across_files(fixtures, name):
    _, messages = read_all(fixtures / name, '/topic')
    numbers = [int(re.fullmatch(r'Hello, world! (\d+)', m.msg.data).group(1)) for m in messages]
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))


def test_image_fixture_content_and_unnormalized_stamps(fixtures):
    _, messages = read_all(fixtures / 'image_rosbag2py_sqlite3_v5')
    assert [m.timestamp_ns for m in messages] == [0, 1_000_000_000, 2_000_000_000]
    for m in messages:
        img = m.msg
        assert (img.height, img.width, img.encoding, img.step) == (2, 2, 'mono8', 2)
        assert list(img.data) == [0, 128, 128, 255]
        assert img.header.frame_id == 'camera_optical_frame'
        assert img.header.stamp.sec == 0
        assert stamp_to_ns(img.header.stamp) == m.timestamp_ns  # nanosec up to 2e9
        grey = np.array([[0, 128], [128, 255]], dtype=np.uint8)
        np.testing.assert_array_equal(image_to_rgb(img), np.repeat(grey[:, :, None], 3, axis=2))
    assert messages[2].msg.header.stamp.nanosec == 2_000_000_000


def test_turtlesim_pose_from_embedded_mcap_schema(fixtures):
    bag, poses = read_all(fixtures / 'turtlesim_jazzy_mcap_v9', '/turtle1/pose')
    assert len(poses) == 2501
    assert all(0.0 <= p.msg.x <= 11.1 and 0.0 <= p.msg.y <= 11.1 for p in poses)
    assert 'turtlesim/msg/Pose' in bag.typestore.types


@pytest.mark.parametrize('name', ['topics_services_mcap_v8', 'topics_services_sqlite3_v8'])
def test_service_events_built_from_srv_text(fixtures, name):
    _, events = read_all(fixtures / name, ['/test_service1/_service_event',
                                           '/test_service2/_service_event'])
    assert len(events) == 8
    for event in events:
        assert event.msg.info.event_type in (0, 1, 2, 3)
        assert len(event.msg.request) <= 1 and len(event.msg.response) <= 1
    request_sent = [e for e in events if e.msg.info.event_type == 0]
    assert request_sent and all(len(e.msg.request) == 1 for e in request_sent)
    assert hasattr(request_sent[0].msg.request[0], 'string_value')


def test_cdr_test_types_from_sqlite_message_definitions(fixtures):
    _, messages = read_all(fixtures / 'cdr_test_sqlite3_v7')
    basic = [m.msg for m in messages if m.topic == '/test_topic']
    arrays = [m.msg for m in messages if m.topic == '/array_topic']
    assert [b.int32_value for b in basic] == [123, 123, 123]
    assert all(list(a.bool_values) == [True, False, True] for a in arrays)


# -- writing -----------------------------------------------------------------------------------

def frame(i):
    """A 4x6 RGB frame whose pixels encode the frame index, row, column and channel."""
    rows, cols, chans = np.meshgrid(np.arange(4), np.arange(6), np.arange(3), indexing='ij')
    return (i * 50 + rows * 10 + cols * 3 + chans).astype(np.uint8)


def write_demo_bag(path, storage):
    with BagWriter(path, storage=storage) as bag:
        bag.add_topic('/camera/image_raw', 'sensor_msgs/msg/Image')
        bag.add_topic('/camera/camera_info', 'sensor_msgs/msg/CameraInfo')
        bag.add_topic('/instruction', 'std_msgs/msg/String', latched=True)
        bag.add_topic('/joint_states', 'sensor_msgs/msg/JointState')
        bag.add_topic('/done', 'std_msgs/msg/Bool')
        bag.add_topic('/primitive_delta', 'std_msgs/msg/Float64MultiArray')
        t0 = 1_700_000_000_000_000_000
        for i in range(3):
            stamp = t0 + (i + 1) * 100_000_000
            bag.write('/camera/image_raw', stamp, image_msg(frame(i), stamp, 'camera_optical'))
            bag.write('/camera/camera_info', stamp,
                      camera_info_msg(6, 4, 5.0, 5.5, 3.0, 2.0, stamp, 'camera_optical'))
            bag.write('/joint_states', stamp + 1, joint_state_msg(
                ['shoulder', 'elbow'], [0.1 * i, -0.2], velocities=[0.0, 1.0],
                stamp_ns=stamp + 1))
        bag.write('/instruction', t0, string_msg('pick up the red cube'))  # out of order
        bag.write('/primitive_delta', t0 + 50, float64_array_msg([0.01, 0, 0, 0, 0, 0, 0, 1],
                                                                 label='delta'))
        raw = kilted_typestore().serialize_cdr(bool_msg(True), 'std_msgs/msg/Bool')
        bag.write_raw('/done', t0 + 400_000_000, raw)
    return t0


@pytest.mark.parametrize('storage', ['mcap', 'sqlite3'])
def test_round_trip(tmp_path, storage):
    path = tmp_path / 'demo'
    t0 = write_demo_bag(path, storage)
    assert [p.name for p in tmp_path.iterdir()] == ['demo']  # no leftover temp dir
    bag, messages = read_all(path)
    assert bag.skipped == []
    assert bag.topics == {
        '/camera/camera_info': TopicInfo('/camera/camera_info', 'sensor_msgs/msg/CameraInfo', 3),
        '/camera/image_raw': TopicInfo('/camera/image_raw', 'sensor_msgs/msg/Image', 3),
        '/done': TopicInfo('/done', 'std_msgs/msg/Bool', 1),
        '/instruction': TopicInfo('/instruction', 'std_msgs/msg/String', 1),
        '/joint_states': TopicInfo('/joint_states', 'sensor_msgs/msg/JointState', 3),
        '/primitive_delta': TopicInfo('/primitive_delta', 'std_msgs/msg/Float64MultiArray', 1),
    }
    assert bag.start_ns == t0 and bag.duration_ns == 400_000_000
    stamps = [m.timestamp_ns for m in messages]
    assert stamps == sorted(stamps) and messages[0].topic == '/instruction'
    assert messages[0].msg.data == 'pick up the red cube'
    images = [m for m in messages if m.topic == '/camera/image_raw']
    for i, m in enumerate(images):
        np.testing.assert_array_equal(image_to_rgb(m.msg), frame(i))
        assert m.msg.header.frame_id == 'camera_optical'
        assert stamp_to_ns(m.msg.header.stamp) == m.timestamp_ns
    info = next(m.msg for m in messages if m.topic == '/camera/camera_info')
    assert (info.width, info.height) == (6, 4)
    np.testing.assert_allclose(info.k, [5.0, 0, 3.0, 0, 5.5, 2.0, 0, 0, 1])
    joints = [m.msg for m in messages if m.topic == '/joint_states']
    assert list(joints[2].name) == ['shoulder', 'elbow']
    np.testing.assert_allclose(joints[2].position, [0.2, -0.2])
    np.testing.assert_allclose(joints[2].velocity, [0.0, 1.0])
    assert len(joints[2].effort) == 0
    assert [m.msg.data for m in messages if m.topic == '/done'] == [True]
    delta = next(m.msg for m in messages if m.topic == '/primitive_delta')
    np.testing.assert_allclose(delta.data, [0.01, 0, 0, 0, 0, 0, 0, 1])
    assert (delta.layout.dim[0].label, delta.layout.dim[0].size) == ('delta', 8)


@pytest.mark.parametrize('storage', ['mcap', 'sqlite3'])
def test_written_bag_opens_with_plain_rosbags_and_records_latched_qos(tmp_path, storage):
    from rosbags.rosbag2 import Reader

    path = tmp_path / 'demo'
    write_demo_bag(path, storage)
    with Reader(path) as reader:
        counts = {}
        for conn, _, _ in reader.messages():
            counts[conn.topic] = counts.get(conn.topic, 0) + 1
    assert counts == {'/camera/image_raw': 3, '/camera/camera_info': 3, '/instruction': 1,
                      '/joint_states': 3, '/done': 1, '/primitive_delta': 1}
    info = yaml.safe_load((path / 'metadata.yaml').read_text())['rosbag2_bagfile_information']
    assert info['version'] == 9 and info['storage_identifier'] == storage
    qos = {t['topic_metadata']['name']: t['topic_metadata']['offered_qos_profiles'][0]
           for t in info['topics_with_message_count']}
    assert qos['/instruction']['durability'] == 'transient_local'
    assert qos['/instruction']['reliability'] == 'reliable'
    assert qos['/camera/image_raw']['durability'] == 'volatile'


def test_interrupted_write_leaves_no_bag(tmp_path):
    path = tmp_path / 'interrupted'
    with pytest.raises(RuntimeError, match='boom'):
        with BagWriter(path) as bag:
            bag.add_topic('/instruction', 'std_msgs/msg/String')
            bag.write('/instruction', 1, string_msg('half'))
            raise RuntimeError('boom')
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize('storage', ['mcap', 'sqlite3'])
def test_hard_killed_recording_is_recovered(tmp_path, storage):
    """SIGKILL mid-recording (no close, no metadata.yaml): what reached the disk is saved."""
    import subprocess
    import sys

    path = tmp_path / 'session'
    script = f"""
import os, signal, numpy as np
from contrastive_vla.bag.bags import BagWriter, image_msg, string_msg
bag = BagWriter({str(path)!r}, storage={storage!r}).open()
bag.add_topic('/image_raw', 'sensor_msgs/msg/Image')
bag.add_topic('/instruction', 'std_msgs/msg/String')
bag.write('/instruction', 1, string_msg('stack the red block'))
for i in range(120):
    rgb = np.full((96, 96, 3), i, np.uint8)
    bag.write('/image_raw', 10 + i, image_msg(rgb, 10 + i, 'camera'))
    if i == 99:
        bag.flush()  # what the recorder does once a second
os.kill(os.getpid(), signal.SIGKILL)
"""
    run = subprocess.run([sys.executable, '-c', script], capture_output=True, timeout=120)
    assert run.returncode == -9, run.stderr.decode()
    assert not path.exists()
    partials = partial_recordings(path)
    assert len(partials) == 1
    counts, notes = recover_bag(partials[0], path)
    # everything up to the last flush is kept (MCAP also keeps the full 1 MiB chunks after it)
    assert 100 <= counts['/image_raw'] <= 120, (counts, notes)
    assert counts['/instruction'] == 1
    with open_bag(path) as bag:
        assert (path / 'metadata.yaml').is_file()
        values = [int(image_to_rgb(m.msg)[0, 0, 0]) for m in bag.messages('/image_raw')]
        assert values == list(range(len(values)))
        assert next(bag.messages('/instruction')).msg.data == 'stack the red block'


def test_recover_refuses_missing_and_existing(tmp_path):
    with pytest.raises(BagError, match='no such directory'):
        recover_bag(tmp_path / 'nothing', tmp_path / 'out')
    (tmp_path / 'out').mkdir()
    with BagWriter(tmp_path / 'src') as bag:
        bag.add_topic('/instruction', 'std_msgs/msg/String')
    with pytest.raises(BagError, match='exists already'):
        recover_bag(tmp_path / 'src', tmp_path / 'out')


def test_writer_refuses_to_overwrite_and_misuse(tmp_path):
    (tmp_path / 'exists').mkdir()
    with pytest.raises(BagError, match='exists already'):
        with BagWriter(tmp_path / 'exists'):
            pass
    with pytest.raises(BagError, match="'rosbag'"):
        BagWriter(tmp_path / 'x', storage='rosbag')
    with pytest.raises(BagError, match='not open'):
        BagWriter(tmp_path / 'y').add_topic('/a', 'std_msgs/msg/String')
    with BagWriter(tmp_path / 'z') as bag:
        with pytest.raises(BagError, match='not in the type store'):
            bag.add_topic('/a', 'nope_msgs/msg/Nope')
        bag.add_topic('/a', 'std_msgs/msg/String')
        with pytest.raises(BagError, match='already added'):
            bag.add_topic('/a', 'std_msgs/msg/String')
        with pytest.raises(BagError, match='/b was not added'):
            bag.write('/b', 0, string_msg('x'))
        with pytest.raises(BagError, match='got a std_msgs/msg/Bool'):
            bag.write('/a', 0, bool_msg(True))
        with pytest.raises(BagError, match='not CDR'):
            bag.write_raw('/a', 0, b'garbage')
        with pytest.raises(BagError, match='timestamp_ns'):
            bag.write('/a', -1, string_msg('x'))
    assert (tmp_path / 'z' / 'metadata.yaml').is_file()


@pytest.mark.parametrize('storage', ['mcap', 'sqlite3'])
def test_custom_type_is_read_back_from_the_embedded_definition(tmp_path, storage):
    from rosbags.typesys import Stores, get_types_from_msg, get_typestore

    store = get_typestore(Stores.ROS2_KILTED)
    store.register(get_types_from_msg('string label\nfloat64[] scores', 'vla_msgs/msg/Scores'))
    msg = store.types['vla_msgs/msg/Scores'](label='left', scores=np.array([0.25, 0.75]))
    with BagWriter(tmp_path / 'custom', storage=storage, typestore=store) as bag:
        bag.add_topic('/scores', 'vla_msgs/msg/Scores')
        bag.write('/scores', 5, msg)
    bag, messages = read_all(tmp_path / 'custom')
    assert bag.skipped == []
    assert messages[0].msg.label == 'left'
    np.testing.assert_allclose(messages[0].msg.scores, [0.25, 0.75])


def test_unknown_type_without_definition_is_skipped_with_a_note(tmp_path):
    from rosbags.typesys import Stores, get_types_from_msg, get_typestore

    store = get_typestore(Stores.ROS2_KILTED)
    store.register(get_types_from_msg('int32 value', 'vla_msgs/msg/Secret'))
    path = tmp_path / 'nodef'
    with BagWriter(path, storage='sqlite3', typestore=store) as bag:
        bag.add_topic('/secret', 'vla_msgs/msg/Secret')
        bag.add_topic('/instruction', 'std_msgs/msg/String')
        bag.write('/secret', 1, store.types['vla_msgs/msg/Secret'](value=7))
        bag.write('/instruction', 2, string_msg('still readable'))
    with sqlite3.connect(path / 'nodef.db3') as con:
        con.execute("DELETE FROM message_definitions WHERE topic_type = 'vla_msgs/msg/Secret'")
    con.close()
    bag, messages = read_all(path)
    assert [m.msg.data for m in messages] == ['still readable']
    assert bag.topics['/secret'].count == 1
    assert len(bag.skipped) == 1 and 'vla_msgs/msg/Secret' in bag.skipped[0]
    assert '/secret' in bag.skipped[0] and 'no definition' in bag.skipped[0]


# -- bad input ---------------------------------------------------------------------------------

def outcome(path):
    """('error', message) or ('read', messages, skipped); anything else fails the test."""
    try:
        bag, messages = read_all(path)
    except BagError as exc:
        return 'error', str(exc)
    return 'read', messages, bag.skipped


def test_missing_path(tmp_path):
    with pytest.raises(BagError, match='does not exist') as info:
        open_bag(tmp_path / 'nowhere')
    assert str(tmp_path / 'nowhere') in str(info.value)


def test_directory_without_metadata_or_storage(tmp_path):
    (tmp_path / 'notes.txt').write_text('hello')
    with pytest.raises(BagError, match='no metadata.yaml and no .mcap or .db3'):
        open_bag(tmp_path)
    with pytest.raises(BagError, match='not a bag'):
        open_bag(tmp_path / 'notes.txt')


@pytest.mark.parametrize('storage', ['mcap', 'sqlite3'])
def test_storage_file_or_directory_without_metadata_opens(tmp_path, storage):
    write_demo_bag(tmp_path / 'demo', storage)
    suffix = '.mcap' if storage == 'mcap' else '.db3'
    loose = tmp_path / 'loose'
    loose.mkdir()
    shutil.copy(tmp_path / 'demo' / f'demo{suffix}', loose / f'rec_0{suffix}')
    for path in (loose, loose / f'rec_0{suffix}'):
        bag, messages = read_all(path)
        assert len(messages) == 12 and bag.skipped == []
        assert bag.topics['/camera/image_raw'].count == 3


@pytest.mark.parametrize('text,match', [
    ('\x00\x01 binary: [garbage', 'not valid YAML'),
    ('- just\n- a list\n', 'rosbag2_bagfile_information'),
    ('rosbag2_bagfile_information: {version: 9}\n', 'storage_identifier'),
    ('rosbag2_bagfile_information: {version: nine, storage_identifier: mcap}\n', 'version'),
    ('rosbag2_bagfile_information: {version: 9, storage_identifier: mcap, '
     'relative_file_paths: [gone.mcap]}\n', 'gone.mcap'),
    ('rosbag2_bagfile_information: {version: 9, storage_identifier: mcap, '
     'relative_file_paths: [], topics_with_message_count: [{oops: 1}]}\n',
     r'topics_with_message_count\[0\]'),
])
def test_garbage_metadata_names_the_bag_and_problem(tmp_path, text, match):
    (tmp_path / 'metadata.yaml').write_text(text)
    with pytest.raises(BagError, match=match) as info:
        open_bag(tmp_path)
    assert str(tmp_path) in str(info.value)


@pytest.mark.parametrize('storage', ['mcap', 'sqlite3'])
@pytest.mark.parametrize('keep', [0.0, 0.002, 0.3, 0.6, 0.97])
def test_truncated_storage_reads_a_prefix_or_raises_bag_error(tmp_path, storage, keep):
    path = tmp_path / 'demo'
    write_demo_bag(path, storage)
    storage_file = next(p for p in path.iterdir() if p.suffix in ('.mcap', '.db3'))
    data = storage_file.read_bytes()
    storage_file.write_bytes(data[:int(len(data) * keep)])
    result = outcome(path)
    if result[0] == 'error':
        assert str(path) in result[1]
        return
    _, messages, skipped = result
    assert skipped and any(storage_file.name in note for note in skipped)
    assert len(messages) <= 12  # a cut in the MCAP summary loses no messages
    for m in messages:
        if m.topic == '/camera/image_raw':
            i = (m.timestamp_ns - 1_700_000_000_100_000_000) // 100_000_000
            np.testing.assert_array_equal(image_to_rgb(m.msg), frame(i))


@pytest.mark.parametrize('storage', ['mcap', 'sqlite3'])
def test_truncated_big_bag_recovers_most_messages(tmp_path, storage):
    path = tmp_path / 'big'
    with BagWriter(path, storage=storage) as bag:
        bag.add_topic('/instruction', 'std_msgs/msg/String')
        for i in range(300):
            bag.write('/instruction', i, string_msg(f'step {i} ' + 'x' * 400))
    storage_file = next(p for p in path.iterdir() if p.suffix in ('.mcap', '.db3'))
    data = storage_file.read_bytes()
    storage_file.write_bytes(data[:len(data) // 2])
    bag, messages = read_all(path)
    assert 50 < len(messages) < 300
    numbers = [int(m.msg.data.split()[1]) for m in messages]
    # Intact pages are read wherever they are, so a lost page can leave a gap.
    assert numbers == sorted(set(numbers)) and numbers[:50] == list(range(50))
    assert bag.topics['/instruction'].count == len(messages)
    assert any('300' in note and '/instruction' in note for note in bag.skipped)


def test_corrupt_bytes_give_bag_error_or_notes(tmp_path):
    for storage in ('mcap', 'sqlite3'):
        path = tmp_path / storage
        write_demo_bag(path, storage)
        storage_file = next(p for p in path.iterdir() if p.suffix in ('.mcap', '.db3'))
        data = bytearray(storage_file.read_bytes())
        middle = len(data) // 2
        data[middle:middle + 512] = b'\xff' * 512
        storage_file.write_bytes(bytes(data))
        result = outcome(path)
        assert result[0] == 'error' or len(result[1]) <= 12


@pytest.mark.parametrize('suffix', ['.mcap', '.db3'])
def test_garbage_storage_file_is_a_bag_error(tmp_path, suffix):
    (tmp_path / f'rec{suffix}').write_bytes(b'this is not a storage file' * 20)
    with pytest.raises(BagError, match=f'rec{re.escape(suffix)}'):
        open_bag(tmp_path / f'rec{suffix}')


def test_truncated_file_compressed_split_bag(tmp_path):
    from rosbags.rosbag2 import Writer
    from rosbags.rosbag2.enums import CompressionFormat, CompressionMode, StoragePlugin

    store = kilted_typestore()
    path = tmp_path / 'zbag'
    writer = Writer(path, version=9, storage_plugin=StoragePlugin.SQLITE3)
    writer.set_compression(CompressionMode.FILE, CompressionFormat.ZSTD)
    with writer:
        conn = writer.add_connection('/instruction', 'std_msgs/msg/String', typestore=store)
        for i in range(200):
            writer.write(conn, i, store.serialize_cdr(string_msg(f'{i} ' + 'y' * 300),
                                                      'std_msgs/msg/String'))
    bag, messages = read_all(path)
    assert len(messages) == 200 and bag.skipped == []
    zfile = next(path.glob('*.zstd'))
    data = zfile.read_bytes()
    zfile.write_bytes(data[:len(data) * 2 // 3])
    result = outcome(path)
    if result[0] == 'read':
        assert len(result[1]) < 200 and any('decompressed' in n for n in result[2])


def test_missing_split_file_reads_the_rest(fixtures, tmp_path):
    bag_dir = tmp_path / 'split'
    shutil.copytree(fixtures / 'talker_zstd_message_split_v4', bag_dir)
    (bag_dir / 'message_compression_1.db3').unlink()
    bag, messages = read_all(bag_dir)
    assert 0 < len(messages) < 1127
    assert any('message_compression_1.db3' in note for note in bag.skipped)


def test_reader_misuse_is_a_bag_error(fixtures):
    with open_bag(fixtures / 'talker_sqlite3_v4') as bag:
        with pytest.raises(BagError, match='/nope not in the bag'):
            bag.messages('/nope')
    with pytest.raises(BagError, match='closed'):
        bag.messages()


# -- builders ----------------------------------------------------------------------------------

def test_header_and_stamps():
    header = make_header(3_000_000_007, 'base_link')
    assert (header.stamp.sec, header.stamp.nanosec, header.frame_id) == (3, 7, 'base_link')
    assert stamp_to_ns(header.stamp) == 3_000_000_007
    unnormalized = type(header.stamp)(sec=1, nanosec=2_500_000_000)
    assert stamp_to_ns(unnormalized) == 3_500_000_000


def test_joint_state_lengths_are_checked():
    msg = joint_state_msg(['a', 'b'], [1.0, 2.0], efforts=[0.5, 0.5], stamp_ns=5, frame_id='x')
    assert list(msg.name) == ['a', 'b'] and list(msg.effort) == [0.5, 0.5]
    assert len(msg.velocity) == 0 and msg.header.frame_id == 'x'
    with pytest.raises(ValueError, match='velocity has 1 values for 2 joint names'):
        joint_state_msg(['a', 'b'], [1.0, 2.0], velocities=[1.0])

"""Reading rosbag2 bags: real fixtures from the ROS 2 tools, custom types, damaged bags."""

import re
import shutil
import sqlite3

import numpy as np
import pytest

from contrastive_vla.bag import (
    BagError,
    BagMessage,
    BagWriter,
    TopicInfo,
    kilted_typestore,
    open_bag,
    stamp_to_ns,
    string_msg,
)
from contrastive_vla.core.images import image_to_rgb

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


# -- real bags -------------------------------------------------------------------------------

@pytest.mark.parametrize('name', sorted(EXPECTED))
def test_fixture_decodes_every_message(fixtures, name, read_all):
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


def test_every_fixture_directory_opens_without_notes(fixtures, read_all):
    dirs = sorted(p for p in fixtures.iterdir() if p.is_dir())
    assert {p.name for p in dirs} >= set(EXPECTED)
    for path in dirs:
        bag, messages = read_all(path)
        assert bag.skipped == [], path.name
        assert len(messages) == bag.message_count, path.name


def test_reading_creates_no_files_in_the_fixture_dirs(fixtures, read_all):
    before = {p for p in fixtures.rglob('*')}
    for name in ('talker_sqlite3_v4', 'talker_zstd_message_split_v4', 'cdr_test_sqlite3_v7'):
        read_all(fixtures / name)
    assert {p for p in fixtures.rglob('*')} == before


@pytest.mark.parametrize('name', ['talker_sqlite3_v4', 'talker_sqlite3_v4_qos_mismatch',
                                  'talker_mcap_v4_qos_mismatch'])
def test_talker_strings_despite_qos_mismatch(fixtures, name, read_all):
    _, messages = read_all(fixtures / name, '/topic')
    assert [m.msg.data for m in messages] == [f'Hello, world! {i}' for i in range(10)]
    _, rosout = read_all(fixtures / name, ['/rosout'])
    assert [m.msg.msg for m in rosout] == [f"Publishing: 'Hello, world! {i}'" for i in range(10)]


@pytest.mark.parametrize('name', ['talker_zstd_file_split_v4', 'talker_zstd_message_split_v4'])
def test_split_zstd_talker_counts_up_across_files(fixtures, name, read_all):
    _, messages = read_all(fixtures / name, '/topic')
    numbers = [int(re.fullmatch(r'Hello, world! (\d+)', m.msg.data).group(1)) for m in messages]
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))


def test_image_fixture_content_and_unnormalized_stamps(fixtures, read_all):
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


def test_turtlesim_pose_from_embedded_mcap_schema(fixtures, read_all):
    bag, poses = read_all(fixtures / 'turtlesim_jazzy_mcap_v9', '/turtle1/pose')
    assert len(poses) == 2501
    assert all(0.0 <= p.msg.x <= 11.1 and 0.0 <= p.msg.y <= 11.1 for p in poses)
    assert 'turtlesim/msg/Pose' in bag.typestore.types


@pytest.mark.parametrize('name', ['topics_services_mcap_v8', 'topics_services_sqlite3_v8'])
def test_service_events_built_from_srv_text(fixtures, name, read_all):
    _, events = read_all(fixtures / name, ['/test_service1/_service_event',
                                           '/test_service2/_service_event'])
    assert len(events) == 8
    for event in events:
        assert event.msg.info.event_type in (0, 1, 2, 3)
        assert len(event.msg.request) <= 1 and len(event.msg.response) <= 1
    request_sent = [e for e in events if e.msg.info.event_type == 0]
    assert request_sent and all(len(e.msg.request) == 1 for e in request_sent)
    assert hasattr(request_sent[0].msg.request[0], 'string_value')


def test_cdr_test_types_from_sqlite_message_definitions(fixtures, read_all):
    _, messages = read_all(fixtures / 'cdr_test_sqlite3_v7')
    basic = [m.msg for m in messages if m.topic == '/test_topic']
    arrays = [m.msg for m in messages if m.topic == '/array_topic']
    assert [b.int32_value for b in basic] == [123, 123, 123]
    assert all(list(a.bool_values) == [True, False, True] for a in arrays)


@pytest.mark.parametrize('storage', ['mcap', 'sqlite3'])
def test_custom_type_is_read_back_from_the_embedded_definition(tmp_path, storage, read_all):
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


def test_unknown_type_without_definition_is_skipped_with_a_note(tmp_path, read_all):
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

@pytest.fixture
def outcome(read_all):
    """``outcome(path)``: ('error', message) or ('read', messages, skipped); anything else
    fails the test."""

    def outcome(path):
        try:
            bag, messages = read_all(path)
        except BagError as exc:
            return 'error', str(exc)
        return 'read', messages, bag.skipped

    return outcome


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
def test_storage_file_or_directory_without_metadata_opens(tmp_path, storage, read_all,
                                                          write_demo_bag):
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
def test_truncated_storage_reads_a_prefix_or_raises_bag_error(tmp_path, storage, keep, frame,
                                                              write_demo_bag, outcome):
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
def test_truncated_big_bag_recovers_most_messages(tmp_path, storage, read_all):
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


def test_corrupt_bytes_give_bag_error_or_notes(tmp_path, write_demo_bag, outcome):
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


def test_truncated_file_compressed_split_bag(tmp_path, read_all, outcome):
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


def test_missing_split_file_reads_the_rest(fixtures, tmp_path, read_all):
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


def _small_bag(path):
    with BagWriter(path) as bag:
        bag.add_topic('/instruction', 'std_msgs/msg/String')
        bag.write('/instruction', 1, string_msg('close the gripper'))
    return path


def test_find_bags_follows_links_once_and_skips_hidden(tmp_path):
    """A subset of a dataset as a folder of links to its bags is found (os.walk does not follow
    links by default, nor did Path.rglob before Python 3.13); a link back up the tree ends
    nothing; hidden folders (caches) are not searched."""
    from contrastive_vla.bag import find_bags

    data = tmp_path / 'data'
    a, b = _small_bag(data / 'place_s1'), _small_bag(data / 'stack_s1')
    _small_bag(data / '.cache' / 'copy')
    subset = tmp_path / 'subset'
    subset.mkdir()
    (subset / 'place_s1').symlink_to(a, target_is_directory=True)
    (subset / 'loop').symlink_to(tmp_path, target_is_directory=True)
    found = find_bags([subset])
    assert [p.name for p in found if p.resolve() == a.resolve()] == ['place_s1']
    # the loop reaches data/ once: each real bag at most once, never the hidden copy
    assert sorted(p.resolve() for p in found) == sorted({a.resolve(), b.resolve()})
    with open_bag(found[0]) as bag:
        assert bag.message_count == 1
    assert find_bags([data]) == [a, b]
    (tmp_path / 'empty').mkdir()
    with pytest.raises(FileNotFoundError, match='no rosbag2 bags'):
        find_bags([tmp_path / 'empty'])

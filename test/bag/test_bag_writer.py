"""Writing rosbag2 bags: round trips, what plain rosbags reads, refusals of misuse."""

import numpy as np
import pytest
import yaml

from contrastive_vla.bag import BagError, BagWriter, TopicInfo, bool_msg, stamp_to_ns, string_msg
from contrastive_vla.core.images import image_to_rgb


@pytest.mark.parametrize('storage', ['mcap', 'sqlite3'])
def test_round_trip(tmp_path, storage, read_all, frame, write_demo_bag):
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
def test_written_bag_opens_with_plain_rosbags_and_records_latched_qos(tmp_path, storage,
                                                                      write_demo_bag):
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

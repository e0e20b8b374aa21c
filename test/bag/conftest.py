"""Shared helpers of the bag tests: the rosbag2 fixture bags and a demo bag writer."""

from pathlib import Path

import numpy as np
import pytest

from contrastive_vla.bag import (
    BagWriter,
    bool_msg,
    camera_info_msg,
    float64_array_msg,
    image_msg,
    joint_state_msg,
    kilted_typestore,
    open_bag,
    string_msg,
)

FIXTURES = Path(__file__).resolve().parents[2].parent / 'shared' / 'fixtures' / 'bags'


def _read_all(path, topics=None):
    with open_bag(path) as bag:
        return bag, list(bag.messages(topics))


def _frame(i):
    """A 4x6 RGB frame whose pixels encode the frame index, row, column and channel."""
    rows, cols, chans = np.meshgrid(np.arange(4), np.arange(6), np.arange(3), indexing='ij')
    return (i * 50 + rows * 10 + cols * 3 + chans).astype(np.uint8)


def _write_demo_bag(path, storage):
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
            bag.write('/camera/image_raw', stamp, image_msg(_frame(i), stamp, 'camera_optical'))
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


@pytest.fixture(scope='module')
def fixtures():
    if not FIXTURES.is_dir():
        pytest.skip(f'{FIXTURES} is absent: the shared bag fixtures live beside the repository')
    return FIXTURES


@pytest.fixture
def read_all():
    """``read_all(path, topics=None)`` -> (closed reader, list of its messages)."""
    return _read_all


@pytest.fixture
def frame():
    """``frame(i)``: a 4x6 RGB frame whose pixels encode the index, row, column, channel."""
    return _frame


@pytest.fixture
def write_demo_bag():
    """``write_demo_bag(path, storage)`` -> t0: a bag with every message builder's output."""
    return _write_demo_bag

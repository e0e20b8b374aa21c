"""The message builders (ROS 2 Kilted rosbags dataclasses)."""

import pytest

from contrastive_vla.bag import joint_state_msg, make_header, stamp_to_ns


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

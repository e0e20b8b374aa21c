"""JointStateMerger: joint states read by name, from any number of messages and publishers."""

from types import SimpleNamespace

import numpy as np
import pytest

from contrastive_vla.core.joints import (
    JointStateMerger,
    MalformedJointStateError,
    MissingJointsError,
    StaleJointsError,
)
from contrastive_vla.robot.description import state_joint_names

NAMES = state_joint_names()
ARM, FINGERS = NAMES[:6], NAMES[6:]
# the order ur_robot_driver publishes the UR joints in
UR_ORDER = ['elbow_joint', 'shoulder_lift_joint', 'shoulder_pan_joint', 'wrist_1_joint',
            'wrist_2_joint', 'wrist_3_joint']
Q = {name: 0.1 * (i + 1) for i, name in enumerate(NAMES)}


def _msg(names, stamp_ns=0, positions=None, velocities=()):
    sec, nanosec = divmod(stamp_ns, 1_000_000_000)
    return SimpleNamespace(
        name=list(names), position=[Q[n] for n in names] if positions is None else positions,
        velocity=list(velocities),
        header=SimpleNamespace(stamp=SimpleNamespace(sec=sec, nanosec=nanosec)))


def test_the_packaged_ur5e_names_the_ur_driver_joints():
    assert sorted(UR_ORDER) == sorted(ARM)


def test_positions_come_back_in_the_order_asked_not_the_order_published():
    m = JointStateMerger()
    m.update_msg(_msg(UR_ORDER + FINGERS[::-1], 5))
    reading = m.positions(NAMES)
    np.testing.assert_array_equal(reading.positions, [Q[n] for n in NAMES])
    assert reading.stamp_ns == 5
    np.testing.assert_array_equal(m.positions(['wrist_3_joint', 'elbow_joint']).positions,
                                  [Q['wrist_3_joint'], Q['elbow_joint']])


def test_arm_and_gripper_from_two_publishers_add_up_with_the_oldest_stamp():
    m = JointStateMerger()
    m.update_msg(_msg(UR_ORDER, 1_000))
    with pytest.raises(MissingJointsError) as err:
        m.positions(NAMES)
    assert err.value.missing == tuple(FINGERS)
    assert 'left_finger_joint' in str(err.value) and 'right_finger_joint' in str(err.value)
    m.update_msg(_msg(FINGERS[::-1], 3_000))
    reading = m.positions(NAMES)
    np.testing.assert_array_equal(reading.positions, [Q[n] for n in NAMES])
    assert reading.stamp_ns == 1_000           # as current as its oldest part
    assert m.positions(FINGERS).stamp_ns == 3_000
    assert m.newest_ns == 3_000


def test_a_newer_message_replaces_only_the_joints_it_names():
    m = JointStateMerger()
    m.update_msg(_msg(NAMES, 10, velocities=[1.0] * 8))
    m.update(['elbow_joint'], [2.5], None, 20)
    reading = m.positions(NAMES)
    expected = [2.5 if n == 'elbow_joint' else Q[n] for n in NAMES]
    np.testing.assert_array_equal(reading.positions, expected)
    # no velocity sent for the elbow this time: 0, not the old value
    np.testing.assert_array_equal(reading.velocities,
                                  [0.0 if n == 'elbow_joint' else 1.0 for n in NAMES])
    assert reading.stamp_ns == 10


def test_the_last_message_wins_even_when_its_stamp_goes_back():
    """A simulator reset or a looping replay moves stamps back; the joints must follow."""
    m = JointStateMerger()
    m.update(['elbow_joint'], [1.0], stamp_ns=100)
    m.update(['elbow_joint'], [2.0], stamp_ns=50)
    assert m.positions(['elbow_joint']).positions[0] == 2.0
    assert m.positions(['elbow_joint']).stamp_ns == 50


def test_at_ns_with_a_tolerance_names_the_stale_joints():
    m = JointStateMerger()
    m.update_msg(_msg(ARM, 1_000))
    m.update_msg(_msg(FINGERS, 2_000))
    assert m.positions(NAMES, at_ns=1_500, tolerance_ns=500).stamp_ns == 1_000
    with pytest.raises(StaleJointsError) as err:
        m.positions(NAMES, at_ns=1_600, tolerance_ns=500)
    assert err.value.stale == tuple(ARM) and err.value.oldest_ns == 1_000
    assert 'elbow_joint' in str(err.value)


def test_unstamped_messages_take_the_arrival_time():
    m = JointStateMerger()
    m.update_msg(_msg(NAMES, 0), received_ns=777)
    assert m.positions(NAMES).stamp_ns == 777
    m.update_msg(_msg(NAMES, 42), received_ns=777)
    assert m.positions(NAMES).stamp_ns == 42


@pytest.mark.parametrize('names, positions, velocities, words', [
    (['elbow_joint', 'wrist_1_joint'], [0.1], None, '2 names but 1 positions'),
    (['elbow_joint'], [0.1], [1.0, 2.0], '1 names but 2 velocities'),
    (['elbow_joint', 'elbow_joint'], [0.1, 0.2], None, 'elbow_joint more than once'),
    (['elbow_joint', 'wrist_1_joint'], [0.1, float('nan')], None,
     'non-finite positions for wrist_1_joint'),
    (['elbow_joint'], [0.1], [float('inf')], 'non-finite velocities for elbow_joint'),
    ([], [], None, 'names no joint'),
])
def test_malformed_messages_are_refused_whole(names, positions, velocities, words):
    m = JointStateMerger()
    m.update(['elbow_joint'], [0.5], stamp_ns=1)
    with pytest.raises(MalformedJointStateError, match=words):
        m.update(names, positions, velocities, stamp_ns=2)
    assert m.names == ['elbow_joint']
    reading = m.positions(['elbow_joint'])
    assert reading.positions[0] == 0.5 and reading.stamp_ns == 1


def test_missing_names_every_absent_joint_and_what_was_heard():
    m = JointStateMerger()
    assert m.missing(NAMES) == NAMES and not m.has(NAMES)
    m.update(['wrist_1_joint'], [0.0])
    with pytest.raises(MissingJointsError) as err:
        m.positions(['wrist_1_joint', 'wrist_2_joint', 'elbow_joint'])
    assert err.value.missing == ('wrist_2_joint', 'elbow_joint')
    assert 'wrist_2_joint, elbow_joint' in str(err.value)
    assert 'heard of: wrist_1_joint' in str(err.value)
    m.clear()
    assert m.names == [] and m.newest_ns is None

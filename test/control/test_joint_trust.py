"""control/joint_trust.py: a second publisher of the arm joints, or a jump beyond the joint
velocity limits, makes the joint states untrusted until they are consistent again (S1)."""

import pytest

from contrastive_vla.control.joint_trust import JointStateTrust

ARM = ['j0', 'j1']
V = [3.0, 1.0]   # rad/s


def trust(**kw):
    return JointStateTrust(ARM, V, describe=lambda s: f'/{s}', **kw)


def stream(t, sender, start, step, n, dt=0.01, q1=0.0):
    """n messages from ``sender``, j0 from ``start`` by ``step`` each; returns the verdicts."""
    return [t.update(sender, ARM, [start + k * step, q1], 0.0 + dt * k) for k in range(n)]


def test_a_single_publisher_moving_within_the_limits_is_trusted():
    t = trust()
    # j0 at 2.9 rad/s, sampled at 100 Hz
    assert all(t.update('driver', ARM, [0.029 * k, 0.0], 0.01 * k) for k in range(100))
    assert t.trusted and t.jumps == 0 and t.conflicts == 0


def test_a_jump_beyond_the_velocity_limits_is_rejected_until_consistent_again():
    t = trust(slack=2.0, consistent=3)
    assert t.update('driver', ARM, [0.0, 0.0], 0.0)
    # 0.5 rad in 20 ms: 25 rad/s, limit 3 x 2 over at least 0.05 s = 0.3 rad
    assert not t.update('driver', ARM, [0.5, 0.0], 0.02)
    assert not t.trusted and t.jumps == 1
    assert 'joint_states jumped: j0 moved 0.500 rad' in t.reason and t.jumped
    # a real discontinuity (a simulator reset): consistent again after 3 messages
    assert not t.update('driver', ARM, [0.5, 0.0], 0.04)
    assert not t.update('driver', ARM, [0.5, 0.0], 0.06)
    assert t.update('driver', ARM, [0.5, 0.0], 0.08) and t.trusted


def test_slack_and_the_time_floor():
    t = trust(slack=1.0)
    t.update('driver', ARM, [0.0, 0.0], 0.0)
    # j1 limit 1 rad/s: 0.04 rad within the 0.05 s floor passes even if delivered bunched
    assert t.update('driver', ARM, [0.0, 0.04], 0.0)
    assert not t.update('driver', ARM, [0.0, 0.2], 0.1)   # 0.16 rad in 0.1 s: 1.6 rad/s
    with pytest.raises(ValueError):
        t.set_limits(0.5, 1.0)
    with pytest.raises(ValueError):
        t.set_limits(2.0, 0.0)


def test_a_second_publisher_of_the_arm_joints_is_a_conflict_until_one_is_left():
    t = trust(settle=1.0)
    assert t.update('driver', ARM, [0.10, 0.0], 0.00)
    # plausible but different positions from another publisher (a joint_state_publisher)
    assert not t.update('jsp', ARM, [0.12, 0.0], 0.02)
    assert t.reason == 'two publishers of the arm joints on joint_states: /driver and /jsp'
    assert not t.jumped  # a conflict, not a jump
    for k in range(2, 50):   # both keep publishing: never trusted
        sender = 'driver' if k % 2 else 'jsp'
        assert not t.update(sender, ARM, [0.10 if k % 2 else 0.12, 0.0], 0.01 * k)
    # jsp stops at 0.49 s: the driver alone for 1 s makes the state trusted again
    verdicts = [(0.5 + 0.01 * k, t.update('driver', ARM, [0.10, 0.0], 0.5 + 0.01 * k))
                for k in range(150)]
    first = next(time for time, ok in verdicts if ok)
    assert first == pytest.approx(1.5, abs=0.02) and t.trusted
    assert all(ok for time, ok in verdicts if time >= first)


def test_split_publishers_of_different_joints_are_fine():
    t = trust()
    for k in range(20):
        assert t.update('driver', ARM, [0.0, 0.0], 0.01 * k)
        # the gripper from another node: not arm joints, not judged
        assert t.update('gripper', ['finger'], [0.04 * (k % 2)], 0.01 * k)
        # the arm's joints split over two publishers, each its own joint
    t2 = trust()
    for k in range(20):
        assert t2.update('a', ['j0'], [0.0], 0.01 * k)
        assert t2.update('b', ['j1'], [0.0], 0.01 * k)
    assert t.trusted and t2.trusted and t.conflicts == t2.conflicts == 0


def test_malformed_messages_are_left_to_the_merger():
    t = trust()
    assert t.update('driver', ARM, [0.0, 0.0], 0.0)
    assert t.update('driver', ARM, [float('nan'), 0.0], 0.01)
    assert t.update('driver', ARM, [1.0], 0.02)         # names and positions do not fit
    assert t.update('driver', ARM, [0.0, 0.0], 0.03) and t.trusted


def test_messages_it_does_not_judge_never_make_a_distrusted_state_trusted():
    t = trust(slack=2.0, consistent=3)
    assert t.update('driver', ARM, [0.0, 0.0], 0.0)
    assert not t.update('driver', ARM, [1.5, 0.0], 0.02)  # a jump: distrusted
    # a gripper node's fingers, a NaN, names and positions that do not fit: still distrusted
    assert not t.update('gripper', ['finger'], [0.01], 0.03)
    assert not t.update('driver', ARM, [float('nan'), 0.0], 0.04)
    assert not t.update('driver', ARM, [1.5], 0.05)
    assert not t.trusted

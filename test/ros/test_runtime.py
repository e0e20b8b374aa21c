"""ros/runtime.py: tearing down an in-process helper node."""

import pytest


def test_close_spun_node_stops_the_spin_and_shuts_the_context_down(monkeypatch):
    pytest.importorskip('rclpy')
    from std_msgs.msg import String

    from contrastive_vla.ros.runtime import SpunNode

    monkeypatch.setenv('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    spun = SpunNode('runtime_probe')
    spun.node.create_publisher(String, 'chatter', 1)
    spun.start()
    thread, context = spun.thread, spun.context
    assert spun.close()
    assert not thread.is_alive() and not context.ok()


def test_reason_throttle_holds_back_repeats_of_one_reason_not_another():
    from contrastive_vla.ros.runtime import ReasonThrottle

    throttle = ReasonThrottle(5.0)
    assert throttle.admit('joint state has 6 names but 3 positions', 0.0) == 0
    # the same reason with other numbers is held back...
    assert throttle.admit('joint state has 4 names but 2 positions', 1.0) is None
    # ...another fault right after it is not (rclpy's per-call-site throttle hid this one)
    assert throttle.admit('joint state has a non-finite position', 1.1) == 0
    assert throttle.admit('joint state has 6 names but 3 positions', 6.0) == 1


def test_reason_throttle_bounds_a_stream_of_ever_new_reasons():
    from contrastive_vla.ros.runtime import ReasonThrottle

    throttle = ReasonThrottle(1.0, burst=3, max_reasons=5)
    logged = [throttle.admit(f'bad word {w!r}', 0.0) for w in 'abcdefgh']
    assert logged == [0, 0, 0] + [None] * 5 and throttle.overflow == 5
    assert [throttle.admit(f'bad word {w!r}', 2.0) for w in 'ijklmno'][:3] == [0, 0, 0]
    assert len(throttle.reasons) <= 5


def test_warn_by_reason_says_how_many_were_held_back(monkeypatch):
    from contrastive_vla.ros import runtime

    class Logger:
        def __init__(self):
            self.lines = []

        def warning(self, text):
            self.lines.append(text)

    class Node:
        logger = Logger()

        def get_logger(self):
            return self.logger

    clock = iter([0.0, 0.5, 0.6, 0.7, 9.0])
    monkeypatch.setattr(runtime.time, 'monotonic', lambda: next(clock))
    node = Node()
    for text in ['frame 1 rejected: step 10 < 96', 'frame 2 rejected: step 11 < 96',
                 'frame 3 rejected: step 12 < 96', 'frame rejected: encoding yuv422',
                 'frame 4 rejected: step 13 < 96']:
        runtime.warn_by_reason(node, text)
    assert node.logger.lines == ['frame 1 rejected: step 10 < 96',
                                 'frame rejected: encoding yuv422',
                                 'frame 4 rejected: step 13 < 96 (2 more like it since the '
                                 'last such line)']


def test_guarded_handler_faults_log_at_both_severities_on_a_real_rclpy_logger(monkeypatch):
    """A topic's first fault is an error, later ones warnings: on rclpy's own logger, whose
    call sites refuse a change of severity (this ValueError escaped the guard and killed the
    arm bridge in the live fuzz test)."""
    pytest.importorskip('rclpy')
    from contrastive_vla.ros import runtime

    monkeypatch.setenv('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    spun = runtime.SpunNode('fault_probe')
    try:
        handler = runtime.guarded(spun.node, 'joint_states', lambda msg: [][msg])
        other = runtime.guarded(spun.node, 'image', lambda msg: 1 / msg)
        for msg in (0, 1, 2):
            assert handler(msg) is None and other(0) is None
        runtime.warn_by_reason(spun.node, 'a refused message')
        runtime.warn_by_reason(spun.node, 'another refused message', level='error')
        assert spun.node.message_faults == {'joint_states': 3, 'image': 3}
        with pytest.raises(ValueError, match='level'):
            runtime.warn_by_reason(spun.node, 'a third refused message', level='info')
    finally:
        spun.close()

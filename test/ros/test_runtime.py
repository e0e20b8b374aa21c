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

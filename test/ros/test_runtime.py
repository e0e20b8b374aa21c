"""ros/runtime.py: tearing down an in-process helper node."""

import threading

import pytest


def test_close_spun_node_stops_the_spin_and_shuts_the_context_down(monkeypatch):
    rclpy = pytest.importorskip('rclpy')
    from rclpy.executors import SingleThreadedExecutor
    from std_msgs.msg import String

    from contrastive_vla.ros.runtime import close_spun_node

    monkeypatch.setenv('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    context = rclpy.Context()
    rclpy.init(context=context)
    node = rclpy.create_node('runtime_probe', context=context)
    node.create_publisher(String, 'chatter', 1)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    thread = threading.Thread(target=executor.spin, daemon=True)
    thread.start()
    assert close_spun_node(node, executor, thread, context=context)
    assert not thread.is_alive() and not context.ok()

"""The arm bridge's robot description: from the ``urdf`` file parameter, the
``robot_description`` parameter, or the latched ``robot_description`` topic that
robot_state_publisher (and a ros2_control robot's launch) publishes."""

import time

from std_msgs.msg import String

from contrastive_vla.core.topics import topic
from contrastive_vla.ros import qos


def wait_for_description(node, timeout):
    """The URDF text on the latched ``robot_description`` topic (in ``node``'s namespace), or
    None after ``timeout`` s. Runs in a helper node with its own executor, so it works inside
    a lifecycle transition (the node's own executor is busy or not spinning yet)."""
    # deferred: rclpy is loaded by the node that calls this
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.node import Node

    helper = Node(f'{node.get_name()}_description', namespace=node.get_namespace(),
                  context=node.context, start_parameter_services=False)
    received = []
    helper.create_subscription(String, topic('robot_description').name,
                               lambda msg: received.append(msg.data), qos.latched())
    executor = SingleThreadedExecutor(context=node.context)
    executor.add_node(helper)
    deadline = time.monotonic() + timeout
    try:
        while not received and time.monotonic() < deadline:
            executor.spin_once(timeout_sec=min(0.1, max(0.0, deadline - time.monotonic())))
    finally:
        executor.remove_node(helper)
        executor.shutdown()
        helper.destroy_node()
    return received[-1] if received else None


def description_for(node, params, needed):
    """(URDF text or file path, where it came from) for the bridge parameters ``params``;
    (None, '') when the arm needs none (``needed`` false and none given). Raises ValueError
    when a needed description does not come within ``description_timeout``."""
    if params['urdf']:
        return params['urdf'], f'urdf file {params["urdf"]}'
    if params['robot_description']:
        return params['robot_description'], 'robot_description parameter'
    if not needed:
        return None, ''
    name = node.resolve_topic_name(topic('robot_description').name)
    text = wait_for_description(node, params['description_timeout'])
    if not text:
        raise ValueError(f'no robot description: nothing on the latched topic {name} within '
                         f'{params["description_timeout"]} s (is robot_state_publisher '
                         'running?); or give the urdf file parameter')
    return text, f'topic {name}'

"""Plain logic behind the ROS nodes, testable without rclpy: arm safety limits and command
planning (``safety``, ``arm_commands``), instruction validation and stop words
(``instruction``), and the step-wise decision gate of the VLA node (``decision``)."""

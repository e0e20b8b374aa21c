"""Plain logic behind the ROS nodes, testable without rclpy: arm safety limits and command
planning (``safety``, ``arm_commands``), instruction validation and stop words
(``instruction``), the step-wise decision gate of the VLA node (``decision``) and the arm
bridge's primitive in flight and its outcome (``execution``)."""

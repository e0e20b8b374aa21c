"""The ROS room, the top layer beside the command line: thin rclpy nodes over the plain rooms
below, the node graph described once (:mod:`contrastive_vla.ros.graph`) for the launch files
and the embedded launcher, and the drivers that run that graph for evaluation and benchmarks.

Entry points: :func:`contrastive_vla.ros.graph.launch_description` (the launch files) and
:mod:`contrastive_vla.ros.nodes` (one module per node).
"""

"""contrastive_vla: CLIP-RT language-conditioned robot control on ROS 2.

The package is organised in rooms, each with one entry point:

- ``contrastive_vla.core.vocabulary``: the motion-primitive vocabulary (the action space).
- ``contrastive_vla.sim``: the MuJoCo tabletop, task suite and scripted expert.
- ``contrastive_vla.model``: the CLIP-RT policy and its training.
- ``contrastive_vla.data``: rosbag2 reading/writing and training datasets.
- ``contrastive_vla.evaluation``: closed-loop (simulator) and offline (bag) evaluation.
- ``contrastive_vla.ros``: thin rclpy nodes and the launch graph.
- ``contrastive_vla.cli``: the ``contrastive-vla`` command.

Importing the package is cheap: no torch, rclpy or mujoco until a room needs them.
"""

__version__ = '0.1.0'

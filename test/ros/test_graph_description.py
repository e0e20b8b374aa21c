"""The single graph description: profiles, launch arguments, node commands, parameters."""

import importlib.util
import json
import os
from pathlib import Path
import subprocess
import sys

import numpy as np
import pytest
import yaml

from contrastive_vla.ros import graph, messages
from contrastive_vla.ros.node_parameters import NODES
from contrastive_vla.ros.params import defaults, markdown_table

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize('node', sorted(NODES))
def test_every_parameter_has_one_default_and_one_description(node):
    names = [p.name for p in NODES[node]]
    assert len(names) == len(set(names))
    assert all(len(p.description) > 10 for p in NODES[node])


def test_profiles_only_map_declared_parameters_and_arguments():
    for name, prof in graph.PROFILES.items():
        arg_names = {a.name for a in prof.arguments}
        assert {'params_file', 'namespace', 'model', 'use_sim_time',
                'enable_actuation'} <= arg_names, name
        for spec in prof.nodes:
            assert set(spec.arguments) <= set(defaults(NODES[spec.name])), spec.name
            assert set(spec.arguments.values()) <= arg_names, spec.name
            assert importlib.util.find_spec(spec.module) is not None


def test_robot_profile_is_a_dry_run_unless_asked():
    values = graph.resolve_arguments('robot', {})
    assert values['enable_actuation'] == 'false'
    assert defaults(NODES['arm_bridge'])['enable_actuation'] is False


def test_node_commands_carry_arguments_typed():
    values = graph.resolve_arguments('sim', {'real_time_factor': '2', 'namespace': 'arm1',
                                             'model': 'runs/x/best'})
    given = {'real_time_factor', 'namespace', 'model'}
    cmds = {s.name: graph.node_command(s, values, 'python', given)
            for s in graph.profile('sim').nodes}
    sim = ' '.join(cmds['simulator'])
    assert '-p real_time_factor:=2.0' in sim and 'use_sim_time' not in sim
    vla = ' '.join(cmds['vla'])
    assert '-r __ns:=/arm1' in vla and '-p model:=runs/x/best' in vla
    assert '-p use_sim_time:=true' in vla
    with pytest.raises(KeyError, match='unknown launch argument'):
        graph.resolve_arguments('sim', {'modle': 'x'})
    with pytest.raises(KeyError, match='unknown launch profile'):
        graph.profile('mars')


def test_vla_false_leaves_the_arm_to_teleoperation():
    from contrastive_vla.ros.launcher import GraphProcesses

    for name in ('sim', 'robot'):
        with_vla = GraphProcesses(name).commands()
        without = GraphProcesses(name, {'vla': 'false'}).commands()
        assert 'vla' in with_vla and set(with_vla) - set(without) == {'vla'}


def test_launch_files_use_the_description():
    for name in graph.PROFILES:
        text = (REPO / 'launch' / f'{name}.launch.py').read_text()
        assert f"launch_description('{name}')" in text
    try:
        import launch  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match='contrastive-vla launch sim'):
            graph.launch_description('sim')


def test_launch_command_shows_arguments_and_rejects_unknown_ones():
    out = subprocess.run([sys.executable, '-m', 'contrastive_vla.cli', 'launch', 'robot',
                          '--show-args'], capture_output=True, text=True, check=True).stdout
    assert 'enable_actuation:=false' in out and 'camera_source' in out
    bad = subprocess.run([sys.executable, '-m', 'contrastive_vla.cli', 'launch', 'sim',
                          'modle:=x'], capture_output=True, text=True)
    assert bad.returncode == 2 and 'unknown launch argument' in bad.stderr


def test_delta_command_round_trip():
    stamp_ns = 1_764_000_000_123_456_789  # an epoch stamp: exact, no float seconds on the way
    msg = messages.delta_command(np.arange(8) * 0.01, decision=7, image_stamp_ns=stamp_ns)
    command = messages.parse_delta_command(msg)
    np.testing.assert_allclose(command.delta, np.arange(8) * 0.01)
    assert (command.decision, command.image_stamp_ns) == (7, stamp_ns)
    assert [(d.label, d.size) for d in msg.layout.dim][0] == ('delta', 8)
    from std_msgs.msg import Float64MultiArray, MultiArrayDimension, MultiArrayLayout
    command = messages.parse_delta_command(Float64MultiArray(data=[0.0] * 8))  # typed by hand
    assert command.decision is None and command.image_stamp_ns is None
    # as recorded in bags: only the 'delta' dimension
    recorded = Float64MultiArray(data=[0.0] * 8, layout=MultiArrayLayout(
        dim=[MultiArrayDimension(label='delta', size=8, stride=8)]))
    assert messages.parse_delta_command(recorded).decision is None
    with pytest.raises(ValueError):
        messages.delta_command(np.zeros(8), decision=-1)
    with pytest.raises(ValueError):
        messages.delta_command(np.zeros(8), image_stamp_ns=-5)


def test_json_payloads_from_dataclasses():
    from contrastive_vla.control.execution import status_of
    from contrastive_vla.core.status import Outcome

    outcome = status_of(3, np.array([0.1234567, 0, 0, 0, 0, 0, 0, 1.0]), 1.5, Outcome.DONE, '')
    assert json.loads(messages.json_string(outcome).data) == {
        'decision': 3, 'delta': [0.12346, 0, 0, 0, 0, 0, 0, 1.0], 'latency_ms': 1.5,
        'status': 'done', 'message': ''}


def test_readme_parameter_tables_match_the_nodes():
    readme = (REPO / 'README.md').read_text()
    for node, table in NODES.items():
        assert markdown_table(table) in readme, (
            f'README parameter table of {node} is out of date: regenerate it with '
            '"contrastive-vla params --markdown"')


# ---- precedence: declared defaults < the user's params_file < launch arguments given ---------
def _params_file(tmp_path, model='from_the_file'):
    path = tmp_path / 'mine.yaml'
    path.write_text(f'/**/vla:\n  ros__parameters:\n    model: {model}\n'
                    '/**/arm_bridge:\n  ros__parameters:\n    enable_actuation: false\n')
    return path


def _effective(cmd, node):
    """What a node started with ``cmd`` gets: the -p / --params-file entries in order (the later
    wins, as on a ROS command line)."""
    from contrastive_vla.ros.params import read_params_file

    values = {}
    args = cmd[cmd.index('--ros-args') + 1:]
    for flag, value in zip(args[::2], args[1::2]):
        if flag == '-p':
            name, _, text = value.partition(':=')
            values[name] = yaml.safe_load(text)
        elif flag == '--params-file':
            values.update(read_params_file(value).get(node, {}))
    return values


def test_the_embedded_launcher_lets_a_params_file_beat_argument_defaults(tmp_path):
    from contrastive_vla.ros.launcher import GraphProcesses

    mine = str(_params_file(tmp_path))
    cmds = GraphProcesses('sim', {'params_file': mine}).commands()
    assert _effective(cmds['vla'], 'vla')['model'] == 'from_the_file'
    assert '-p model:=' not in ' '.join(cmds['vla'])
    # the profile's own default (sim: actuation on) loses to the file too
    assert _effective(cmds['arm_bridge'], 'arm_bridge')['enable_actuation'] is False
    # ... and a launch argument the user gives beats the file
    cmds = GraphProcesses('sim', {'params_file': mine, 'model': 'given',
                                  'enable_actuation': 'true'}).commands()
    assert _effective(cmds['vla'], 'vla')['model'] == 'given'
    assert _effective(cmds['arm_bridge'], 'arm_bridge')['enable_actuation'] is True
    # without a params file: the packaged defaults and the profile's
    cmds = GraphProcesses('sim').commands()
    assert _effective(cmds['vla'], 'vla')['model'] == 'clip_rt_default'
    assert _effective(cmds['arm_bridge'], 'arm_bridge')['enable_actuation'] is True
    assert _effective(cmds['vla'], 'vla')['use_sim_time'] is True
    # a string argument stays a string ('0' is a camera index, not an integer)
    camera = _effective(GraphProcesses('robot').commands()['camera'], 'camera')
    assert camera['source'] == '0'


@pytest.fixture(scope='session')
def ros2_cli(shared_dir, tmp_path_factory):
    """ROS 2's own launch and CLI (unmodified sources in ../shared/ros2-cli)."""
    install = shared_dir / 'ros2-cli' / 'install.sh'
    if not install.is_file():
        pytest.skip(f'{install} is absent')
    target = tmp_path_factory.mktemp('ros2cli')
    subprocess.run(['bash', str(install), str(target), sys.executable], check=True,
                   capture_output=True, timeout=600)
    return target


# runs with ROS 2's launch importable: evaluates a launch file's description as ros2 launch
# does (arguments -> DeclareLaunchArgument -> OpaqueFunction -> Node parameters) and prints
# what each node would get, the parameters files read in order
LAUNCH_PROBE = """
import json, sys
from launch import LaunchContext
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch_ros.utilities import evaluate_parameters
from contrastive_vla.ros import graph
from contrastive_vla.ros.params import read_params_file

profile, args = sys.argv[1], dict(a.split(':=', 1) for a in sys.argv[2:])
context = LaunchContext()
context.launch_configurations.update(args)
nodes = []
for action in graph.launch_description(profile).entities:
    entities = action.execute(context) if isinstance(
        action, (DeclareLaunchArgument, OpaqueFunction)) else None
    if isinstance(action, OpaqueFunction):
        nodes = entities
out = {}
for node in nodes:
    name = node._Node__node_name
    values = {}
    for entry in evaluate_parameters(context, node._Node__parameters):
        values.update(entry if isinstance(entry, dict)
                      else read_params_file(entry).get(name, {}))
    out[name] = values
print(json.dumps(out))
"""


def _launched(ros2_cli, profile, *args):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ros2_cli), str(REPO)]))
    out = subprocess.run([sys.executable, '-c', LAUNCH_PROBE, profile, *args], env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_ros2_launch_lets_a_params_file_beat_argument_defaults(ros2_cli, tmp_path):
    mine = f'params_file:={_params_file(tmp_path)}'
    nodes = _launched(ros2_cli, 'sim', mine)
    assert nodes['vla']['model'] == 'from_the_file'
    assert nodes['arm_bridge']['enable_actuation'] is False
    assert nodes['vla']['use_sim_time'] is True
    nodes = _launched(ros2_cli, 'sim', mine, 'model:=given', 'enable_actuation:=true')
    assert nodes['vla']['model'] == 'given'
    assert nodes['arm_bridge']['enable_actuation'] is True
    nodes = _launched(ros2_cli, 'sim', 'real_time_factor:=2')
    assert nodes['vla']['model'] == 'clip_rt_default'
    assert nodes['simulator']['real_time_factor'] == 2.0
    assert nodes['arm_bridge']['enable_actuation'] is True
    robot = _launched(ros2_cli, 'robot')
    assert robot['camera']['source'] == '0' and robot['arm_bridge']['enable_actuation'] is False
    assert 'vla' not in _launched(ros2_cli, 'robot', 'vla:=false')
    replay = _launched(ros2_cli, 'replay', 'rate:=2')
    assert replay['vla']['wait_for_outcome'] is False and replay['player']['rate'] == 2.0


def test_ros2_launch_show_args_names_each_default(ros2_cli):
    code = ('from ros2launch.api import print_arguments_of_launch_file as show; '
            f'show(launch_file_path={str(REPO / "launch" / "sim.launch.py")!r})')
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ros2_cli), str(REPO)]))
    out = subprocess.run([sys.executable, '-c', code], env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    text = ' '.join(out.stdout.split())
    assert '[default: clip_rt_default;' in text
    assert '[default: true; not given, a value in params_file wins]' in text  # actuation on
    assert '[default: 1.0;' in text  # real_time_factor

"""The single graph description: profiles, launch arguments, node commands, parameters."""

import importlib.util
import json
from pathlib import Path
import subprocess
import sys

import numpy as np
import pytest

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
    cmds = {s.name: graph.node_command(s, values, 'python') for s in graph.profile('sim').nodes}
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

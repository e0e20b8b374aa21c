"""A bad launch argument or start-up parameter value gives one line naming it, no traceback:
boolean launch arguments refuse typos (vla:=flase), every ranged parameter refuses a value
outside its range, and the VLA node refuses a CUDA device on a torch without CUDA."""

import os

import pytest

from contrastive_vla.ros import graph
from contrastive_vla.ros.launcher import GraphProcesses
from contrastive_vla.ros.node_parameters import NODES
from contrastive_vla.ros.runtime import NodeStartupError


@pytest.mark.parametrize('profile, argument', [
    ('sim', 'vla'), ('robot', 'vla'), ('sim', 'enable_actuation'), ('sim', 'autostart'),
    ('robot', 'use_sim_time'), ('replay', 'use_sim_time'),
])
def test_a_boolean_launch_argument_refuses_a_typo(profile, argument):
    with pytest.raises(ValueError) as info:
        graph.resolve_arguments(profile, {argument: 'flase'})
    message = str(info.value)
    assert f'{argument}:=flase' in message and 'true or false' in message
    assert '\n' not in message
    with pytest.raises(ValueError, match='true or false'):
        GraphProcesses(profile, {argument: 'flase'})


def test_started_nodes_refuses_a_value_that_is_neither_true_nor_false():
    values = graph.resolve_arguments('sim', {})
    assert {s.name for s in graph.started_nodes('sim', dict(values, vla='False'))} == {
        s.name for s in graph.started_nodes('sim', values)} - {'vla'}
    with pytest.raises(ValueError, match='vla'):
        graph.started_nodes('sim', dict(values, vla='flase'))
    assert graph.is_true('TRUE') and not graph.is_true('false')


def test_boolean_arguments_take_true_and_false_in_any_case():
    assert graph.resolve_arguments('sim', {'vla': 'False'})['vla'] == 'False'
    assert 'vla' not in GraphProcesses('sim', {'vla': 'false'}).commands()


# ---- every ranged parameter: a bad start-up value is one line naming it ------------------------
BAD_VALUES = [
    ('arm_bridge', 'command_timeout', '0.0'),
    ('arm_bridge', 'command_timeout', '-1.0'),
    ('arm_bridge', 'servo_rate', '0.0'),
    ('arm_bridge', 'joint_state_timeout', '-1.0'),
    ('vla', 'max_image_age', '0.0'),
    ('vla', 'tick_period', '0.0'),
    ('vla', 'threads', '-1'),
    ('simulator', 'camera_rate', '0.0'),
    ('simulator', 'image_width', '0'),
    ('simulator', 'real_time_factor', 'fast'),
]


@pytest.mark.parametrize('node_name, name, value', BAD_VALUES)
def test_a_bad_start_up_value_is_one_line_naming_the_parameter(ros_context, node_name, name,
                                                               value):
    from contrastive_vla.ros.params import declare

    # as the embedded launcher spells a launch argument for the node's command line
    declared = next(p for p in NODES[node_name] if p.name == name)
    text = graph._typed(value, declared.default)
    node = ros_context('-p', f'{node_name}:{name}:={text}')(node_name)
    try:
        with pytest.raises(NodeStartupError) as info:
            declare(node, NODES[node_name])
    finally:
        node.destroy_node()
    message = str(info.value)
    assert f'{node_name}: parameter {name}' in message and '\n' not in message, message


# ---- the VLA node on a torch without CUDA ------------------------------------------------------
def test_device_cuda_without_cuda_fails_configure_with_one_line(tiny_model, capfd):
    rclpy = pytest.importorskip('rclpy')
    import torch

    if torch.cuda.is_available():
        pytest.skip('needs a torch without CUDA')
    from contrastive_vla.ros.nodes.vla import VLANode
    from contrastive_vla.ros.runtime import lifecycle_state

    rclpy.init(args=['test', '--ros-args', '-p', f'model:={tiny_model}', '-p', 'device:=cuda'],
               domain_id=150 + os.getpid() % 80)
    try:
        node = VLANode()
        try:
            assert lifecycle_state(node) == 'unconfigured' and node.policy is None
            assert 'use device cpu' in node.reason and 'device' in node.reason
        finally:
            node.destroy_node()
    finally:
        rclpy.try_shutdown()
    err = capfd.readouterr().err
    lines = [line for line in err.splitlines() if 'CUDA' in line]
    assert len(lines) == 1 and 'Traceback' not in err, err
    assert "parameter device 'cuda': CUDA is not available in this torch build; use device " \
           'cpu' in lines[0]

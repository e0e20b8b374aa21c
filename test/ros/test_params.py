"""The one declaration of every node parameter and what is made from it."""

from pathlib import Path
import re

import numpy as np
import pytest

from contrastive_vla.core.topics import load_topics
from contrastive_vla.core.vocabulary import PrimitiveVocabulary
from contrastive_vla.ros import graph
from contrastive_vla.ros.node_parameters import NODES, parameter
from contrastive_vla.ros.params import Param, declare, params_file_text, read_params_file
from contrastive_vla.ros.runtime import NodeStartupError

REPO = Path(__file__).resolve().parents[2]
NODES_YAML = REPO / 'config' / 'nodes.yaml'


def test_packaged_params_file_is_generated_from_the_declarations():
    assert NODES_YAML.read_text(encoding='utf-8') == params_file_text(NODES), (
        'config/nodes.yaml is out of date: regenerate it with '
        '"contrastive-vla params --yaml > config/nodes.yaml"')
    parsed = read_params_file(NODES_YAML)
    assert set(parsed) == set(NODES)
    for node, table in NODES.items():
        assert parsed[node] == {p.name: p.default for p in table}, node
        for p in table:  # 30.0 must stay a double, 0 an integer, for ROS
            assert type(parsed[node][p.name]) is type(p.default), (node, p.name)


def test_the_translation_limit_lets_every_primitive_of_the_vocabulary_through():
    deltas = np.array([p.delta_array() for p in PrimitiveVocabulary.load()])
    translation = np.linalg.norm(deltas[:, :3], axis=1).max()
    assert parameter('arm_bridge', 'max_step_translation').default == 0.2
    assert parameter('arm_bridge', 'max_step_translation').default >= translation - 1e-9


def test_the_rotation_limit_lets_every_primitive_of_the_vocabulary_through():
    # it was 0.8 rad, which refused every quarter-turn primitive of the vocabulary
    deltas = np.array([p.delta_array() for p in PrimitiveVocabulary.load()])
    rotation = np.linalg.norm(deltas[:, 3:7], axis=1).max()
    assert rotation > 1.5
    assert parameter('arm_bridge', 'max_step_rotation').default >= rotation - 1e-9


def test_a_param_refuses_what_it_cannot_declare():
    assert Param('rate', 1.0, 'hz', range=(0.0, None), open_low=True).check(0.0)
    assert Param('rate', 1.0, 'hz', range=(0.0, None)).check(0.0) is None
    assert 'one of a, b' in Param('m', 'a', 'mode', choices=('a', 'b')).check('c')
    assert Param('k', 3, 'k', range=(1, 5)).allowed == '1 .. 5'
    with pytest.raises(ValueError, match='default of rate'):
        Param('rate', 0.0, 'hz', range=(0.0, None), open_low=True)
    with pytest.raises(TypeError, match='one type'):
        Param('mixed', [1, 'a'], 'mixed list')
    with pytest.raises(TypeError, match='choices need a string'):
        Param('n', 1, 'number', choices=(1, 2))
    with pytest.raises(TypeError, match='no ROS parameter type'):
        Param('none', None, 'nothing')
    assert Param('f', [0.5], 'list').type == 'double_array'


def test_launch_arguments_take_their_defaults_from_the_declarations():
    robot = graph.resolve_arguments('robot', {})
    assert robot['model'] == parameter('vla', 'model').default
    assert robot['device'] == parameter('vla', 'device').default
    assert robot['bridge_mode'] == parameter('arm_bridge', 'mode').default
    replay = graph.resolve_arguments('replay', {})
    assert replay['rate'] == '1.0' and replay['bag'] == ''
    assert replay['image_topic'] == parameter('player', 'image_topic').default
    assert graph.resolve_arguments('sim', {})['seed'] == '0'


def test_declare_gives_ros_the_whole_declaration(ros_context):
    node = ros_context('--params-file', str(NODES_YAML))('arm_bridge')
    values = declare(node, NODES['arm_bridge'])
    assert values == {p.name: p.default for p in NODES['arm_bridge']}
    mode = node.describe_parameter('mode')
    assert 'servo' in mode.additional_constraints and mode.read_only
    rate = node.describe_parameter('servo_rate')
    assert rate.floating_point_range[0].from_value == 0.0
    assert rate.description == parameter('arm_bridge', 'servo_rate').description
    assert node.describe_parameter('settle_time').additional_constraints == '>= 0.0'
    # read once at start-up: a later set is refused, not silently ignored
    from rclpy.parameter import Parameter

    assert not node.set_parameters([Parameter('servo_rate', value=10.0)])[0].successful
    node.destroy_node()


@pytest.mark.parametrize('override, message', [
    ('camera:rate:=0.0', 'camera: parameter rate must be > 0.0; got 0.0'),
    ('camera:horizontal_fov_deg:=200.0', 'parameter horizontal_fov_deg'),
    ('camera:rate:=30', 'parameter rate must be a double like its default 30.0'),
    ('arm_bridge:mode:=trajectory', 'mode must be one of joint_trajectory, servo'),
])
def test_a_bad_start_up_value_stops_the_node_with_a_clear_message(ros_context, override,
                                                                     message):
    name = override.split(':', 1)[0]
    node = ros_context('-p', override)(name)
    with pytest.raises(NodeStartupError, match=message):
        declare(node, NODES[name])
    node.destroy_node()


TOPIC_CALL = re.compile(
    r'(create_publisher|create_subscription)\(\s*[^,()]+(\([^()]*\))?,\s*[\'"]'
    r'|count_(publishers|subscribers)\(\s*[\'"]')


def test_every_topic_name_comes_from_the_topic_table():
    literals = [f'{path.relative_to(REPO)}: {m.group(0)}'
                for path in (REPO / 'contrastive_vla').rglob('*.py')
                for m in TOPIC_CALL.finditer(path.read_text(encoding='utf-8'))]
    assert literals == [], 'topic names belong in config/topics.yaml (core.topics.topic)'
    topics = load_topics()
    assert {'replay_status', 'replay_start', 'diagnostics'} <= set(topics)
    assert topics['diagnostics'].name == '/diagnostics'

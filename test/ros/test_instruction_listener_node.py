"""The instruction listener in-process: stops, releases and the parameters that would disable
stopping (no other process, no graph)."""

import os

import pytest

from contrastive_vla.ros.node_parameters import NODES
from contrastive_vla.ros.params import Param
from contrastive_vla.ros.runtime import NodeStartupError


def _param(name):
    return {p.name: p for p in NODES['instruction_listener']}[name]


def test_parameters_that_would_disable_stopping_are_refused():
    assert _param('stop_words').check([]) is not None
    assert _param('stop_words').check(['']) is not None
    assert _param('stop_words').check(['stop']) is None
    assert _param('max_length').check(3) is not None
    assert _param('max_length').check(9) is not None
    assert _param('max_length').check(10) is None  # a stop is recognised at any length


def test_param_min_items():
    p = Param('words', ['a'], 'words', min_items=1)
    assert 'at least 1' in p.check([]) and p.check(['b']) is None
    assert 'at least 1' in p.allowed
    with pytest.raises(TypeError):
        Param('n', 3, 'n', min_items=1)


@pytest.fixture
def listener():
    rclpy = pytest.importorskip('rclpy')
    from std_msgs.msg import Bool, String

    from contrastive_vla.ros.nodes.instruction import InstructionListener

    contexts, nodes = [], []

    def start(*ros_args):
        ctx = rclpy.Context()
        rclpy.init(args=['test', '--ros-args', *ros_args], context=ctx,
                   domain_id=150 + os.getpid() % 80)
        contexts.append(ctx)
        node = InstructionListener(context=ctx)
        nodes.append(node)
        node.say = lambda text: node.on_instruction(String(data=text))
        node.estop_msg = lambda raised: node.on_estop(Bool(data=raised))
        return node

    yield start
    for node in nodes:
        node.destroy_node()
    for ctx in contexts:
        rclpy.try_shutdown(context=ctx)


@pytest.mark.parametrize('text', ['please stop', 'emergency stop', 'e-stop', 'no, stop!',
                                  "don't move", 'STOP\x07', 'halt\x1b[0m',
                                  'stop ' + 'now ' * 1250])
def test_each_stop_sentence_halts_and_never_becomes_the_task(listener, text):
    node = listener()
    node.say('pick up the red block')
    node.say(text)
    assert node.estop and node.active == 'pick up the red block'


def test_only_continue_or_a_task_releases(listener):
    node = listener()
    node.say('push the red block to the left')
    node.say('stop')
    for text in ['wait', 'abort', 'no no no', 'hmm', 'ok']:
        node.say(text)
        assert node.estop, text
    assert node.active == 'push the red block to the left'
    node.say('continue')
    assert not node.estop and node.active == 'push the red block to the left'
    node.say('please stop')
    node.say('lift the blue cube')
    assert not node.estop and node.active == 'lift the blue cube'


def test_a_release_word_does_not_release_someone_elses_stop(listener):
    node = listener()
    node.estop_msg(True)
    node.say('continue')
    assert node.estop


def test_without_release_by_new_instruction_only_continue_releases(listener):
    node = listener('-p', 'stop_released_by_new_instruction:=false')
    node.say('stop')
    node.say('lift the blue cube')
    assert node.estop and node.active == 'lift the blue cube'
    node.say('resume')
    assert not node.estop


@pytest.mark.parametrize('override, message', [
    ('max_length:=3', 'max_length'), ('max_length:=9', 'max_length'),
    ('stop_words:=[]', 'stop_words'), ("stop_words:=['', ' ']", 'stop_words'),
    ("stop_words:=['-', '!']", 'stop_words'),
])
def test_start_up_values_that_disable_stopping_are_refused(listener, override, message):
    with pytest.raises(NodeStartupError, match=message):
        listener('-p', override)

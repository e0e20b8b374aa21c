"""No message kills a node: every subscription callback of every node survives any payload.

The nodes are the real node classes, built in this process on a private ROS domain (as in
test_param_set.py); the tests call the callbacks their subscriptions were created with, so what
is exercised is exactly the wiring the graph delivers messages through. A handler that raises is
logged (once per topic with the exception type, then throttled) and counted, never fatal.
"""

import threading
import types

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
import pytest

rclpy = pytest.importorskip('rclpy')

from sensor_msgs.msg import JointState  # noqa: E402
from std_msgs.msg import (  # noqa: E402
    Float64MultiArray,
    MultiArrayDimension,
    MultiArrayLayout,
    String,  # noqa: E402
)

from contrastive_vla.core.topics import topic  # noqa: E402
from contrastive_vla.ros import messages, runtime  # noqa: E402

TASK = 'lift_block'
HOSTILE_TEXT = ['[' * 5000, '{"a":' * 5000, '9' * 400, '{"seed": Infinity}', 'Infinity',
                '{"decision": ' + '9' * 400 + '}', '{"decision": Infinity, "status": "done"}',
                '{"seed": 1e400}', '{"task": [1], "seed": 0}', '{"task": {}, "seed": 0}']
SIM_REQUESTS = ['[' * 5000, '9' * 400, f'{{"task": "{TASK}", "seed": Infinity}}',
                f'{{"task": "{TASK}", "seed": 1e400}}', f'{{"task": "{TASK}", "seed": -1e400}}',
                f'{{"task": "{TASK}", "seed": NaN}}', f'{{"task": "{TASK}", "seed": ' + '9' * 400
                + '}', f'{{"task": "{TASK}", "seed": 1.5}}', f'{{"task": "{TASK}", "seed": true}}',
                f'{{"task": "{TASK}", "seed": -1}}',
                f'{{"task": "{TASK}", "seed": 9223372036854775808}}',
                '{"task": "no_such_task", "seed": 1}', '{"task": ["lift_block"], "seed": 1}',
                f'{{"task": "{TASK}", "seed": 1, "instruction": [1, 2]}}',
                f'{{"task": "{TASK}", "seed": 1, "instruction": {{"a": 1}}}}']
FUZZ = settings(max_examples=40, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])
json_leaves = (st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10)
               | st.sampled_from([TASK, 'decision', 'seed', 'task', 'status']))
json_values = st.recursive(json_leaves, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.sampled_from(['task', 'seed', 'instruction',
                                                              'decision', 'status', 'x']),
                                             inner, max_size=4), max_leaves=12)
payloads = st.text(max_size=200) | json_values.map(lambda v: __import__('json').dumps(v))


def callback(node, key):
    """The callback ``node`` subscribed to topic ``key`` of config/topics.yaml with."""
    name = topic(key).name.lstrip('/')
    found = [s.callback for s in node.subscriptions if s.topic_name.lstrip('/') == name]
    assert found, (key, [s.topic_name for s in node.subscriptions])
    return found[0]


def delta_msg(data, dims=()):
    return Float64MultiArray(layout=MultiArrayLayout(dim=[
        MultiArrayDimension(label=label, size=size, stride=stride)
        for label, size, stride in dims]), data=data)


# ---- the simulator: episode_request ---------------------------------------------------------
def test_simulator_survives_hostile_episode_requests(start_node):
    from contrastive_vla.ros.nodes.simulator import SimulatorNode

    sim = start_node(SimulatorNode, '-p', 'image_width:=32', '-p', 'image_height:=32')
    on_request = callback(sim, 'episode_request')
    episode = sim.episode
    for text in SIM_REQUESTS:
        on_request(String(data=text))  # must not raise
        assert sim.episode == episode, text  # and starts no episode
    on_request(String(data=f'{{"task": "{TASK}", "seed": 7}}'))
    assert sim.episode == episode + 1 and sim.env.spec.seed == 7
    on_request(String(data=f'{{"task": "{TASK}", "seed": 9223372036854775807}}'))
    assert sim.episode == episode + 2
    # refused by the handler's own checks, not caught by the guard
    assert getattr(sim, 'message_faults', {}) == {}


@FUZZ
@given(text=payloads)
def test_simulator_episode_request_fuzz(start_sim, text):
    callback(start_sim, 'episode_request')(String(data=text))


@pytest.fixture
def start_sim(start_node):
    from contrastive_vla.ros.nodes.simulator import SimulatorNode

    return start_node(SimulatorNode, '-p', 'image_width:=32', '-p', 'image_height:=32')


# ---- the arm bridge: primitive_delta --------------------------------------------------------
@pytest.fixture
def bridge(start_node):
    from contrastive_vla.ros.nodes.arm_bridge import ArmBridge

    node = start_node(ArmBridge, '-p', 'autostart:=true')
    callback(node, 'joint_states')(JointState(name=node.joint_names,
                                              position=[0.1] * len(node.joint_names)))
    return node


def test_bridge_survives_a_failing_primitive_delta_handler(bridge, monkeypatch):
    on_delta = callback(bridge, 'primitive_delta')

    def explode(_msg):
        return [[]] * 10 ** 400  # OverflowError, as a bug deep in a handler would raise

    monkeypatch.setattr(messages, 'parse_delta_command', explode)
    on_delta(delta_msg([0.0] * 8))
    on_delta(delta_msg([0.0] * 8))
    assert bridge.message_faults == {'primitive_delta': 2}
    monkeypatch.undo()
    on_delta(delta_msg([0.0] * 7 + [1.0]))  # still serves the next command: opens the gripper
    assert bridge.active is not None and bridge.message_faults == {'primitive_delta': 2}


@FUZZ
@given(data=st.lists(st.floats(), max_size=12),
       dims=st.lists(st.tuples(st.sampled_from(['delta', 'decision', 'image_stamp', '[' * 5000]),
                               st.integers(0, 2 ** 32 - 1), st.integers(0, 2 ** 32 - 1)),
                     max_size=4))
def test_bridge_primitive_delta_fuzz(bridge, data, dims):
    bridge.active = None
    callback(bridge, 'primitive_delta')(delta_msg(data, dims))
    callback(bridge, 'vla_status')(String(data='[' * 5000))


# ---- the VLA node: primitive_status, active_instruction -------------------------------------
@pytest.fixture
def vla(start_node, tiny_model):
    from contrastive_vla.ros.nodes.vla import VLANode

    return start_node(VLANode, '-p', f'model:={tiny_model}')


def test_vla_survives_hostile_primitive_status(vla):
    on_status = callback(vla, 'primitive_status')
    for text in HOSTILE_TEXT:
        on_status(String(data=text))
    vla.gate.pending = 5
    on_status(String(data='{"decision": 5, "status": "done"}'))  # still hears outcomes
    assert vla.gate.pending is None and vla.last['outcome'] == 'done'
    assert getattr(vla, 'message_faults', {}) == {}


@FUZZ
@given(text=payloads)
def test_vla_string_handlers_fuzz(vla, text):
    callback(vla, 'primitive_status')(String(data=text))
    callback(vla, 'active_instruction')(String(data=text))


# ---- the instruction listener and the player --------------------------------------------------
@FUZZ
@given(text=st.text(max_size=300) | st.sampled_from(HOSTILE_TEXT))
def test_instruction_listener_fuzz(start_listener, text):
    callback(start_listener, 'instruction')(String(data=text))


@pytest.fixture
def start_listener(start_node):
    from contrastive_vla.ros.nodes.instruction import InstructionListener

    return start_node(InstructionListener)


@FUZZ
@given(text=payloads | st.sampled_from(HOSTILE_TEXT))
def test_player_on_topk_fuzz(text):
    from contrastive_vla.ros.nodes.player import BagPlayer

    player = types.SimpleNamespace(decided=set(), decided_lock=threading.Lock(),
                                   decided_event=threading.Event())
    BagPlayer.on_topk(player, String(data=text))
    assert all(0 <= s < 2 ** 64 for s in player.decided)


# ---- the guard itself -------------------------------------------------------------------------
class Logger:
    def __init__(self):
        self.lines = []

    def error(self, text, **_):
        self.lines.append(('error', text))

    def warning(self, text, **_):
        self.lines.append(('warning', text))


def test_guard_logs_once_per_topic_with_the_type_then_throttles(monkeypatch):
    logger = Logger()
    node = types.SimpleNamespace(get_logger=lambda: logger)
    clock = [100.0]
    monkeypatch.setattr(runtime.time, 'monotonic', lambda: clock[0])

    def handler(msg):
        raise KeyError(msg)

    a, b = runtime.guarded(node, 'a', handler), runtime.guarded(node, 'b', handler)
    for _ in range(5):
        assert a('x') is None
    b('y')
    assert node.message_faults == {'a': 5, 'b': 1}
    assert [level for level, _ in logger.lines] == ['error', 'error']
    assert 'KeyError' in logger.lines[0][1] and 'a' in logger.lines[0][1]
    clock[0] += runtime.MESSAGE_FAULT_THROTTLE + 0.1
    a('x')
    assert len(logger.lines) == 3 and '4 more' in logger.lines[2][1]
    assert logger.lines[2][0] == 'warning'
    # another fault on the same topic is heard at once, not hidden behind the first kind
    runtime.guarded(node, 'a', lambda _m: 1 / 0)('z')
    assert len(logger.lines) == 4 and 'ZeroDivisionError' in logger.lines[3][1]
    # programming errors are not swallowed when they are not Exceptions
    with pytest.raises(KeyboardInterrupt):
        runtime.guarded(node, 'c', lambda _m: (_ for _ in ()).throw(KeyboardInterrupt()))(1)

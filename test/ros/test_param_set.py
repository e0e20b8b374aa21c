"""`ros2 param set` on running nodes: every parameter of the VLA node and the arm bridge either
takes effect (the derived object or the behaviour changes) or is refused with a reason; an
out-of-range or wrongly typed value is always refused. No set is "successful and ignored".

The nodes are the real node classes, built in this process on a private ROS domain and driven by
calling their callbacks (a camera frame, an instruction, a joint state, a primitive delta), so a
test sees exactly what the node would do with the same messages from the graph.
"""

import math
import time

import numpy as np
import pytest

from contrastive_vla.control.decision import FUTURE_IMAGE, STALE_IMAGE
from contrastive_vla.core.status import Outcome
from contrastive_vla.ros.node_parameters import NODES, parameter

rclpy = pytest.importorskip('rclpy')

from rclpy.parameter import Parameter  # noqa: E402
from sensor_msgs.msg import JointState  # noqa: E402
from std_msgs.msg import String  # noqa: E402

from contrastive_vla.ros import messages  # noqa: E402

INSTRUCTION = 'reach the red block'


@pytest.fixture
def vla(start_node, tiny_model):
    from contrastive_vla.ros.nodes.vla import VLANode

    return start_node(VLANode, '-p', f'model:={tiny_model}')


@pytest.fixture
def bridge(start_node):
    from contrastive_vla.ros.nodes.arm_bridge import ArmBridge

    # active: these cases drive primitives through it (inactive it refuses them all)
    return start_node(ArmBridge, '-p', 'autostart:=true')


def set_param(node, name, value):
    return node.set_parameters([Parameter(name, value=value)])[0]


def assert_refused(node, name, value, *words):
    before = node.get_parameter(name).value
    before_p = node.p[name]
    result = set_param(node, name, value)
    assert not result.successful, (name, value)
    assert result.reason, (name, value)
    for word in words:
        assert word in result.reason, (result.reason, word)
    # nothing changed: neither the ROS parameter nor what the node reads
    assert node.get_parameter(name).value == before
    assert node.p[name] == before_p


def assert_set(node, name, value):
    result = set_param(node, name, value)
    assert result.successful, result.reason
    assert node.get_parameter(name).value == value and node.p[name] == value


# ---- the VLA node: a frame, an instruction, a tick --------------------------------------------
def frame(node, age=0.0):
    stamp_ns = node.get_clock().now().nanoseconds - int(age * 1e9)
    msg = messages.image(np.full((64, 64, 3), 90, np.uint8),
                         messages.time_msg(stamp_ns * 1e-9), 'cam')
    node.on_image(msg)
    return stamp_ns * 1e-9


def joint_state(node, stamp):
    from contrastive_vla.model.config import state_joint_names

    names = state_joint_names()
    msg = JointState(name=names, position=[0.02] * len(names))
    msg.header.stamp = messages.time_msg(stamp)
    node.on_joint_states(msg)


def decide(node, age=0.0):
    """Instruction + a fresh frame + one tick: True when the node published a decision."""
    node.on_instruction(String(data=INSTRUCTION))
    frame(node, age)
    before = node.decision_id
    node.tick()
    return node.decision_id > before


def check_vla_max_image_age(node):
    node.on_instruction(String(data=INSTRUCTION))
    time.sleep(0.25)  # frames 0.2 s old are then still newer than the instruction
    assert decide(node, age=0.2)
    node.gate.pending = None  # as if the bridge had answered
    assert_set(node, 'max_image_age', 0.1)
    assert node.gate.max_image_age == 0.1
    assert not decide(node, age=0.2) and node.reason == STALE_IMAGE


def check_vla_done_timeout(node):
    from contrastive_vla.control.decision import BUSY

    assert decide(node)
    time.sleep(0.01)
    node.tick()
    assert node.reason == BUSY  # 10 s for the bridge's outcome
    assert_set(node, 'done_timeout', 0.001)
    assert node.gate.done_timeout == 0.001
    node.tick()
    assert node.gate.timeouts == 1 and node.gate.pending is None  # the outcome was given up


def check_vla_max_future_stamp(node):
    assert not decide(node, age=-1.0) and node.reason == FUTURE_IMAGE  # a second ahead
    assert_set(node, 'max_future_stamp', 2.0)
    assert node.gate.max_future_stamp == 2.0
    assert decide(node, age=-1.0)


def check_vla_top_k(node):
    from rclpy.executors import SingleThreadedExecutor

    from contrastive_vla.core.topics import topic

    got = []
    probe = rclpy.create_node('topk_probe')
    probe.create_subscription(String, topic('primitive_topk').name,
                              lambda m: got.append(messages.parse_json(m)), 10)
    executor = SingleThreadedExecutor()
    executor.add_node(probe)
    try:
        deadline = time.monotonic() + 10
        while node.topk_pub.get_subscription_count() == 0 and time.monotonic() < deadline:
            executor.spin_once(timeout_sec=0.05)
        assert_set(node, 'top_k', 3)
        assert decide(node)
        while not got and time.monotonic() < deadline:
            executor.spin_once(timeout_sec=0.05)
        assert got and len(got[-1]['top']) == 3
    finally:
        executor.shutdown()
        probe.destroy_node()


def check_vla_min_confidence(node):
    # an untrained tiny model spreads its probability over 58 primitives: never 0.99 sure
    assert_set(node, 'min_confidence', 0.99)
    for _ in range(3):
        assert not decide(node)
        assert node.reason.startswith('low confidence')
        time.sleep(0.002)
    assert node.decision_id == 0
    assert_set(node, 'min_confidence', 0.0)
    assert decide(node)


def check_vla_loop_breaking(node):
    """The same frame and arm state twice (the bridge reports the first decision at the
    workspace boundary it was at): loop breaking on, the second decision differs."""
    def at_the_boundary():
        node.on_status(messages.json_string({
            'decision': node.decision_id, 'status': 'clamped',
            'message': 'already at the workspace boundary: target outside; stopping'}))

    def twice():
        assert decide(node)
        first = node.last['primitive']
        at_the_boundary()
        frame(node)
        node.tick()
        at_the_boundary()
        return first, node.last['primitive']

    first, second = twice()
    assert first != second
    assert_set(node, 'loop_breaking', False)
    first, second = twice()
    assert first == second
    assert_set(node, 'loop_breaking', True)


VLA_CASES = {
    # name: (a valid new value, how it takes effect or None = read-only, an invalid value)
    'model': ('clip_rt_default', None, 5),
    'device': ('cuda', None, 1),
    'threads': (2, None, -1),
    'max_image_age': (0.1, check_vla_max_image_age, 0.0),
    'done_timeout': (0.001, check_vla_done_timeout, 0.0),
    'max_future_stamp': (2.0, check_vla_max_future_stamp, -0.1),
    'tick_period': (0.05, None, 0.0),
    'top_k': (3, check_vla_top_k, 0),
    'use_joint_states': (False, None, 'yes'),
    'joint_state_tolerance': (1.0, 'gripper', -0.5),
    'joint_state_wait': (0.0, 'gripper', -1.0),
    'min_confidence': (0.99, check_vla_min_confidence, 1.5),
    'reliable_images': (True, None, 1),
    'wait_for_outcome': (False, None, 'no'),
    'status_period': (1.0, None, 0.0),
    'autostart': (False, None, 'yes'),
    'loop_breaking': (False, check_vla_loop_breaking, 'yes'),
    'stuck_detection': (False, None, 'yes'),
    'stuck_window': (12, None, 1),
    'stuck_min_progress': (0.05, None, -0.1),
    'stuck_min_path': (0.6, None, 0.0),
    'stuck_cycles': (0, None, -1),
    'stuck_gripper_toggles': (0, None, -1),
    'stuck_loop_breaks': (0, None, -1),
    'listener_node': ('/other/instruction_listener', None, 3),
}


def assert_cases_cover(node_name, cases):
    """Every parameter of the node has a case, and a case has an effect iff it is dynamic."""
    assert set(cases) == {p.name for p in NODES[node_name]}
    for name, (_, effect, _) in cases.items():
        assert (effect is not None) == parameter(node_name, name).dynamic, name


def check_case(node, cases, name):
    """An invalid value is refused; a valid one is refused as read-only or takes effect."""
    value, effect, bad = cases[name]
    assert_refused(node, name, bad)
    if effect is None:
        assert_refused(node, name, value, 'read-only')
        assert node.describe_parameter(name).read_only
    else:
        assert not node.describe_parameter(name).read_only
        effect(node)


def test_every_vla_parameter_has_a_case():
    assert_cases_cover('vla', VLA_CASES)


@pytest.mark.parametrize('name', sorted(n for n, c in VLA_CASES.items() if c[1] != 'gripper'))
def test_a_vla_parameter_set_takes_effect_or_is_refused(vla, name):
    check_case(vla, VLA_CASES, name)


@pytest.mark.parametrize('name', sorted(n for n, c in VLA_CASES.items() if c[1] == 'gripper'))
def test_a_joint_state_parameter_set_takes_effect(start_node, tiny_gripper_model, name):
    from contrastive_vla.ros.nodes.vla import VLANode

    node = start_node(VLANode, '-p', f'model:={tiny_gripper_model}')
    assert node.state_names is not None
    value, _, bad = VLA_CASES[name]
    assert_refused(node, name, bad)
    node.on_instruction(String(data=INSTRUCTION))
    stamp = frame(node)
    if name == 'joint_state_tolerance':
        assert_set(node, 'joint_state_wait', 10.0)
        joint_state(node, stamp - 0.5)  # half a second before the frame
        node.tick()
        assert node.reason == 'waiting for the joint state taken with the frame'
        assert_set(node, name, value)  # 1 s: that state counts as the frame's
        node.tick()
        assert node.decision_id == 1 and node.stale_joint_states == 0
    else:  # joint_state_wait
        joint_state(node, stamp - 0.5)
        node.tick()
        assert node.reason == 'waiting for the joint state taken with the frame'
        assert_set(node, name, value)  # wait no longer: decide with the stale state
        node.tick()
        assert node.decision_id == 1 and node.stale_joint_states == 1


# ---- the arm bridge: a joint state, a primitive delta ----------------------------------------
def arm_at_home(bridge):
    home = bridge.arm['robot']['home_joints']
    bridge.on_joint_states(JointState(name=bridge.joint_names, position=list(home)))
    return np.asarray(home, dtype=np.float64)


def delta(**axes):
    d = np.zeros(8)
    for axis, value in axes.items():
        d['x y z roll pitch yaw wrist gripper'.split().index(axis)] = value
    return d


def send(bridge, d, decision=1):
    bridge.on_delta(messages.delta_command(d, decision))


def check_bridge_max_step_translation(bridge):
    q = arm_at_home(bridge)
    left_10cm = delta(y=0.1)
    assert bridge.planner.plan(q, left_10cm).status is Outcome.DONE
    assert_set(bridge, 'max_step_translation', 0.05)
    assert bridge.limits.max_step_translation == 0.05
    assert bridge.planner.limits is bridge.limits
    assert bridge.planner.plan(q, left_10cm).status is Outcome.REJECTED
    send(bridge, left_10cm)
    assert bridge.active is None and bridge.counts == {Outcome.REJECTED: 1}


def check_bridge_max_step_rotation(bridge):
    q = arm_at_home(bridge)
    yaw_15deg = delta(yaw=math.radians(15))
    assert bridge.planner.plan(q, yaw_15deg).status is Outcome.DONE
    assert_set(bridge, 'max_step_rotation', 0.1)
    assert bridge.limits.max_step_rotation == 0.1
    assert bridge.planner.plan(q, yaw_15deg).status is Outcome.REJECTED


def check_bridge_command_timeout(bridge):
    bridge.watchdog.feed(100.0)
    assert_set(bridge, 'command_timeout', 0.3)
    assert bridge.watchdog.timeout == 0.3
    assert bridge.watchdog.last == 100.0  # the last word of the VLA node is kept
    assert not bridge.watchdog.expired(100.25) and bridge.watchdog.expired(100.35)
    # a set that would switch the watchdog off is refused
    assert_refused(bridge, 'command_timeout', 0.0, 'command_timeout must be > 0.0')
    assert_refused(bridge, 'command_timeout', -1.0)


def check_bridge_joint_state_timeout(bridge):
    arm_at_home(bridge)
    assert_set(bridge, 'joint_state_timeout', 1e-6)
    time.sleep(0.01)
    send(bridge, delta(gripper=1.0))
    assert bridge.active is None and bridge.counts == {Outcome.REFUSED: 1}
    assert_set(bridge, 'joint_state_timeout', 5.0)
    send(bridge, delta(gripper=1.0), decision=2)
    assert bridge.active is not None  # accepted: the gripper opens


def check_bridge_settle_time(bridge):
    q = arm_at_home(bridge)
    d = delta(z=0.05)
    duration = bridge.planner.plan(q, d).duration
    assert_set(bridge, 'settle_time', 2.0)
    before = bridge.now()
    send(bridge, d)
    assert bridge.active is not None
    assert bridge.active.until - before == pytest.approx(duration + 2.0, abs=0.05)


def check_bridge_joint_jump_slack(bridge):
    arm_at_home(bridge)   # builds the joint-state trust of the configured arm
    assert_set(bridge, 'joint_jump_slack', 3.0)
    assert bridge.joint_trust.slack == 3.0
    assert_refused(bridge, 'joint_jump_slack', 0.5)


def check_bridge_joint_trust_after(bridge):
    arm_at_home(bridge)
    assert_set(bridge, 'joint_trust_after', 2.5)
    assert bridge.joint_trust.settle == 2.5


BRIDGE_CASES = {
    'mode': ('servo', None, 'trajectory'),
    'enable_actuation': (True, None, 'yes'),
    'arm_config': ('/tmp/other_arm.yaml', None, 5),
    'max_step_translation': (0.05, check_bridge_max_step_translation, 0.0),
    'max_step_rotation': (0.1, check_bridge_max_step_rotation, -1.0),
    'command_timeout': (0.3, check_bridge_command_timeout, 0.0),
    'vla_node': ('/other/vla', None, 3),
    'listener_node': ('/other/instruction_listener', None, 3),
    'joint_jump_slack': (3.0, check_bridge_joint_jump_slack, 0.9),
    'joint_trust_after': (2.5, check_bridge_joint_trust_after, 0.0),
    'joint_state_timeout': (1e-6, check_bridge_joint_state_timeout, 0.0),
    'settle_time': (2.0, check_bridge_settle_time, -0.1),
    'servo_rate': (10.0, None, 0.0),
    'base_frame': ('tool0', None, 3),
    'urdf': ('/tmp/arm.urdf', None, 3),
    'robot_description': ('<robot name="x"/>', None, 3),
    'tool_frame': ('tool0', None, 3),
    'joint_limits': ('/tmp/joint_limits.yaml', None, 3),
    'description_timeout': (1.0, None, -1.0),
    'autostart': (False, None, 'yes'),
}


def test_every_bridge_parameter_has_a_case():
    assert_cases_cover('arm_bridge', BRIDGE_CASES)


def test_actuation_and_stop_words_are_never_set_while_running():
    # safety switches: turning actuation on, or the stop words off, needs a restart
    assert not parameter('arm_bridge', 'enable_actuation').dynamic
    assert not parameter('instruction_listener', 'stop_words').dynamic


@pytest.mark.parametrize('name', sorted(BRIDGE_CASES))
def test_a_bridge_parameter_set_takes_effect_or_is_refused(bridge, name):
    check_case(bridge, BRIDGE_CASES, name)


# ---- the other nodes' dynamic parameters ------------------------------------------------------
def test_instruction_listener_limits_follow_a_set(start_node):
    from contrastive_vla.ros.nodes.instruction import InstructionListener

    node = start_node(InstructionListener)
    assert_refused(node, 'max_length', 0)
    assert_refused(node, 'stop_words', ['stop'], 'read-only')
    assert_set(node, 'max_length', 10)
    node.on_instruction(String(data=INSTRUCTION))  # 19 characters: too long now
    assert node.rejected == 1 and node.active is None
    node.on_instruction(String(data='stop'))
    assert_set(node, 'stop_released_by_new_instruction', False)
    node.on_instruction(String(data='go left'))
    assert node.raised_stop and node.active == 'go left'  # the stop stays raised


def test_camera_rate_set_recreates_the_timer(start_node, tmp_path):
    from contrastive_vla.ros.nodes.camera import CameraNode

    node = start_node(CameraNode, '-p', f'source:={tmp_path}')
    assert node.timer.timer_period_ns == int(1e9 / 30.0)
    assert_refused(node, 'rate', 0.0)
    assert_set(node, 'rate', 5.0)
    assert node.timer.timer_period_ns == int(1e9 / 5.0)
    assert_set(node, 'reconnect_period', 3.0)
    node._open()  # tmp_path has no images: lost, next attempt in 3 s
    assert node.next_attempt - time.monotonic() == pytest.approx(3.0, abs=0.5)
    assert_refused(node, 'width', 100, 'read-only')


def test_simulator_real_time_factor_set_recreates_the_step_timer(start_node):
    pytest.importorskip('mujoco')
    from contrastive_vla.ros.nodes.simulator import SimulatorNode

    node = start_node(SimulatorNode)
    tick = node.env.tick
    assert node.step_timer.timer_period_ns == pytest.approx(tick * 1e9, abs=1)
    assert_refused(node, 'real_time_factor', 0.0)
    assert_set(node, 'real_time_factor', 2.0)
    assert node.step_timer.timer_period_ns == pytest.approx(tick / 2.0 * 1e9, abs=1)
    assert_refused(node, 'camera_rate', 10.0, 'read-only')

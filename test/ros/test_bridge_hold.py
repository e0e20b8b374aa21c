"""The arm bridge's hold and e-stop across its life, in process: a hold without a fresh,
trusted joint state is an empty trajectory (the controller holds where it measures the arm,
instead of being sent back to a stale position), and an outside e-stop survives a
cleanup/configure cycle (a latched release relay heard by the new configuration cannot lift
it)."""

import pytest

from contrastive_vla.sim.scene import load_sim_config

rclpy = pytest.importorskip('rclpy')

from sensor_msgs.msg import JointState  # noqa: E402
from std_msgs.msg import Bool  # noqa: E402

from contrastive_vla.ros import messages  # noqa: E402

pytestmark = pytest.mark.ros

ROBOT = load_sim_config()['robot']


def bridge_sending(start_node):
    from contrastive_vla.ros.nodes.arm_bridge import ArmBridge

    bridge = start_node(ArmBridge, '-p', 'autostart:=true', '-p', 'enable_actuation:=true',
                        '-p', 'command_timeout:=60.0')
    sent = []
    bridge.send = lambda msg, kind, summary: sent.append((kind, msg))
    return bridge, sent


def feed_home(bridge):
    names = ROBOT['joint_names'] + ROBOT['gripper_joint_names']
    bridge.on_joint_states(JointState(name=names,
                                      position=list(ROBOT['home_joints']) + [0.04, 0.04]))


def test_a_hold_without_a_fresh_joint_state_is_an_empty_trajectory(start_node):
    bridge, sent = bridge_sending(start_node)
    feed_home(bridge)
    bridge.on_delta(messages.delta_command([0, 0.05, 0, 0, 0, 0, 0, 0], decision=1))
    assert bridge.active is not None and sent[-1][0] == 'trajectory'
    bridge.halt('test: fresh state')
    kind, hold = sent[-1]
    assert kind == 'hold' and len(hold.points) == 1
    assert list(hold.points[0].positions) == pytest.approx(ROBOT['home_joints'])
    # the joint states stop coming mid-motion: the hold must not send the arm back
    bridge.on_delta(messages.delta_command([0, 0.05, 0, 0, 0, 0, 0, 0], decision=2))
    assert bridge.active is not None
    bridge.q_time -= 10.0
    bridge.halt('test: stale state')
    kind, hold = sent[-1]
    assert kind == 'hold' and len(hold.points) == 0
    assert list(hold.joint_names) == ROBOT['joint_names']


def test_an_outside_estop_survives_cleanup_and_configure(start_node):
    bridge, _sent = bridge_sending(start_node)
    bridge.estop_input._on_direct(Bool(data=True))  # heard on estop, not by the listener
    assert bridge.holders.holds('outside')
    for transition in ('deactivate', 'cleanup', 'configure', 'activate'):
        getattr(bridge, f'trigger_{transition}')()
    # the listener's latched relay (an older release) reaches the new configuration
    bridge.estop_input._on_relayed(Bool(data=False), None)
    assert bridge.holders.holds('outside'), bridge.holders.reasons
    bridge.estop_input._on_direct(Bool(data=False))  # released from outside
    assert not bridge.holders.holds('outside')

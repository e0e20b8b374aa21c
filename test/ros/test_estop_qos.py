"""The e-stop and the latched topics with publishers of the ROS default QoS (reliable, volatile,
keep last 10: what ``ros2 topic pub`` uses), on real node processes: a hand-typed e-stop halts
a moving arm, a bridge started after it does not move, a VLA node started late learns the
instruction and the e-stop, and the running nodes report the QoS of ``ros.qos.ENDPOINTS``."""

import json
import time

import numpy as np
import pytest
import yaml

from contrastive_vla.core.topics import load_topics
from contrastive_vla.ros import messages, qos
from contrastive_vla.sim.scene import load_sim_config

pytestmark = pytest.mark.ros


def json_of(msg):
    return json.loads(msg.data)


def hand_typed_estop(probe, graph, raised):
    """What ``ros2 topic pub --once --keep-alive 10 /estop std_msgs/msg/Bool "{data: ...}"``
    does: a new default-QoS publisher that waits for one matching subscription and publishes
    once (volatile: nothing is kept for a node that comes later). It stays up for the rest of
    the test, as ``--keep-alive`` would: a node whose discovery of the new publisher lags
    gets the message on the publisher's next heartbeat, which plain ``--once`` (0.1 s) may not
    wait for on a loaded machine."""
    from rclpy.qos import QoSPresetProfiles
    from std_msgs.msg import Bool

    pub = probe.node.create_publisher(Bool, 'estop', QoSPresetProfiles.get_from_short_key(
        'default'))
    probe.wait_for(lambda: pub.get_subscription_count() >= 1, 60, graph,
                   'a subscription matching a default-QoS estop publisher')
    pub.publish(Bool(data=raised))


def slow_arm(tmp_path):
    """The arm at 2 cm/s: a 10 cm primitive is a 5 s motion, long enough to stop halfway."""
    slow = load_sim_config()
    slow['control'].update(max_linear_speed=0.02, max_angular_speed=0.1)
    path = tmp_path / 'slow_arm.yaml'
    path.write_text(yaml.safe_dump(slow))
    return str(path)


def record_arm(probe):
    from sensor_msgs.msg import JointState
    from std_msgs.msg import String

    probe.record('primitive_status', String, qos.command(), json_of)
    probe.record('joint_states', JointState, qos.sensor(), lambda m: np.array(m.velocity[:6]))


def bridge_diagnostics(probe):
    from diagnostic_msgs.msg import DiagnosticArray

    probe.record('/diagnostics', DiagnosticArray, 10,
                 lambda m: {s.name: s.message for s in m.status})
    return lambda: [d['contrastive_vla: arm_bridge'] for d in probe.messages('/diagnostics')
                    if 'contrastive_vla: arm_bridge' in d]


def speed(probe, since):
    return max((float(np.max(np.abs(v))) for t, v in probe.stamped('joint_states')
                if t > since), default=None)


def left(metres):
    delta = np.zeros(8)
    delta[1] = metres
    return delta


def start_bridge(graph, tmp_path):
    # no VLA node here: a long command_timeout keeps the watchdog out of the way
    graph.start('arm_bridge', params={'enable_actuation': 'true', 'use_sim_time': 'true',
                                      'arm_config': slow_arm(tmp_path), 'command_timeout': 60.0,
                                      'autostart': 'true'})


def test_a_default_qos_estop_halts_the_moving_arm(ros_graph, tmp_path):
    from std_msgs.msg import Float64MultiArray

    graph, probe = ros_graph
    graph.start('simulator', params={'task': 'reach_block', 'seed': 3})
    start_bridge(graph, tmp_path)   # no instruction listener: the bridge hears estop itself
    record_arm(probe)
    command = probe.publisher('primitive_delta', Float64MultiArray, qos.command())
    probe.wait_for(lambda: command.get_subscription_count() >= 1
                   and probe.messages('joint_states'), 90, graph, 'the bridge and the arm')
    time.sleep(0.5)
    command.publish(messages.delta_command(left(0.1), decision=1))
    time.sleep(1.0)
    assert speed(probe, time.monotonic() - 0.3) > 0.01, 'the arm should be moving'
    hand_typed_estop(probe, graph, True)
    raised = time.monotonic()
    probe.wait_for(lambda: any(m['status'] == 'halted' for m in
                               probe.messages('primitive_status')), 5, graph, 'a halt')
    halted_at, halt = next((t, m) for t, m in probe.stamped('primitive_status')
                           if m['status'] == 'halted')
    assert halt['decision'] == 1 and 'e-stop' in halt['message']
    # within one control tick of hearing it; a lagging discovery adds up to a DDS heartbeat
    assert halted_at - raised < 3.5, f'halted {halted_at - raised:.2f} s after the e-stop'
    time.sleep(1.0)
    assert speed(probe, time.monotonic() - 0.4) < 0.02, 'the arm kept moving after the e-stop'
    command.publish(messages.delta_command(left(0.05), decision=2))
    probe.wait_for(lambda: any(m['decision'] == 2 for m in probe.messages('primitive_status')),
                   5, graph, 'the outcome of a command under the e-stop')
    refused = next(m for m in probe.messages('primitive_status') if m['decision'] == 2)
    assert refused['status'] == 'refused' and 'e-stop' in refused['message']
    hand_typed_estop(probe, graph, False)   # released the same way
    time.sleep(0.5)
    command.publish(messages.delta_command(left(0.01), decision=3))
    probe.wait_for(lambda: any(m['decision'] == 3 for m in probe.messages('primitive_status')),
                   10, graph, 'the outcome of a command after the release')
    done = next(m for m in probe.messages('primitive_status') if m['decision'] == 3)
    assert 'e-stop' not in done['message'], done


def test_a_bridge_started_after_a_hand_typed_estop_does_not_move(ros_graph, tmp_path):
    from std_msgs.msg import Bool, Float64MultiArray

    graph, probe = ros_graph
    graph.start('simulator', params={'task': 'reach_block', 'seed': 3})
    graph.start('instruction', name='instruction_listener', params={'use_sim_time': 'true'})
    record_arm(probe)
    bridge_says = bridge_diagnostics(probe)
    relayed = probe.record('estop_state', Bool, qos.latched(), lambda m: m.data)
    hand_typed_estop(probe, graph, True)    # only the listener listens now
    probe.wait_for(lambda: relayed and relayed[-1][1] is True, 10, graph,
                   'the listener relaying the e-stop on estop_state')
    start_bridge(graph, tmp_path)
    command = probe.publisher('primitive_delta', Float64MultiArray, qos.command())
    probe.wait_for(lambda: 'e-stop' in bridge_says(), 90, graph,
                   'the late bridge reporting the e-stop it never heard itself')
    probe.wait_for(lambda: command.get_subscription_count() >= 1, 30, graph, 'the bridge')
    time.sleep(0.3)
    sent = time.monotonic()
    command.publish(messages.delta_command(left(0.1), decision=1))
    probe.wait_for(lambda: probe.messages('primitive_status'), 5, graph, 'an outcome')
    refused = probe.messages('primitive_status')[0]
    assert refused['status'] == 'refused' and 'e-stop' in refused['message'], refused
    time.sleep(1.0)
    assert speed(probe, sent) < 0.02, 'the arm moved under the e-stop'
    # a hand-typed release reaches it too (directly, and through the listener)
    hand_typed_estop(probe, graph, False)
    probe.wait_for(lambda: bridge_says()[-1:] == ['idle'], 10, graph, 'the bridge released')
    command.publish(messages.delta_command(left(0.01), decision=2))
    probe.wait_for(lambda: len(probe.messages('primitive_status')) >= 2, 10, graph,
                   'the outcome after the release')
    after = probe.messages('primitive_status')[1]
    assert 'e-stop' not in after['message'], after


def endpoints_reported(probe, nodes):
    """(node, topic key, side) -> (reliability, durability) of the nodes' endpoints on the
    project's topics, as the ROS graph reports them (``ros2 topic info -v``)."""
    reported = {}
    for key, t in load_topics().items():
        name = '/' + t.name.lstrip('/')
        for side, infos in (('pub', probe.node.get_publishers_info_by_topic(name)),
                            ('sub', probe.node.get_subscriptions_info_by_topic(name))):
            for info in infos:
                if info.node_name in nodes:
                    reported.setdefault((info.node_name, key, side), set()).add(
                        (info.qos_profile.reliability, info.qos_profile.durability))
    return reported


def test_a_late_vla_node_learns_the_instruction_and_a_hand_typed_estop(ros_graph, tiny_model):
    from std_msgs.msg import String

    graph, probe = ros_graph
    graph.start('instruction', name='instruction_listener')
    probe.record('active_instruction', String, qos.latched(), lambda m: m.data)
    say = probe.publisher('instruction', String, qos.command())
    probe.wait_for(lambda: say.get_subscription_count() >= 1, 60, graph, 'the listener')
    time.sleep(0.3)
    say.publish(String(data='pick up the red block'))
    probe.wait_for(lambda: probe.messages('active_instruction') == ['pick up the red block'],
                   10, graph, 'the active instruction')
    hand_typed_estop(probe, graph, True)
    time.sleep(0.5)
    graph.start('vla', params={'model': tiny_model, 'threads': 1, 'status_period': 0.2})
    graph.start('arm_bridge', params={'enable_actuation': 'false', 'autostart': 'true'})
    probe.record('vla_status', String, 10, json_of)
    probe.wait_for(lambda: probe.messages('vla_status'), 90, graph, 'the VLA heartbeat')
    probe.wait_for(lambda: probe.messages('vla_status')[-1]['instruction'] ==
                   'pick up the red block' and probe.messages('vla_status')[-1]['stopped'],
                   10, graph, 'the late VLA node knowing the instruction and the e-stop')
    # a new instruction does not release a stop raised from outside; a False on estop does
    say.publish(String(data='touch the blue block'))
    probe.wait_for(lambda: probe.messages('vla_status')[-1]['instruction'] ==
                   'touch the blue block', 10, graph, 'the new instruction')
    time.sleep(0.5)
    assert probe.messages('vla_status')[-1]['stopped'], 'an instruction lifted a hand-typed stop'
    hand_typed_estop(probe, graph, False)
    probe.wait_for(lambda: not probe.messages('vla_status')[-1]['stopped'], 10, graph,
                   'the release')

    # what the running nodes report is what ros.qos.ENDPOINTS (and the README) says
    nodes = {'instruction_listener', 'vla', 'arm_bridge'}
    expected = {}
    for e in qos.ENDPOINTS:
        if e.node in nodes and e.when in ('', 'reliable_images: false'):
            p = qos.PROFILES[e.profile]
            expected.setdefault((e.node, e.topic, e.side), set()).add(
                (p.reliability, p.durability))
    deadline = time.monotonic() + 10     # discovery of the last endpoints may lag
    while endpoints_reported(probe, nodes) != expected and time.monotonic() < deadline:
        time.sleep(0.2)
    assert endpoints_reported(probe, nodes) == expected

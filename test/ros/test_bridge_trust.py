"""The arm bridge under plausible stray input and faults (issue 17), on real node processes:

- S2: an e-stop raised on ``estop`` holds after the instruction listener's own "stop" was
  released by a new task sentence (the stop is a set of independent holders);
- S6: a second publisher on ``vla_status`` cannot keep a dead VLA node alive: the bridge halts
  within ``command_timeout`` of the kill;
- S1: a second publisher of the arm's joint states halts the moving arm and makes the bridge
  refuse to plan until it is gone (warned once, named in /diagnostics); a joint state that
  jumps beyond the joint velocity limits is rejected;
- stuck: the VLA node's own ``vla_status`` saying ``stuck`` makes the bridge hold the arm
  (holder ``stuck``, halting a motion in progress) until its status no longer does; another
  publisher's cannot.
"""

import json
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from test_estop_qos import hand_typed_estop, json_of, left, slow_arm

from contrastive_vla.ros import messages, qos
from contrastive_vla.sim.scene import load_sim_config

pytestmark = pytest.mark.ros

ARM = load_sim_config()['robot']['joint_names']
HOME = load_sim_config()['robot']['home_joints']


def bridge_reports(probe):
    """The bridge's /diagnostics, as (message, values) pairs, newest last."""
    from diagnostic_msgs.msg import DiagnosticArray

    probe.record('/diagnostics', DiagnosticArray, 10, lambda m: [
        (s.message, {kv.key: kv.value for kv in s.values}) for s in m.status
        if s.name == 'contrastive_vla: arm_bridge'])
    return lambda: [r for rs in probe.messages('/diagnostics') for r in rs]


def outcomes(probe, decision):
    return [m for m in probe.messages('primitive_status') if m['decision'] == decision]


def dry_run_bridge(graph, probe):
    """Start a dry-run bridge (autostart, a watchdog that never fires); returns (its
    /diagnostics reports, a primitive_delta publisher), primitive_status recorded."""
    from std_msgs.msg import Float64MultiArray, String

    graph.start('arm_bridge', params={'enable_actuation': 'false', 'autostart': 'true',
                                      'command_timeout': 60.0})
    probe.record('primitive_status', String, qos.command(), json_of)
    return (bridge_reports(probe),
            probe.publisher('primitive_delta', Float64MultiArray, qos.command()))


def sim_arm_bridge(graph, probe, tmp_path, **params):
    """The simulator as the arm and a bridge actuating it slowly (a 10 cm primitive takes
    5 s); returns (the bridge's /diagnostics reports, a primitive_delta publisher), primitive
    outcomes and joint states recorded."""
    from sensor_msgs.msg import JointState
    from std_msgs.msg import Float64MultiArray, String

    graph.start('simulator', params={'task': 'reach_block', 'seed': 3})
    graph.start('arm_bridge', params={'enable_actuation': 'true', 'use_sim_time': 'true',
                                      'autostart': 'true', 'arm_config': slow_arm(tmp_path),
                                      'command_timeout': 60.0, **params})
    probe.record('primitive_status', String, qos.command(), json_of)
    probe.record('joint_states', JointState, qos.sensor(), lambda m: m)
    return (bridge_reports(probe),
            probe.publisher('primitive_delta', Float64MultiArray, qos.command()))


def start_a_slow_motion(probe, graph, command, publisher):
    """Once the bridge hears ``command`` and ``publisher`` and the arm is up: decision 1, 10 cm
    to the left (5 s on the slow arm), still running a second later."""
    probe.wait_for(lambda: command.get_subscription_count() >= 1
                   and publisher.get_subscription_count() >= 1
                   and probe.messages('joint_states'), 90, graph, 'the bridge and the arm')
    time.sleep(0.5)
    command.publish(messages.delta_command(left(0.1), decision=1))
    time.sleep(1.0)
    assert not outcomes(probe, 1), 'a 5 s motion should still be running'


def command_and_wait(probe, graph, command, delta, decision, timeout=10):
    command.publish(messages.delta_command(delta, decision=decision))
    probe.wait_for(lambda: outcomes(probe, decision), timeout, graph,
                   f'the outcome of decision {decision}')
    return outcomes(probe, decision)[0]


# ---- S2: the listener's release does not lift an outside e-stop ------------------------------
def test_an_outside_estop_holds_after_the_listener_releases_its_own_stop(ros_graph):
    from std_msgs.msg import String

    graph, probe = ros_graph
    graph.start('instruction', name='instruction_listener')
    reports, command = dry_run_bridge(graph, probe)
    probe.record('active_instruction', String, qos.latched(), lambda m: m.data)
    say = probe.publisher('instruction', String, qos.command())
    probe.wait_for(lambda: say.get_subscription_count() >= 1
                   and command.get_subscription_count() >= 1, 60, graph, 'the two nodes')
    hand_typed_estop(probe, graph, True)
    probe.wait_for(lambda: reports() and reports()[-1][0] == 'e-stop', 10, graph,
                   'the bridge reporting the e-stop')
    say.publish(String(data='stop'))
    time.sleep(1.0)
    held = reports()[-1][1].get('held_by')
    say.publish(String(data='pick up the red block'))   # releases the listener's own stop
    probe.wait_for(lambda: probe.messages('active_instruction') == ['pick up the red block'],
                   10, graph, 'the new task')
    time.sleep(1.0)  # whatever the listener published is in by now
    refused = command_and_wait(probe, graph, command, left(0.05), 1)
    assert refused['status'] == 'refused' and 'e-stop' in refused['message'], refused
    assert 'outside' in refused['message'] and 'listener' not in refused['message'], refused
    assert held == 'outside, listener'
    message, values = reports()[-1]
    assert message == 'e-stop' and values['held_by'] == 'outside'
    assert values['held_outside'] == 'the e-stop is raised on estop'
    # released from outside, the same way it was raised
    hand_typed_estop(probe, graph, False)
    probe.wait_for(lambda: reports()[-1][1].get('held_by') == 'none', 10, graph,
                   'the release')
    after = command_and_wait(probe, graph, command, left(0.05), 2)
    assert 'e-stop' not in after['message'] and 'joint_states' in after['message'], after


# ---- S6: only the VLA node's own messages feed the watchdog ----------------------------------
FAKE_VLA = textwrap.dedent('''
    """A stand-in for the VLA node (same node name, 'vla'): heartbeats on vla_status at 10 Hz
    and, once the bridge listens, one primitive: 10 cm to the left."""
    import json
    import rclpy
    from std_msgs.msg import Float64MultiArray, String
    from contrastive_vla.ros import messages
    rclpy.init()
    node = rclpy.create_node('vla')
    status = node.create_publisher(String, 'vla_status', 10)
    delta = node.create_publisher(Float64MultiArray, 'primitive_delta', 10)
    sent = False
    def beat():
        global sent
        status.publish(String(data=json.dumps({'state': 'deciding'})))
        if not sent and delta.get_subscription_count() >= 2:  # the bridge and the test
            delta.publish(messages.delta_command([0, 0.1, 0, 0, 0, 0, 0, 0], decision=7))
            sent = True
    node.create_timer(0.1, beat)
    rclpy.spin(node)
''')


def test_another_vla_status_publisher_does_not_keep_a_dead_vla_node_alive(ros_graph,
                                                                          tmp_path):
    from sensor_msgs.msg import JointState
    from std_msgs.msg import Float64MultiArray, String

    graph, probe = ros_graph
    graph.start('simulator', params={'task': 'reach_block', 'seed': 3})
    graph.start('arm_bridge', params={'enable_actuation': 'true', 'use_sim_time': 'true',
                                      'autostart': 'true', 'arm_config': slow_arm(tmp_path),
                                      'command_timeout': 0.5})
    probe.record('primitive_status', String, qos.command(), json_of)
    probe.record('joint_states', JointState, qos.sensor(), lambda m: np.array(m.velocity[:6]))
    reports = bridge_reports(probe)
    impostor = probe.publisher('vla_status', String, 10)
    probe.wait_for(lambda: impostor.get_subscription_count() >= 1
                   and probe.messages('joint_states'), 90, graph, 'the bridge and the arm')
    beating = [True]

    def beat():     # a second publisher on vla_status, 10 Hz, all along
        if beating[0]:
            impostor.publish(String(data='{"state": "deciding"}'))

    probe.node.create_timer(0.1, beat)
    # the stand-in VLA node, in its own process
    script = tmp_path / 'fake_vla.py'
    script.write_text(FAKE_VLA)
    log = open(tmp_path / 'vla.log', 'w')
    graph.logs['vla'] = log
    graph.procs['vla'] = subprocess.Popen([sys.executable, str(script)], stdout=log,
                                          stderr=subprocess.STDOUT, start_new_session=True)
    # The graph can learn a new node's name after its first messages: until the bridge knows
    # that /vla sends those heartbeats they are ignored, as a real VLA node's are while it
    # loads its model. Once the bridge has heard /vla, the test subscribes to primitive_delta,
    # and that second subscriber is the stand-in's cue to send its primitive.
    probe.wait_for(lambda: any(v.get('vla_heard', 'never') != 'never' for _, v in reports()),
                   60, graph, 'the bridge hearing /vla')
    probe.record('primitive_delta', Float64MultiArray, qos.command())
    probe.wait_for(lambda: probe.messages('primitive_delta'), 60, graph, 'the VLA primitive')
    time.sleep(1.0)
    assert not outcomes(probe, 7), f'a 5 s motion should still be running: {outcomes(probe, 7)}'
    moving = [float(np.max(np.abs(v))) for t, v in probe.stamped('joint_states')][-5:]
    assert max(moving) > 0.01, 'the arm should be moving'
    graph.kill('vla', signal.SIGKILL)
    killed = time.monotonic()
    probe.wait_for(lambda: outcomes(probe, 7), 5, None, 'the outcome of the motion')
    halted_at, halt = next((t, m) for t, m in probe.stamped('primitive_status')
                           if m['decision'] == 7)
    assert halt['status'] == 'halted' and 'no word from the VLA node' in halt['message'], halt
    assert halted_at - killed < 0.5 + 0.4, f'halted {halted_at - killed:.2f} s after the kill'
    time.sleep(1.0)
    speeds = [float(np.max(np.abs(v))) for t, v in probe.stamped('joint_states')][-5:]
    assert max(speeds) < 0.02, 'the arm kept moving after the halt'
    values = reports()[-1][1]
    assert values['vla_node'] == '/vla' and '/test_probe' in values['vla_status_ignored_from']
    beating[0] = False
    assert graph.log('arm_bridge').count('vla_status from /test_probe ignored') == 1


# ---- S1: joint states from a second publisher, jumps -----------------------------------------
def test_a_second_joint_states_publisher_halts_the_arm_until_it_is_gone(ros_graph, tmp_path):
    from sensor_msgs.msg import JointState

    from contrastive_vla.ros.runtime import SpunNode

    graph, probe = ros_graph
    reports, command = sim_arm_bridge(graph, probe, tmp_path, joint_trust_after=1.0)
    # a joint_state_publisher left running: its own node, plausible positions near the arm's
    other = SpunNode('joint_state_publisher')
    try:
        fake = other.node.create_publisher(JointState, 'joint_states', 10)
        other.start()
        start_a_slow_motion(probe, graph, command, fake)
        real = probe.messages('joint_states')[-1]
        now = dict(zip(real.name, real.position))
        plausible = [now[name] + 0.05 for name in ARM]
        sent_at = time.monotonic()
        while time.monotonic() - sent_at < 1.5:      # 50 Hz for 1.5 s
            fake.publish(JointState(name=ARM, position=plausible))
            time.sleep(0.02)
        halt = outcomes(probe, 1)
        assert halt and halt[0]['status'] == 'halted', halt
        assert 'two publishers of the arm joints' in halt[0]['message'], halt
        message, values = reports()[-1]
        assert message == 'joint_states untrusted', reports()[-1]
        assert '/joint_state_publisher' in values['held_joint_states'], values
        assert '/simulator' in values['held_joint_states'], values
        refused = command_and_wait(probe, graph, command, left(0.02), 2)
        assert refused['status'] == 'refused' and 'joint_states' in refused['message']
        # warned once, not per message
        assert graph.log('arm_bridge').count('not planning') == 1, graph.log('arm_bridge')
    finally:
        other.close()
    # the second publisher gone: after joint_trust_after s the bridge plans again
    probe.wait_for(lambda: reports()[-1][0] == 'idle', 10, graph, 'the bridge trusting again')
    done = command_and_wait(probe, graph, command, left(0.01), 3)
    assert done['status'] != 'refused', done


def test_a_joint_state_jump_beyond_the_velocity_limits_is_rejected(ros_graph):
    from sensor_msgs.msg import JointState

    graph, probe = ros_graph
    reports, command = dry_run_bridge(graph, probe)
    driver = probe.publisher('joint_states', JointState, 10)   # the only arm driver
    probe.wait_for(lambda: driver.get_subscription_count() >= 1
                   and command.get_subscription_count() >= 1, 60, graph, 'the bridge')

    def publish(q, seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            driver.publish(JointState(name=ARM, position=list(q)))
            time.sleep(0.02)

    publish(HOME, 1.0)
    assert command_and_wait(probe, graph, command, left(0.02), 1)['status'] != 'refused'
    jumped = list(HOME)
    jumped[0] += 1.5        # 1.5 rad in 20 ms: 75 rad/s, the limit is 3.14
    driver.publish(JointState(name=ARM, position=jumped))
    time.sleep(0.02)
    driver.publish(JointState(name=ARM, position=list(HOME)))   # and back: another jump
    time.sleep(0.3)
    refused = command_and_wait(probe, graph, command, left(0.02), 2)
    assert refused['status'] == 'refused' and 'jumped' in refused['message'], refused
    probe.wait_for(lambda: reports()[-1][0] == 'joint_states untrusted', 5, graph,
                   'the jump reported')
    assert 'jumped' in reports()[-1][1]['held_joint_states']
    assert int(reports()[-1][1]['joint_state_jumps']) >= 1
    publish(HOME, 0.5)      # consistent again: a few messages without a jump
    probe.wait_for(lambda: reports()[-1][1]['held_by'] == 'none', 5, graph, 'trusted again')
    publish(HOME, 0.2)      # fresh (joint_state_timeout)
    done = command_and_wait(probe, graph, command, left(0.02), 3)
    assert done['status'] != 'refused', done


# ---- stuck: the VLA node's own status raises the holder 'stuck' ------------------------------
def test_the_vla_nodes_stuck_status_holds_the_arm_and_nobody_elses_does(ros_graph):
    from std_msgs.msg import String

    from contrastive_vla.ros.runtime import SpunNode

    graph, probe = ros_graph
    reports, command = dry_run_bridge(graph, probe)
    other = probe.publisher('vla_status', String, 10)          # not the VLA node
    stuck = json.dumps({'state': 'stuck', 'stuck': 'cycling: up_10cm/down_10cm repeated 4 '
                        'times'})
    vla = SpunNode('vla')                                       # the stand-in VLA node
    try:
        status = vla.node.create_publisher(String, 'vla_status', 10)
        vla.start()
        probe.wait_for(lambda: status.get_subscription_count() >= 1
                       and other.get_subscription_count() >= 1
                       and command.get_subscription_count() >= 1, 60, graph, 'the bridge')
        time.sleep(0.5)  # the bridge knows both publishers of vla_status

        def held_by(sender, data):
            """The bridge's first report (1 Hz) after it had ``data`` from ``sender``."""
            sender.publish(String(data=data))
            time.sleep(0.2)
            seen = len(reports())
            probe.wait_for(lambda: len(reports()) > seen, 5, graph, 'a bridge report')
            return reports()[-1][1]

        # another publisher says 'stuck': nothing is held, a primitive is not refused for it
        assert held_by(other, stuck)['held_by'] == 'none'
        free = command_and_wait(probe, graph, command, left(0.02), 1)
        assert 'stuck' not in free['message'], free
        # the VLA node says it: held, the primitive refused naming the holder and the reason
        values = held_by(status, stuck)
        assert values['held_by'] == 'stuck', values
        assert values['held_stuck'] == ('the VLA node is stuck: cycling: up_10cm/down_10cm '
                                        'repeated 4 times'), values
        refused = command_and_wait(probe, graph, command, left(0.02), 2)
        assert refused['status'] == 'refused' and 'held by stuck' in refused['message'], refused
        # another publisher's non-stuck status does not release it; nor does garbage from it
        assert held_by(other, json.dumps({'state': 'ready'}))['held_by'] == 'stuck'
        assert held_by(status, '[' * 5000)['held_by'] == 'stuck'
        # a stop said to the stuck node: its state says 'stopped', its reason still 'stuck'
        assert held_by(status, json.dumps({'state': 'stopped', 'stopped': True,
                                           'stuck': 'cycling'}))['held_by'] == 'stuck'
        # the VLA node's own status no longer stuck (a new instruction): released
        assert held_by(status, json.dumps({'state': 'new instruction',
                                           'stuck': None}))['held_by'] == 'none'
        free = command_and_wait(probe, graph, command, left(0.02), 3)
        assert 'stuck' not in free['message'], free
    finally:
        vla.close()
    assert graph.log('arm_bridge').count('the VLA node is stuck') == 1


def test_the_vla_node_getting_stuck_halts_a_motion_in_progress(ros_graph, tmp_path):
    from std_msgs.msg import String

    from contrastive_vla.ros.runtime import SpunNode

    graph, probe = ros_graph
    _reports, command = sim_arm_bridge(graph, probe, tmp_path)
    vla = SpunNode('vla')
    try:
        status = vla.node.create_publisher(String, 'vla_status', 10)
        vla.start()
        start_a_slow_motion(probe, graph, command, status)
        status.publish(String(data=json.dumps({'state': 'stuck', 'stuck': 'cycling: x'})))
        probe.wait_for(lambda: outcomes(probe, 1), 3, graph, 'the halt')
        halt = outcomes(probe, 1)[0]
        assert halt['status'] == 'halted' and 'held by stuck' in halt['message'], halt
    finally:
        vla.close()

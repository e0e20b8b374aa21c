"""The sim graph as a ROS 2 user drives it: ``ros2 launch contrastive_vla sim.launch.py``, then
``ros2 node list``, ``ros2 topic pub / echo``, ``ros2 param get / describe / set`` and Ctrl-C.

One launched graph (a tiny untrained model) serves the whole module; the tests run in file
order (the e-stop and Ctrl-C come last). An in-process probe on the graph's domain watches
what the nodes publish.
"""

import json
import re
import subprocess
import time

import pytest

from contrastive_vla.ros import qos
from contrastive_vla.ros.node_parameters import parameter

pytestmark = pytest.mark.ros

NODES = ('/simulator', '/instruction_listener', '/vla', '/arm_bridge')
EXECUTABLES = ('simulator_node', 'instruction_node', 'vla_node', 'arm_bridge_node')
INSTRUCTION = 'touch the red block'
# `ros2 topic pub --once` ends 0.1 s after publishing; a subscriber that has not yet discovered
# the new publisher by then never gets the message (seen here under load: a lost instruction).
# Staying up a moment longer lets the reliable transport deliver it.
PUB = ('topic', 'pub', '--once', '--keep-alive', '2')
# the bridge's control tick is 1 / servo_rate; a command already on its way when the e-stop
# lands may still arrive this much later on a loaded two-core machine
TRANSPORT_SLACK_S = 0.3


def _json(msg):
    return json.loads(msg.data)


def _diagnostics(msg):
    return {status.name: status.message for status in msg.status}


@pytest.fixture(scope='module')
def sim(ros2_cli, tiny_model):
    from diagnostic_msgs.msg import DiagnosticArray
    from std_msgs.msg import String
    from trajectory_msgs.msg import JointTrajectory

    with ros2_cli.session('ros2_sim') as ros2:
        probe = ros2.probe
        probe.record('primitive_topk', String, 10, _json)
        probe.record('primitive_status', String, qos.command(), _json)
        probe.record('vla_status', String, 10, _json)
        probe.record('joint_trajectory', JointTrajectory, qos.command(), lambda m: len(m.points))
        probe.record('/diagnostics', DiagnosticArray, 10, _diagnostics)
        with ros2.launch('sim.launch.py', f'model:={tiny_model}') as launch:
            ros2.wait_for(lambda: probe.messages('vla_status'), 120,
                          'vla_status of the launched VLA node')
            ros2.node_list(NODES)  # the CLI's daemon has discovered them: ros2 param works
            ros2.sim_launch = launch
            yield ros2


def _acted(probe, since=0.0):
    return [m for t, m in probe.stamped('primitive_topk') if t > since and m['acted']]


def _statuses(probe, since=0.0):
    return [m for t, m in probe.stamped('primitive_status') if t > since]


def _last(probe, topic, since=0.0):
    found = [m for t, m in probe.stamped(topic) if t > since]
    return found[-1] if found else None


def _bridge_diagnostic(probe, since=0.0):
    found = [d['contrastive_vla: arm_bridge'] for t, d in probe.stamped('/diagnostics')
             if t > since and 'contrastive_vla: arm_bridge' in d]
    return found[-1] if found else None


def _say(ros2, text):
    """What the README's "then talk to it" does."""
    ros2.run(*PUB, '/instruction', 'std_msgs/msg/String', f"data: '{text}'")


def test_ros2_node_list_shows_the_launched_graph(sim):
    listed = sim.node_list(NODES)
    assert set(NODES) <= listed, listed


def test_an_instruction_from_ros2_topic_pub_makes_the_vla_decide(sim):
    probe = sim.probe
    since = time.monotonic()
    sim.run(*PUB, '/instruction', 'std_msgs/msg/String', f"{{data: '{INSTRUCTION}'}}")
    sim.wait_for(lambda: _acted(probe, since) and _statuses(probe, since), 60,
                 'a decision (primitive_topk) and its outcome (primitive_status)')
    decision = _acted(probe, since)[0]
    assert decision['top'] and decision['decision'] >= 1
    assert _statuses(probe, since)[0]['decision'] >= 1
    sim.wait_for(lambda: (_last(probe, 'vla_status', since) or {}).get('instruction')
                 == INSTRUCTION, 10, 'the instruction in vla_status')
    # the same from the command line: a new outcome comes. The instruction is said again
    # once the echo listens (the untrained model may have gone in circles by then, and a stuck
    # VLA node decides nothing more until a new instruction: seen in CI)
    echo = subprocess.Popen(sim.argv('topic', 'echo', '--once', '/primitive_status'),
                            env=sim.env, cwd=sim.tmp, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        time.sleep(3.0)  # the CLI starting and subscribing
        _say(sim, INSTRUCTION)
        echoed, _ = echo.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail(f'ros2 topic echo --once /primitive_status: nothing in 60 s\n'
                    f'{sim.launch_logs()}')
    finally:
        echo.kill()
        echo.wait()
    assert '"decision"' in echoed and '"status"' in echoed, echoed


def test_ros2_param_get_and_describe_show_value_and_declaration(sim, tiny_model):
    got = sim.on_node('param', 'get', '/vla', 'model').stdout
    assert got.strip() == f'String value is: {tiny_model}', got
    described = sim.on_node('param', 'describe', '/arm_bridge', 'max_step_translation').stdout
    declared = parameter('arm_bridge', 'max_step_translation')
    flat = ' '.join(described.split())
    assert 'Type: double' in flat, described
    assert ' '.join(declared.description.split()) in flat, described
    assert f'Additional constraints: {declared.allowed}' in flat, described


def test_stop_said_with_ros2_topic_pub_halts_and_a_new_instruction_resumes(sim):
    """The README's "then talk to it": "stop" raises the e-stop (through the listener), a task
    instruction releases it."""
    probe = sim.probe
    since = time.monotonic()
    _say(sim, 'stop')
    sim.wait_for(lambda: (_last(probe, 'vla_status', since) or {}).get('stopped') is True, 10,
                 'vla_status stopped after "stop"')
    sim.wait_for(lambda: _bridge_diagnostic(probe, since) == 'e-stop', 10,
                 'the arm bridge reporting the e-stop after "stop"')
    resumed = time.monotonic()
    _say(sim, INSTRUCTION)
    sim.wait_for(lambda: _acted(probe, resumed), 30, 'a decision after the stop was released')
    assert (_last(probe, 'vla_status', resumed) or {}).get('stopped') is False


def test_ros2_param_set_min_confidence_is_refused_or_takes_effect(sim):
    """Never "successful and ignored": a refused set leaves the value and the behaviour; an
    accepted one shows in ``ros2 param get`` and in what the VLA node does (the untrained
    model is never 99% sure, so it stops acting)."""
    probe = sim.probe
    assert float(sim.on_node('param', 'get', '/vla', 'min_confidence').stdout.split()[-1]) == 0.0
    result = sim.on_node('param', 'set', '/vla', 'min_confidence', '0.99', check=False)
    said = result.stdout + result.stderr
    value = float(sim.on_node('param', 'get', '/vla', 'min_confidence').stdout.split()[-1])
    # the untrained model may have gone in circles by now, and a stuck VLA node decides nothing
    # more until a new instruction (seen in CI): give it one, as a user would
    since = time.monotonic()
    settled = since + 1.0  # what was decided before the set may still be on its way
    _say(sim, INSTRUCTION)
    if 'Set parameter successful' not in said:
        assert re.search(r'read-only|failed', said, re.IGNORECASE), said
        assert value == 0.0
        sim.wait_for(lambda: _acted(probe, since), 30, 'decisions going on after a refused set')
        return
    try:
        assert value == 0.99
        sim.wait_for(lambda: [m for t, m in probe.stamped('primitive_topk') if t > settled],
                     30, 'primitive_topk after the set took effect')
        time.sleep(2.0)
        after = [m for t, m in probe.stamped('primitive_topk') if t > settled]
        # acting exactly when the best primitive is at least 99% likely: here never
        for topk in after:
            assert topk['acted'] == (topk['top'][0]['probability'] >= 0.99), topk
        assert any(not m['acted'] for m in after), after
    finally:
        sim.on_node('param', 'set', '/vla', 'min_confidence', '0.0', check=False)


def test_estop_with_plain_ros2_topic_pub_halts_the_arm(sim):
    probe = sim.probe
    since = time.monotonic()
    _say(sim, INSTRUCTION)
    sim.wait_for(lambda: _statuses(probe, since), 30, 'the arm executing primitives')
    start = time.monotonic()
    # -w 3: the listener, the VLA node and the bridge (README: a plain --once publishes as soon
    # as one of them matched, and one that has not discovered the CLI yet misses the message)
    result = sim.run(*PUB, '-w', '3', '--max-wait-time-secs', '20', '/estop',
                     'std_msgs/msg/Bool', '{data: true}', check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    sim.wait_for(lambda: _bridge_diagnostic(probe, start) == 'e-stop', 10,
                 'the arm bridge reporting the e-stop')
    time.sleep(1.0)
    # from the bridge's first sign of the e-stop, one control tick (plus transport) later
    # nothing but a hold may reach the arm
    tick = 1.0 / parameter('arm_bridge', 'servo_rate').default
    late = _estop_seen(probe, start) + tick + TRANSPORT_SLACK_S
    moves = [points for t, points in probe.stamped('joint_trajectory') if t > late]
    assert all(points == 1 for points in moves), f'trajectories after the e-stop: {moves}'
    for status in _statuses(probe, late):
        assert status['status'] in ('halted', 'refused'), status
    assert (_last(probe, 'vla_status', late) or {}).get('stopped') is True


def _estop_seen(probe, since):
    """When the probe first saw the bridge act on an e-stop: a hold trajectory (one point), an
    outcome naming the e-stop, or the bridge's diagnostics saying so."""
    seen = [t for t, points in probe.stamped('joint_trajectory') if t > since and points == 1]
    seen += [t for t, m in probe.stamped('primitive_status')
             if t > since and 'e-stop' in (m.get('message') or '')]
    seen += [t for t, d in probe.stamped('/diagnostics')
             if t > since and d.get('contrastive_vla: arm_bridge') == 'e-stop']
    return min(seen)


def test_ctrl_c_stops_every_node_within_10_s(sim):
    stopped = sim.sim_launch.stop(timeout=10)  # SIGINT to the launch's process group
    assert not stopped.leftover, f'still running 10 s after Ctrl-C: {stopped.leftover}'


# Ctrl-C in a terminal signals the whole foreground process group, and launch forwards a
# SIGINT to every node as well: each node gets two
def test_every_node_finishes_cleanly_after_ctrl_c(sim):
    launch = sim.sim_launch
    stopped = launch.stop(timeout=10)  # done by the test before unless run alone
    exits = {re.sub(r'-\d+$', '', name): code for name, code in launch.node_exits().items()}
    assert (exits, stopped.returncode) == ({name: 0 for name in EXECUTABLES}, 0), \
        launch.log()[-6000:]

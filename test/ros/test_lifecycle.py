"""The arm bridge and the VLA node as managed (lifecycle) nodes.

In-process: the real node classes on a private ROS domain, spun here together with a probe
node that talks to them over their topics. The bridge without autostart is configured but
inactive: it refuses primitives (status ``refused``) and sends nothing; activated, a primitive
becomes a trajectory; deactivated mid-motion, it sends the hold it sends on an e-stop. The VLA
node decides only while active, and a bad model fails its configure without killing it.
Multi-process: Ctrl-C on a moving bridge process sends the hold. With ROS 2's own CLI (skipped
without ../shared/ros2-cli): ``ros2 lifecycle get/set`` on ``robot.launch.py``'s bridge, and on
a VLA node whose model does not load.
"""

import os
from pathlib import Path
import signal
import threading
import time

import numpy as np
import pytest

from contrastive_vla.core.status import Outcome
from contrastive_vla.core.topics import topic
from contrastive_vla.ros import messages, qos
from contrastive_vla.ros.runtime import lifecycle_state

rclpy = pytest.importorskip('rclpy')

from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.lifecycle import TransitionCallbackReturn  # noqa: E402
from sensor_msgs.msg import JointState  # noqa: E402
from std_msgs.msg import Float64MultiArray, String  # noqa: E402
from trajectory_msgs.msg import JointTrajectory  # noqa: E402

pytestmark = pytest.mark.ros

# apart from test_param_set's 60..99 and the graph tests' 1..101 spread: 102..114 are valid too
DOMAIN = 102 + os.getpid() % 13
LEFT_20CM = np.array([0.0, 0.2, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0])
# a motion that lasts (0.8 s, then 3 s to settle), and no halt for a silent VLA node meanwhile
SLOW = ('-p', 'settle_time:=3.0', '-p', 'command_timeout:=10.0')
SUCCESS = TransitionCallbackReturn.SUCCESS


class Rig:
    """One node under test and a probe node in one process, spun from the test's thread (so
    the test calls the node's transitions between spins, never concurrently with them)."""

    def __init__(self, cls, *ros_args):
        rclpy.init(args=['test', '--ros-args', *ros_args], domain_id=DOMAIN)
        self.node = None
        self.executor = SingleThreadedExecutor()
        self.probe = rclpy.create_node('lifecycle_probe')
        self.executor.add_node(self.probe)
        self.received = {}
        self.node = cls()
        self.executor.add_node(self.node)

    def record(self, name, msg_type, qos_profile, convert=lambda m: m):
        got = self.received.setdefault(name, [])
        self.probe.create_subscription(msg_type, topic(name).name,
                                       lambda m: got.append(convert(m)), qos_profile)
        return got

    def publisher(self, name, msg_type, qos_profile):
        pub = self.probe.create_publisher(msg_type, topic(name).name, qos_profile)
        self.spin_until(lambda: pub.get_subscription_count() > 0, 10, f'a subscriber on {name}')
        return pub

    def spin(self, seconds):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.executor.spin_once(timeout_sec=0.02)

    def spin_until(self, predicate, timeout, what):
        deadline = time.monotonic() + timeout
        while not predicate():
            assert time.monotonic() < deadline, f'timed out after {timeout} s waiting for {what}'
            self.executor.spin_once(timeout_sec=0.02)

    def close(self):
        self.executor.shutdown(timeout_sec=5)
        if self.node is not None:
            self.node.destroy_node()
        self.probe.destroy_node()
        rclpy.try_shutdown()


@pytest.fixture
def rig():
    rigs = []

    def make(cls, *ros_args):
        rigs.append(Rig(cls, *ros_args))
        return rigs[-1]

    yield make
    for r in rigs:
        r.close()


# ---- the arm bridge --------------------------------------------------------------------------
class Arm:
    """The probe as the arm's driver (joint_states at home) and as the VLA node (deltas)."""

    def __init__(self, rig):
        from contrastive_vla.robot.description import load_arm_config

        self.rig = rig
        robot = load_arm_config(None)['robot']
        self.names, self.home = list(robot['joint_names']), list(robot['home_joints'])
        self.trajectories = rig.record('joint_trajectory', JointTrajectory, qos.command())
        self.statuses = rig.record('primitive_status', String, qos.command(),
                                   messages.parse_json)
        self.diagnostics = rig.record('diagnostics', DiagnosticArray, 10, lambda m: {
            s.name: (s.message, {kv.key: kv.value for kv in s.values}) for s in m.status})
        self.joints = rig.publisher('joint_states', JointState, qos.sensor())
        self.deltas = rig.publisher('primitive_delta', Float64MultiArray, qos.command())
        self.decision = 0

    def command(self, delta):
        """Fresh joint_states, then one primitive; returns its outcome (the bridge's status)."""
        heard = self.rig.node.q_time
        self.joints.publish(JointState(name=self.names, position=self.home))
        self.rig.spin_until(lambda: self.rig.node.q_time != heard, 10, 'joint_states heard')
        self.decision += 1
        decision, before = self.decision, len(self.statuses)
        self.deltas.publish(messages.delta_command(delta, decision))
        self.rig.spin_until(lambda: self.rig.node.active is not None or any(
            s['decision'] == decision for s in self.statuses[before:]), 10,
            f'the bridge to take up decision {decision}')
        return next((s for s in self.statuses[before:] if s['decision'] == decision), None)

    def bridge_report(self):
        before = len(self.diagnostics)
        self.rig.node.report()
        self.rig.spin_until(lambda: len(self.diagnostics) > before, 5, 'the bridge diagnostics')
        return self.diagnostics[-1]['contrastive_vla: arm_bridge']


def test_a_bridge_without_autostart_sends_nothing_until_activated(rig):
    from contrastive_vla.ros.nodes.arm_bridge import ArmBridge

    r = rig(ArmBridge, '-p', 'enable_actuation:=true', *SLOW)
    assert lifecycle_state(r.node) == 'inactive'  # configured: the arm description loaded
    assert r.node.planner is not None
    arm = Arm(r)
    message, values = arm.bridge_report()
    assert message == 'inactive' and values['lifecycle'] == 'inactive'
    refused = arm.command(LEFT_20CM)
    assert refused['status'] == Outcome.REFUSED and 'inactive' in refused['message']
    assert 'ros2 lifecycle set /arm_bridge activate' in refused['message']
    r.spin(0.5)
    assert arm.trajectories == [] and r.node.active is None

    assert r.node.trigger_activate() == SUCCESS
    assert lifecycle_state(r.node) == 'active'
    assert arm.command(LEFT_20CM) is None  # taken up: moving
    r.spin_until(lambda: arm.trajectories, 5, 'the trajectory')
    assert len(arm.trajectories[0].points) > 1
    assert arm.bridge_report()[0] == 'executing'


def test_deactivate_mid_motion_sends_the_hold_then_nothing(rig):
    from contrastive_vla.ros.nodes.arm_bridge import ArmBridge

    r = rig(ArmBridge, '-p', 'enable_actuation:=true', '-p', 'autostart:=true', *SLOW)
    assert lifecycle_state(r.node) == 'active'
    arm = Arm(r)
    assert arm.command(LEFT_20CM) is None
    r.spin_until(lambda: arm.trajectories, 5, 'the trajectory')
    moving = r.node.active.decision
    halts = r.node.halts

    assert r.node.trigger_deactivate() == SUCCESS
    assert lifecycle_state(r.node) == 'inactive'
    r.spin_until(lambda: len(arm.trajectories) >= 2, 5, 'the hold')
    hold = arm.trajectories[1]
    assert len(hold.points) == 1  # the e-stop's hold: where the arm is, at once
    np.testing.assert_allclose(hold.points[0].positions, arm.home)
    assert r.node.halts == halts + 1 and r.node.active is None
    r.spin_until(lambda: any(s['decision'] == moving for s in arm.statuses), 5, 'the outcome')
    outcome = next(s for s in arm.statuses if s['decision'] == moving)
    assert outcome['status'] == Outcome.HALTED and 'deactivated' in outcome['message']

    assert arm.command(LEFT_20CM)['status'] == Outcome.REFUSED
    r.spin(0.5)
    assert len(arm.trajectories) == 2  # nothing after the hold
    # cleanup and shutdown from inactive: nothing moves, nothing more to halt
    assert r.node.trigger_cleanup() == SUCCESS
    assert lifecycle_state(r.node) == 'unconfigured' and r.node.planner is None
    assert r.node.trigger_configure() == SUCCESS  # the arm description again
    assert r.node.trigger_activate() == SUCCESS
    heard = r.node.q_time  # a fresh joint state: the hold is a point where the arm is
    arm.joints.publish(JointState(name=arm.names, position=arm.home))
    r.spin_until(lambda: r.node.q_time != heard, 10, 'joint_states heard')
    assert r.node.trigger_shutdown() == SUCCESS
    assert lifecycle_state(r.node) == 'finalized'
    r.spin(0.3)
    assert len(arm.trajectories) == 3  # shut down while active: one more hold, nothing else
    assert len(arm.trajectories[2].points) == 1


def test_a_bad_arm_description_fails_configure_and_the_bridge_stays(rig, tmp_path, capfd):
    from contrastive_vla.ros.nodes.arm_bridge import ArmBridge

    bad = tmp_path / 'arm.yaml'
    bad.write_text('robot: {joint_names: [a]}\n')
    r = rig(ArmBridge, '-p', f'arm_config:={bad}', '-p', 'autostart:=true')
    assert lifecycle_state(r.node) == 'unconfigured' and r.node.planner is None
    assert r.node.trigger_configure() != SUCCESS
    r.spin(0.2)  # alive: it still spins and answers
    err = capfd.readouterr().err
    assert 'bad arm description' in err and str(bad) in err
    assert 'ros2 lifecycle set /arm_bridge configure' in err


# ---- the VLA node ----------------------------------------------------------------------------
def test_the_vla_node_decides_only_while_active(rig, tiny_model):
    from contrastive_vla.ros.nodes.vla import VLANode

    r = rig(VLANode, '-p', f'model:={tiny_model}', '-p', 'threads:=1',
            '-p', 'wait_for_outcome:=false', '-p', 'status_period:=0.1')
    assert lifecycle_state(r.node) == 'active'  # autostart: true by default
    decisions = r.record('primitive_delta', Float64MultiArray, qos.command())
    status = r.record('vla_status', String, 10, messages.parse_json)
    instruction = r.publisher('active_instruction', String, qos.latched())
    image = r.publisher('image', messages.msg_class('image'), qos.sensor())
    instruction.publish(String(data='reach the red block'))
    r.spin_until(lambda: r.node.gate.instruction, 10, 'the instruction')

    def frames(seconds):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            stamp = messages.time_msg(r.node.get_clock().now().nanoseconds * 1e-9)
            image.publish(messages.image(np.full((64, 64, 3), 90, np.uint8), stamp, 'cam'))
            r.spin(0.1)

    frames(1.0)
    assert decisions, 'no decision while active'
    assert r.node.trigger_deactivate() == SUCCESS
    before, made = len(decisions), r.node.decision_id
    frames(1.0)
    assert len(decisions) == before and r.node.decision_id == made
    assert status[-1]['state'] == 'inactive'
    assert r.node.trigger_activate() == SUCCESS
    frames(1.0)
    assert len(decisions) > before


def test_a_bad_model_fails_configure_and_the_vla_node_stays(rig, tmp_path, capfd):
    from contrastive_vla.ros.nodes.vla import VLANode

    missing = tmp_path / 'no_such_model'
    r = rig(VLANode, '-p', f'model:={missing}')
    assert lifecycle_state(r.node) == 'unconfigured' and r.node.policy is None
    assert 'cannot load model' in r.node.reason
    assert r.node.trigger_configure() != SUCCESS
    assert r.node.trigger_activate() != SUCCESS  # no transition from unconfigured
    assert lifecycle_state(r.node) == 'unconfigured'
    r.spin(0.2)
    err = capfd.readouterr().err
    assert f"cannot load model '{missing}'" in err
    assert 'ros2 lifecycle set /vla configure' in err


# ---- a bridge process: Ctrl-C mid-motion holds the arm ---------------------------------------
def test_ctrl_c_on_a_moving_bridge_sends_the_hold(ros_graph):
    graph, probe = ros_graph
    from contrastive_vla.robot.description import load_arm_config

    robot = load_arm_config(None)['robot']
    names, home = list(robot['joint_names']), list(robot['home_joints'])
    probe.record('joint_trajectory', JointTrajectory, qos.command(), lambda m: len(m.points))
    probe.record('primitive_status', String, qos.command(), messages.parse_json)

    def trajectories():  # their numbers of points
        return probe.messages('joint_trajectory')

    def statuses():  # a try before the bridge heard joint_states is refused: left out
        return [m for m in probe.messages('primitive_status') if m['status'] != 'refused']

    joints = probe.publisher('joint_states', JointState, qos.sensor())
    deltas = probe.publisher('primitive_delta', Float64MultiArray, qos.command())
    vla_status = probe.publisher('vla_status', String, 10)
    # a slow motion (long trajectory), kept alive by the heartbeat
    graph.start('arm_bridge', params={'enable_actuation': 'true', 'autostart': 'true',
                                      'settle_time': 3.0})
    stop = threading.Event()

    def driver():
        while not stop.is_set():
            joints.publish(JointState(name=names, position=home))
            vla_status.publish(String(data='{}'))
            time.sleep(0.05)

    thread = threading.Thread(target=driver, daemon=True)
    thread.start()
    try:
        probe.wait_for(lambda: probe.node.count_subscribers('primitive_delta') >= 1, 60, graph,
                       'the bridge')
        deadline = time.monotonic() + 30
        while not trajectories() and time.monotonic() < deadline:
            deltas.publish(messages.delta_command(LEFT_20CM, 1))
            wait_until = time.monotonic() + 2.0
            while not trajectories() and time.monotonic() < wait_until:
                time.sleep(0.02)
        assert trajectories() and trajectories()[0] > 1, graph.logs_text()
        assert not statuses()  # still moving (0.2 m takes seconds)
        graph.procs['arm_bridge'].send_signal(signal.SIGINT)
        assert graph.procs['arm_bridge'].wait(timeout=15) == 0, graph.logs_text()
    finally:
        stop.set()
        thread.join(timeout=5)
    probe.wait_for(lambda: len(trajectories()) >= 2, 5, graph, 'the hold')
    assert trajectories()[1] == 1, graph.logs_text()
    probe.wait_for(lambda: statuses(), 5, graph, 'the halted outcome')
    outcome = statuses()[0]
    assert outcome['status'] == Outcome.HALTED and 'shut down' in outcome['message']


# ---- with ROS 2's own CLI ---------------------------------------------------------------------
def _state(ros2, node):
    return ros2.run('lifecycle', 'get', node).stdout.strip()


def test_ros2_lifecycle_on_the_robot_launch(ros2_cli, tmp_path):
    import cv2

    frames = tmp_path / 'frames'
    frames.mkdir()
    cv2.imwrite(str(frames / '0.png'), np.zeros((48, 64, 3), np.uint8))
    with ros2_cli.session('lifecycle_robot') as ros2:
        with ros2.launch('robot.launch.py', 'vla:=false', f'camera_source:={frames}'):
            listed = ros2.node_list(['/arm_bridge'], timeout=60)
            assert '/arm_bridge' in listed, ros2.launch_logs()
            ros2.wait_for(lambda: _state(ros2, '/arm_bridge') != 'Node not found', 60,
                          'the bridge lifecycle services')
            assert _state(ros2, '/arm_bridge').startswith('inactive'), ros2.launch_logs()
            out = ros2.run('lifecycle', 'set', '/arm_bridge', 'activate')
            assert 'Transitioning successful' in out.stdout, out.stdout + out.stderr
            assert _state(ros2, '/arm_bridge').startswith('active')
            out = ros2.run('lifecycle', 'set', '/arm_bridge', 'deactivate')
            assert 'Transitioning successful' in out.stdout
            assert _state(ros2, '/arm_bridge').startswith('inactive')


def test_ros2_lifecycle_reports_a_vla_node_whose_model_does_not_load(ros2_cli, tmp_path):
    missing = Path(tmp_path) / 'no_such_model'
    with ros2_cli.session('lifecycle_vla') as ros2:
        node = ros2.start('run', 'contrastive_vla', 'vla_node', '--ros-args', '-p',
                          f'model:={missing}')
        try:
            ros2.node_list(['/vla'], timeout=60)
            ros2.wait_for(lambda: _state(ros2, '/vla') != 'Node not found', 60,
                          'the VLA lifecycle services')
            assert _state(ros2, '/vla').startswith('unconfigured'), ros2.launch_logs()
            out = ros2.run('lifecycle', 'set', '/vla', 'configure')
            assert 'Transitioning failed' in out.stderr, out.stdout + out.stderr
            assert node.alive() and _state(ros2, '/vla').startswith('unconfigured')
            assert 'cannot load model' in node.log()
        finally:
            stopped = node.stop()
        assert stopped.returncode == 0 and not stopped.leftover, node.log()

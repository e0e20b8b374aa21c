"""The arm bridge on a vendor URDF (issue 18): the FR3 (7 joints, redundant) in dry run turns a
stream of primitives into joint trajectories within the URDF's limits; the description comes
from the urdf parameter or the latched robot_description topic; without one, configure fails
with the reason."""

import os
from pathlib import Path

import numpy as np
import pytest

from contrastive_vla.core.status import Outcome
from contrastive_vla.core.vocabulary import PrimitiveVocabulary
from contrastive_vla.robot.urdf import load_urdf

rclpy = pytest.importorskip('rclpy')

from sensor_msgs.msg import JointState  # noqa: E402
from std_msgs.msg import String  # noqa: E402

from contrastive_vla.ros import messages, qos  # noqa: E402

URDF_DIR = Path(__file__).resolve().parents[3] / 'shared' / 'fixtures' / 'urdf'
FR3_JOINTS = [f'fr3_joint{i}' for i in range(1, 8)]
DOMAIN = 200 + os.getpid() % 30  # this file's own: the test below inits rclpy itself


def fr3_urdf():
    path = URDF_DIR / 'fr3.urdf'
    if not path.is_file():
        pytest.skip(f'vendor URDF {path} is not there (shared fixtures absent)')
    return str(path)


def feed_joints(bridge, q):
    names = FR3_JOINTS + ['fr3_finger_joint1', 'fr3_finger_joint2']
    msg = JointState(name=names, position=[float(v) for v in q] + [0.04, 0.04],
                     velocity=[0.0] * len(names))
    msg.header.stamp = messages.time_msg(bridge.now_ns() * 1e-9)
    bridge.on_joint_states(msg)


def finish_step(bridge):
    """The dry-run primitive in progress runs to its end (as the timer would)."""
    bridge.watchdog.feed(bridge.now())  # the VLA node's heartbeat meanwhile
    if bridge.active is not None:
        bridge.active.until = 0.0
        bridge.tick()
        if bridge.active is not None:  # the gripper phase
            bridge.active.until = 0.0
            bridge.tick()


def test_fr3_bridge_turns_a_stream_of_primitives_into_trajectories_within_limits(start_node):
    from contrastive_vla.ros.nodes.arm_bridge import ArmBridge

    urdf = fr3_urdf()
    bridge = start_node(ArmBridge, '-p', 'autostart:=true', '-p', 'arm_config:=fr3',
                        '-p', f'urdf:={urdf}')
    assert bridge.planner is not None and bridge.joint_names == FR3_JOINTS
    assert bridge.frame_id == 'base'
    limits = load_urdf(urdf, 'base', 'fr3_hand_tcp')
    lower, upper, velocity = map(np.asarray, (limits.lower, limits.upper, limits.velocity))
    sent, outcomes = [], []
    original = bridge.send
    bridge.send = lambda msg, kind, summary: (sent.append((kind, msg)),
                                              original(msg, kind, summary))
    bridge.status_pub.publish = lambda msg: outcomes.append(messages.parse_json(msg))

    # the bridge's clock, advanced here as the arm moves (joint states arrive as from an arm
    # that followed the trajectory, never faster than its velocity limits)
    clock = [bridge.get_clock().now().nanoseconds]
    bridge.now_ns = lambda: clock[0]

    vocab = PrimitiveVocabulary.load()
    rng = np.random.default_rng(0)
    stream = ['forward_5cm', 'left_5cm', 'down_10cm', 'yaw_left_45deg', 'wrist_cw_45deg',
              'close_gripper', 'up_10cm', 'roll_left_15deg', 'pitch_up_15deg', 'right_10cm']
    stream += [vocab[int(i)].name for i in rng.integers(0, len(vocab), 30)]
    q = np.asarray(bridge.arm['robot']['home_joints'], dtype=np.float64)
    moved = 0
    for decision, name in enumerate(stream, 1):
        clock[0] += 10_000_000
        feed_joints(bridge, q)
        before = len(sent)
        bridge.on_delta(messages.delta_command(vocab.delta(name), decision, None))
        trajectories = [m for kind, m in sent[before:] if kind == 'trajectory']
        for traj in trajectories:
            assert list(traj.joint_names) == FR3_JOINTS
            points = np.array([p.positions for p in traj.points])
            times = np.array([p.time_from_start.sec + p.time_from_start.nanosec * 1e-9
                              for p in traj.points])
            assert np.all(points >= lower - 1e-9) and np.all(points <= upper + 1e-9), name
            path = np.vstack([q[None], points])
            speed = np.abs(np.diff(path, axis=0)) / np.diff(np.concatenate([[0.0], times]))[:,
                                                                                        None]
            assert np.all(speed <= velocity * (1 + 1e-6)), name
            q = points[-1]  # the arm got there
            clock[0] += int((times[-1] + 0.1) * 1e9)
            moved += 1
        finish_step(bridge)
    statuses = [o['status'] for o in outcomes]
    assert len(statuses) == len(stream)
    # dry run: executed primitives report dry_run; nothing is refused for a limit
    assert statuses.count(Outcome.DRY_RUN) >= 0.8 * len(stream), statuses
    assert Outcome.REJECTED not in statuses, outcomes
    assert moved >= 0.6 * len(stream)


def test_the_description_comes_from_the_latched_robot_description_topic():
    from contrastive_vla.ros.nodes.arm_bridge import ArmBridge

    text = Path(fr3_urdf()).read_text()
    rclpy.init(args=['test', '--ros-args', '-p', 'arm_config:=fr3', '-p',
                     'description_timeout:=10.0'], domain_id=DOMAIN)
    nodes = []
    try:
        # as robot_state_publisher publishes it: latched, before the bridge starts
        publisher_node = rclpy.create_node('robot_state_publisher')
        nodes.append(publisher_node)
        publisher_node.create_publisher(String, 'robot_description',
                                        qos.latched()).publish(String(data=text))
        bridge = ArmBridge()
        nodes.append(bridge)
        assert bridge.planner is not None and bridge.joint_names == FR3_JOINTS
    finally:
        for node in nodes:
            node.destroy_node()
        rclpy.try_shutdown()


def test_without_a_description_configure_fails_with_the_reason(start_node):
    from contrastive_vla.ros.nodes.arm_bridge import ArmBridge
    from contrastive_vla.ros.runtime import lifecycle_state

    bridge = start_node(ArmBridge, '-p', 'arm_config:=fr3', '-p', 'description_timeout:=0.3')
    assert bridge.planner is None
    assert lifecycle_state(bridge) == 'unconfigured'


@pytest.mark.ros
def test_teleop_through_the_bridge_works_with_the_fr3_in_dry_run(ros_graph):
    """teleop --arm ros's arm (RosArm) against a graph whose bridge drives an FR3: the URDF on
    the latched robot_description topic, FR3 joint states, a camera; dry run."""
    import threading
    import time

    from contrastive_vla.robot.arms import arm_state_names
    from contrastive_vla.ros.teleop_arm import RosArm

    graph, probe = ros_graph
    urdf = fr3_urdf()
    description = probe.publisher('robot_description', String, qos.latched())
    description.publish(String(data=Path(urdf).read_text()))
    joints = probe.publisher('joint_states', JointState, qos.default())
    names = FR3_JOINTS + ['fr3_finger_joint1', 'fr3_finger_joint2']
    home = [0.0, -0.785, 0.0, -2.356, 0.0, 1.571, 0.785, 0.04, 0.04]
    stop = threading.Event()

    def publish_joints():  # the FR3's driver, standing still at home
        while not stop.is_set():
            msg = JointState(name=names, position=home, velocity=[0.0] * len(names))
            msg.header.stamp = probe.node.get_clock().now().to_msg()
            joints.publish(msg)
            time.sleep(0.02)

    thread = threading.Thread(target=publish_joints, daemon=True)
    thread.start()
    try:
        graph.start_camera((48, 64), [40, 200], rate=10.0)
        graph.start('arm_bridge', params={'arm_config': 'fr3', 'autostart': 'true',
                                          'description_timeout': 30.0})
        with RosArm(simulated=False, step_timeout=30.0,
                    state_names=arm_state_names('fr3', urdf)) as arm:
            arm.wait_ready(timeout=60.0)
            obs = arm.reset('cup', 0, 'touch the cup')
            assert obs.joint_names[:9] == names
            for primitive in ('down_5cm', 'left_5cm', 'yaw_left_45deg', 'close_gripper'):
                result = arm.step(primitive)
                assert result.status == 'dry_run', (primitive, result.message,
                                                    graph.logs_text())
    finally:
        stop.set()
        thread.join(timeout=2)
    log = graph.log('arm_bridge')
    assert 'URDF from topic /robot_description' in log, log
    assert log.count('dry run: would send trajectory') >= 1, log

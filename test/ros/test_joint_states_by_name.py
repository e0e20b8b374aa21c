"""Real drivers' joint_states: a UR driver publishes the arm in its own joint order, and the
gripper comes from another node in separate messages. The VLA node (a model with
proprioception needs all 8 joints) must decide, and the arm bridge must plan from the joints'
names, not from where they sit in the message. Real node processes on a private domain; the
two "drivers" are two in-process nodes, each its own publisher."""

import json
import threading
import time

import numpy as np
import pytest

from contrastive_vla.robot.description import load_arm_config, state_joint_names
from contrastive_vla.ros import messages, qos

pytestmark = pytest.mark.ros

NAMES = state_joint_names()
ARM, FINGERS = NAMES[:6], NAMES[6:]
# ur_robot_driver's joint_state_broadcaster order
UR_ORDER = ['elbow_joint', 'shoulder_lift_joint', 'shoulder_pan_joint', 'wrist_1_joint',
            'wrist_2_joint', 'wrist_3_joint']


class Drivers:
    """An arm driver (UR joint order) and a gripper driver (fingers reversed), two nodes that
    publish the robot at ``q`` (state_joint_names order) every 50 ms, stamped now."""

    def __init__(self, q, gripper=True):
        from sensor_msgs.msg import JointState

        from contrastive_vla.ros.runtime import SpunNode

        self.q = dict(zip(NAMES, map(float, q)))
        self.JointState = JointState
        self.arm = SpunNode('ur_driver')
        self.gripper = SpunNode('gripper_driver')
        self.arm_pub = self.arm.node.create_publisher(JointState, 'joint_states', 10)
        self.gripper_pub = self.gripper.node.create_publisher(JointState, 'joint_states', 10)
        self.gripper_on = gripper
        self.arm.start()
        self.gripper.start()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _send(self, spun, pub, names):
        stamp = spun.node.get_clock().now().to_msg()
        pub.publish(self.JointState(header=messages.header(stamp), name=names,
                                    position=[self.q[n] for n in names],
                                    velocity=[0.0] * len(names)))

    def _loop(self):
        while not self.stop.is_set():
            self._send(self.arm, self.arm_pub, UR_ORDER)
            if self.gripper_on:
                self._send(self.gripper, self.gripper_pub, FINGERS[::-1])
            time.sleep(0.05)

    def close(self):
        self.stop.set()
        self.thread.join(timeout=2)
        self.arm.close()
        self.gripper.close()


@pytest.fixture
def drivers():
    made = []

    def make(q, gripper=True):
        made.append(Drivers(q, gripper))
        return made[-1]

    yield make
    for d in made:
        d.close()


def home():
    robot = load_arm_config()['robot']
    return list(robot['home_joints']) + [robot['finger_open']] * 2


def test_vla_decides_with_arm_and_gripper_from_two_publishers(ros_graph, tiny_gripper_model,
                                                              drivers):
    from sensor_msgs.msg import Image
    from std_msgs.msg import Float64MultiArray, String

    graph, probe = ros_graph
    graph.start('vla', params={'model': tiny_gripper_model, 'threads': 1})
    probe.record('primitive_delta', Float64MultiArray, qos.command())
    probe.record('vla_status', String, 10, lambda m: json.loads(m.data))
    images = probe.publisher('image_raw', Image, qos.sensor_publisher())
    instruction = probe.publisher('active_instruction', String, qos.latched())
    probe.wait_for(lambda: probe.node.count_subscribers('joint_states') >= 1
                   and probe.node.count_subscribers('image_raw') >= 1, 90, graph,
                   'the VLA node')
    instruction.publish(String(data='pick up the green block'))
    d = drivers(home(), gripper=False)

    def frames(seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            stamp = probe.node.get_clock().now().to_msg()
            images.publish(messages.image(np.zeros((32, 32, 3), np.uint8), stamp, 'cam'))
            time.sleep(0.1)

    # the arm alone: the model needs the fingers too, so no decision, and it says why
    for _ in range(75):
        frames(0.2)
        if any('finger' in str(s.get('state')) for s in probe.messages('vla_status')):
            break
    frames(1.0)
    assert probe.messages('primitive_delta') == []
    status = probe.messages('vla_status')[-1]['state']
    assert status == 'waiting for joint_states of left_finger_joint, right_finger_joint'
    # the gripper driver starts: the two publishers add up to the whole robot
    d.gripper_on = True
    for _ in range(100):
        frames(0.2)
        if probe.messages('primitive_delta'):
            break
    assert probe.messages('primitive_delta'), graph.logs_text()
    assert probe.messages('vla_status')[-1]['bad_joint_states'] == 0
    assert graph.alive('vla')


def _expected_plan(q, delta):
    from contrastive_vla.control.arm_commands import JointMotionPlanner, limits_from_config
    from contrastive_vla.robot import kinematics as kin
    from contrastive_vla.robot.mjcf import arm_model, import_mujoco
    from contrastive_vla.ros import params
    from contrastive_vla.ros.node_parameters import NODES

    arm = load_arm_config()
    mj = import_mujoco()
    robot = arm['robot']
    planner = JointMotionPlanner(
        kin.ArmKinematics(mj, arm_model(arm, mj), robot['joint_names'], robot['joint_lower'],
                          robot['joint_upper']),
        limits_from_config(arm, params.defaults(NODES['arm_bridge'])), arm['control'])
    return planner.plan(np.asarray(q, np.float64), delta)


def test_bridge_plans_from_joint_names_not_positions(ros_graph, drivers):
    from std_msgs.msg import Float64MultiArray, String
    from trajectory_msgs.msg import JointTrajectory

    graph, probe = ros_graph
    graph.start('arm_bridge', params={'enable_actuation': 'true', 'autostart': 'true'})
    probe.record('joint_trajectory', JointTrajectory, qos.command())
    probe.record('primitive_status', String, qos.command(), lambda m: json.loads(m.data))
    deltas = probe.publisher('primitive_delta', Float64MultiArray, qos.command())
    alive = probe.publisher('vla_status', String, 10)
    probe.wait_for(lambda: probe.node.count_subscribers('primitive_delta') >= 1
                   and probe.node.count_subscribers('joint_states') >= 1, 60, graph,
                   'the arm bridge')
    q = home()
    d = drivers(q)
    # each driver is its own DDS participant: under a loaded CI machine one of them can take
    # seconds longer to be discovered than the other, so wait until the bridge hears both
    probe.wait_for(lambda: d.arm_pub.get_subscription_count() >= 1
                   and d.gripper_pub.get_subscription_count() >= 1, 60, graph,
                   'the arm bridge subscribing to both drivers')
    time.sleep(0.5)  # a few joint states from each
    delta = np.zeros(8)
    delta[2] = 0.01   # up 1 cm
    for attempt in range(60):
        alive.publish(String(data='{"state": "test"}'))
        deltas.publish(messages.delta_command(delta, attempt + 1))
        time.sleep(0.5)
        if probe.messages('joint_trajectory'):
            break
    trajectories = probe.messages('joint_trajectory')
    assert trajectories, (probe.messages('primitive_status'), graph.logs_text())
    sent = trajectories[0]
    assert list(sent.joint_names) == ARM
    expected = _expected_plan(q[:6], delta)
    assert expected.moves
    np.testing.assert_allclose(sent.points[-1].positions, expected.points[-1], atol=1e-9)
    assert len(sent.points) == len(expected.points)
    # reading the UR driver's message by index would have planned from another pose
    by_index = np.array([dict(zip(NAMES, q))[n] for n in UR_ORDER])
    wrong = _expected_plan(by_index, delta)
    assert not wrong.moves or not np.allclose(wrong.points[-1], expected.points[-1], atol=1e-3)
    assert graph.alive('arm_bridge')
    assert 'joint_states refused' not in graph.log('arm_bridge')

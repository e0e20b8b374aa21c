"""The VLA node decides as soon as a frame allows, not on a polling timer: with the fallback
timer (tick_period) set to 1000 s, a decision follows a frame, a joint state a frame waited
for, and the outcome of the last primitive within a fraction of a second. The step-wise rhythm
stays: no decision while the arm executes, and the next one is made on a frame taken after the
outcome. The real VLANode class with a tiny model, spun in this process on a private domain; the
probe publishes what the camera, the listener, the bridge and the arm driver would."""

import os
import threading
import time

import numpy as np
import pytest

from contrastive_vla.core.msgfields import ns_to_time_fields
from contrastive_vla.ros import messages, qos

rclpy = pytest.importorskip('rclpy')

pytestmark = pytest.mark.ros

NO_TIMER = 1000.0  # seconds: the fallback timer never fires during a test
SOON = 1.0         # seconds a decision may take after the message that allows it


class Spun:
    """The VLA node and a probe node on one executor in a background thread."""

    def __init__(self, model, *params):
        from rclpy.executors import SingleThreadedExecutor
        from sensor_msgs.msg import Image, JointState
        from std_msgs.msg import Float64MultiArray, String

        from contrastive_vla.ros.nodes.vla import VLANode

        # the default context, as run_node builds the node (one node per test)
        rclpy.init(domain_id=70 + os.getpid() % 30, args=[
            'test', '--ros-args', '-p', f'model:={model}', '-p', f'tick_period:={NO_TIMER}',
            '-p', 'threads:=1', *params])
        self.vla = VLANode()
        self.probe = rclpy.create_node('probe')
        self.deltas = []
        self.lock = threading.Lock()
        self.probe.create_subscription(Float64MultiArray, 'primitive_delta', self._on_delta,
                                       qos.command())
        self.image = self.probe.create_publisher(Image, 'image_raw', qos.sensor_publisher())
        self.joints = self.probe.create_publisher(JointState, 'joint_states', 10)
        self.say = self.probe.create_publisher(String, 'active_instruction', qos.latched())
        self.status = self.probe.create_publisher(String, 'primitive_status', qos.command())
        self.JointState, self.String = JointState, String
        self.executor = SingleThreadedExecutor()
        self.executor.add_node(self.vla)
        self.executor.add_node(self.probe)
        self.thread = threading.Thread(target=self._spin, daemon=True)
        self.thread.start()
        self._wait(lambda: self.image.get_subscription_count() and
                   self.status.get_subscription_count() and
                   self.probe.count_publishers('primitive_delta'), 20, 'discovery')

    def _spin(self):
        try:
            self.executor.spin()
        except Exception:  # noqa: BLE001 - the context was shut down under it
            pass

    def _on_delta(self, msg):
        with self.lock:
            self.deltas.append((time.monotonic(), messages.parse_delta_command(msg)))

    def _wait(self, predicate, timeout, what):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.005)
        pytest.fail(f'timed out after {timeout} s waiting for {what} (node: {self.vla.reason})')

    def now_ns(self):
        return self.probe.get_clock().now().nanoseconds

    @staticmethod
    def stamp(stamp_ns):
        from builtin_interfaces.msg import Time

        sec, nanosec = ns_to_time_fields(stamp_ns)
        return Time(sec=sec, nanosec=nanosec)

    def frame(self):
        stamp_ns = self.now_ns()
        self.image.publish(messages.image(np.full((64, 64, 3), 90, np.uint8),
                                          self.stamp(stamp_ns), 'cam'))
        return stamp_ns, time.monotonic()

    def joint_state(self, stamp_ns):
        from contrastive_vla.model.config import state_joint_names

        names = state_joint_names()
        msg = self.JointState(name=names, position=[0.02] * len(names))
        msg.header.stamp = self.stamp(stamp_ns)
        self.joints.publish(msg)

    def decisions(self):
        with self.lock:
            return list(self.deltas)

    def decision_after(self, n, sent, what):
        """The (n+1)-th decision, and how long after ``sent`` it arrived."""
        self._wait(lambda: len(self.decisions()) > n, 10, what)
        received, command = self.decisions()[n]
        return command, received - sent

    def close(self):
        try:
            self.executor.shutdown()
            self.vla.destroy_node()
            self.probe.destroy_node()
        finally:
            rclpy.try_shutdown()
            self.thread.join(timeout=5)


@pytest.fixture
def spun(monkeypatch):
    monkeypatch.setenv('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    made = []

    def make(model, *params):
        made.append(Spun(model, *params))
        return made[-1]

    yield make
    for s in made:
        s.close()


def test_a_frame_is_decided_on_without_waiting_for_a_timer(spun, tiny_model):
    node = spun(tiny_model)
    node.say.publish(node.String(data='touch the red block'))
    node._wait(lambda: node.vla.gate.instruction is not None, 10, 'the instruction')
    # the first decision pays the instruction's encoding: warm the caches on this very node
    stamp_ns, sent = node.frame()
    first, _ = node.decision_after(0, sent, 'the first decision')
    assert first.image_stamp_ns == stamp_ns
    # busy: the arm executes decision 1, so a new frame is not decided on
    node.frame()
    time.sleep(0.3)
    assert len(node.decisions()) == 1
    # the outcome arrives; the next frame is decided on at once, the timer never ticked
    node.status.publish(messages.json_string({'decision': first.decision, 'status': 'done'}))
    node._wait(lambda: node.vla.gate.pending is None, 10, 'the outcome')
    stamp_ns, sent = node.frame()
    second, delay = node.decision_after(1, sent, 'a decision after the outcome')
    assert second.decision == first.decision + 1 and second.image_stamp_ns == stamp_ns
    assert delay < SOON, f'decided {delay:.3f} s after the frame'


def test_the_instruction_is_encoded_when_it_arrives_not_in_the_decision(spun, tiny_model):
    """The text tower runs when the instruction arrives; the decision on the next frame is one
    image pass (the configure-time warm-up ran a decision already)."""
    node = spun(tiny_model)
    policy = node.vla.policy
    assert 'move the arm up' in policy._instruction_cache  # warmed up at configure
    encode = policy.model.encode_instruction
    encoded = []
    policy.model.encode_instruction = lambda tokens: encoded.append(1) or encode(tokens)
    node.say.publish(node.String(data='touch the red block'))
    node._wait(lambda: encoded, 10, 'the instruction to be encoded')
    stamp_ns, sent = node.frame()
    first, _ = node.decision_after(0, sent, 'the first decision')
    assert first.image_stamp_ns == stamp_ns
    assert len(encoded) == 1  # the decision did not encode it again


def test_a_frame_waiting_for_its_joint_state_is_decided_when_it_comes(spun,
                                                                      tiny_gripper_model):
    node = spun(tiny_gripper_model, '-p', 'joint_state_wait:=100.0')
    node.say.publish(node.String(data='touch the red block'))
    node._wait(lambda: node.vla.gate.instruction is not None, 10, 'the instruction')
    stamp_ns, _ = node.frame()
    node.joint_state(stamp_ns - int(0.5e9))  # half a second before the frame: not its state
    node._wait(lambda: node.vla.reason == 'waiting for the joint state taken with the frame',
               10, 'the node to wait for the joint state')
    time.sleep(0.2)
    assert not node.decisions()
    node.joint_state(stamp_ns)
    sent = time.monotonic()
    command, delay = node.decision_after(0, sent, 'a decision once the joint state came')
    assert command.image_stamp_ns == stamp_ns and node.vla.stale_joint_states == 0
    assert delay < SOON + 2.0  # the first decision also encodes the instruction

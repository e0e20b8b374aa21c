"""The arm as teleoperation sees it through a running graph: a real arm or the simulator node.

``contrastive-vla teleop --arm ros`` drives this instead of an in-process simulator. It is
the same ``TeleopSession`` (language mapping, undo, confirmations, the demonstration bag);
only the arm differs. Each step goes through the arm bridge like a VLA decision does: the
primitive's delta on ``primitive_delta`` (with a decision id), then the bridge's outcome on
``primitive_status``, then a camera frame taken after the motion. So every safety check of the
bridge (workspace, joint limits, speed caps, e-stop, halts) applies to a person's sentences
too.

Start the graph without the VLA node (nothing else must decide):

    contrastive-vla launch robot vla:=false enable_actuation:=true autostart:=true camera_source:=0
    contrastive-vla launch sim vla:=false          # the same against the simulator node

While a step runs, this node says it is alive on ``vla_status`` (``{"state": "teleop"}``): the
bridge halts an arm whose commander falls silent (``command_timeout``), and here the person
is the commander.
"""

import threading
import time

from diagnostic_msgs.msg import DiagnosticArray
import numpy as np
from std_msgs.msg import Float64MultiArray, String

from contrastive_vla.core.images import ImageError, image_to_rgb, pinhole_intrinsics, resize_rgb
from contrastive_vla.core.joints import JointStateError, JointStateMerger
from contrastive_vla.core.msgfields import NS_PER_S, stamp_to_ns
from contrastive_vla.core.status import NOT_EXECUTED, Outcome
from contrastive_vla.core.topics import topic
from contrastive_vla.core.types import EpisodeSpec, Observation, StepResult
from contrastive_vla.core.vocabulary import PrimitiveVocabulary
from contrastive_vla.robot.description import state_joint_names
from contrastive_vla.ros import messages, qos
from contrastive_vla.ros.runtime import SpunNode, warn_by_reason

HEARTBEAT_PERIOD = 0.25  # s between "alive" messages while a step runs


class ArmGraphError(RuntimeError):
    """The graph is not there or does not answer; the message says what to start."""

    user_facing = True


class RosArm:
    """An rclpy node (``teleop``) in its own context, spun in a background thread.

    ``simulated``: None detects the simulator node (someone subscribes to episode_request);
    True asks it for each episode's scene, False (a real arm) takes the scene as the person
    arranged it and needs the instruction from them.
    """

    def __init__(self, vocab=None, namespace='', step_timeout=30.0, frame_timeout=5.0,
                 simulated=None, fov_deg=60.0, state_names=()):

        self.vocab = vocab or PrimitiveVocabulary.load()
        self.messages = messages
        self.step_timeout = step_timeout
        self.frame_timeout = frame_timeout
        self.fov_deg = fov_deg
        self._simulated = simulated
        self.spec = None
        self.tasks = {}
        self.decision = 0
        self.lock = threading.Condition()
        self.frame = None          # (rgb, stamp s, frame number, stamp ns)
        self.frames = 0
        # every joint by name, merged over publishers (a UR driver's own order, the gripper
        # in separate messages): the bags this records hold the whole robot state
        self.joints = JointStateMerger()
        # the robot state's joints: the simulator's UR5e (default), an arm's (robot.arms.
        # arm_state_names), or None: whatever joints the arm driver publishes
        self.state_names = state_joint_names() if state_names == () else (
            None if state_names is None else list(state_names))
        self.intrinsics = None     # (width, height, fx, fy, cx, cy) from camera_info
        self.outcomes = {}         # decision -> bridge outcome
        self.bridge = {}           # the arm bridge's last diagnostics values (lifecycle, held_by)
        self.events = []           # simulator episode events
        self.spun = SpunNode('teleop', namespace)
        self.node = n = self.spun.node
        self.delta_pub = n.create_publisher(Float64MultiArray, topic('primitive_delta').name,
                                            qos.command())
        self.phrase_pub = n.create_publisher(String, topic('primitive').name, qos.command())
        self.alive_pub = n.create_publisher(String, topic('vla_status').name, 10)
        self.request_pub = n.create_publisher(String, topic('episode_request').name,
                                              qos.command())
        n.create_subscription(messages.msg_class('image'), topic('image').name, self._on_image,
                              qos.sensor())
        n.create_subscription(messages.msg_class('camera_info'), topic('camera_info').name,
                              self._on_camera_info, qos.sensor())
        n.create_subscription(messages.msg_class('joint_states'), topic('joint_states').name,
                              self._on_joints, qos.joint_states())
        n.create_subscription(String, topic('primitive_status').name, self._on_outcome,
                              qos.command())
        n.create_subscription(String, topic('episode').name, self._on_event, qos.latched())
        n.create_subscription(DiagnosticArray, topic('diagnostics').name, self._on_diagnostics,
                              10)
        self.spun.start()

    # ---- inputs (spin thread) --------------------------------------------------------------
    def _on_image(self, msg):
        try:
            rgb = image_to_rgb(msg)
        except ImageError as exc:
            warn_by_reason(self.node, f'camera frame ignored: {exc}')
            return
        with self.lock:
            self.frames += 1
            self.frame = (rgb, self.messages.stamp_seconds(msg.header.stamp), self.frames,
                          stamp_to_ns(msg.header.stamp))
            self.lock.notify_all()

    def _on_camera_info(self, msg):
        k = list(msg.k)
        if msg.width and msg.height and k[0] > 0 and k[4] > 0:
            self.intrinsics = (int(msg.width), int(msg.height), k[0], k[4], k[2], k[5])

    def _on_joints(self, msg):
        with self.lock:
            try:
                self.joints.update_msg(msg)
            except JointStateError as exc:
                warn_by_reason(self.node, f'joint_states refused: {exc}')
                return
            self.lock.notify_all()

    def _on_outcome(self, msg):
        payload = self.messages.parse_json(msg)
        if payload is None or not isinstance(payload.get('decision'), int):
            return
        with self.lock:
            self.outcomes[payload['decision']] = payload
            self.lock.notify_all()

    def _on_diagnostics(self, msg):
        values = self.messages.diagnostic_values(msg, 'arm_bridge')
        if values is not None:
            with self.lock:
                self.bridge = values
                self.lock.notify_all()

    def _bridge_ready(self):
        """The bridge is active and nothing but its VLA watchdog holds it (a command releases
        that one): a step now is executed (or dry-run), not refused."""
        return self.bridge.get('lifecycle') == 'active' and \
            self.messages.held_by(self.bridge) <= {'watchdog'}

    def _on_event(self, msg):
        payload = self.messages.parse_json(msg)
        if payload is None:
            return
        with self.lock:
            self.events.append(payload)
            self.lock.notify_all()

    def _wait(self, predicate, timeout, heartbeat=False):
        """Wait (on the condition) until ``predicate()`` holds; False on timeout."""
        deadline = time.monotonic() + timeout
        next_beat = 0.0
        with self.lock:
            while not predicate():
                now = time.monotonic()
                if now >= deadline:
                    return False
                if heartbeat and now >= next_beat:
                    self.alive_pub.publish(self.messages.json_string(
                        {'state': 'teleop', 'decision': self.decision}))
                    next_beat = now + HEARTBEAT_PERIOD
                self.lock.wait(min(0.05, deadline - now))
            return True

    # ---- the graph -------------------------------------------------------------------------
    def wait_ready(self, timeout=30.0):
        """Until an arm bridge listens and a camera frame and a joint state have arrived."""
        deadline = time.monotonic() + timeout
        bridge = topic('primitive_delta').name
        while self.node.count_subscribers(bridge) < 1:
            if time.monotonic() > deadline:
                raise ArmGraphError(
                    f'no arm bridge subscribes to {bridge!r} after {timeout:.0f} s: start the '
                    'graph without the VLA node, e.g. `contrastive-vla launch robot vla:=false '
                    'enable_actuation:=true autostart:=true` (or `launch sim vla:=false`), in '
                    'the same ROS_DOMAIN_ID and namespace')
            time.sleep(0.1)
        if not self._wait(lambda: self.frame is not None, max(0.1, deadline - time.monotonic())):
            raise ArmGraphError(f'no camera frame on {topic("image").name!r} after '
                                f'{timeout:.0f} s (is the camera node or simulator running?)')
        if self.state_names is None and self._wait(lambda: bool(self.joints.names),
                                                   max(0.1, deadline - time.monotonic())):
            with self.lock:
                self.state_names = list(self.joints.names)
        if not self._wait(lambda: self.joints.has(self.state_names or ['?']),
                          max(0.1, deadline - time.monotonic())):
            with self.lock:
                heard, missing = self.joints.names, self.joints.missing(self.state_names)
            if heard:
                raise ArmGraphError(
                    f'no joint state for joint(s) {", ".join(missing)} on '
                    f'{topic("joint_states").name!r} after {timeout:.0f} s (heard of: '
                    f'{", ".join(heard)}); the demonstrations need every joint of the arm '
                    'description (is the gripper driver running?)')
            raise ArmGraphError(f'no joint state on {topic("joint_states").name!r} after '
                                f'{timeout:.0f} s (is the arm driver running?)')
        # the bridge subscribes when it is configured; it executes once active and trusting
        # the joint states (its diagnostics say so once a second)
        if not self._wait(self._bridge_ready, max(1.5, deadline - time.monotonic())):
            with self.lock:
                bridge = dict(self.bridge)
            if not bridge:
                raise ArmGraphError('the arm bridge publishes no diagnostics on '
                                    f'{topic("diagnostics").name!r}: is it configured?')
            if bridge.get('lifecycle') != 'active':
                raise ArmGraphError('the arm bridge is inactive: activate it (`ros2 lifecycle '
                                    'set /arm_bridge activate`) or launch with autostart:=true')
            raise ArmGraphError(f'the arm bridge is held by {bridge.get("held_by")} (an e-stop '
                                'to release, or joint states it does not trust yet)')
        if self._simulated is None:
            self._simulated = self.node.count_subscribers(topic('episode_request').name) > 0
        return self

    @property
    def simulated(self):
        return bool(self._simulated)

    def now(self):
        """The graph's time: the newest joint state's stamp (the arm driver's clock)."""
        with self.lock:
            newest = self.joints.newest_ns
        return newest / NS_PER_S if newest is not None else 0.0

    # ---- episodes --------------------------------------------------------------------------
    def reset(self, task_id, seed, instruction=None):
        if self.simulated:
            with self.lock:
                self.events.clear()
            request = {'task': task_id, 'seed': int(seed)}
            if instruction:
                request['instruction'] = instruction
            self.request_pub.publish(self.messages.json_string(request))
            if not self._wait(lambda: self._started(task_id, seed), 30.0):
                raise ArmGraphError(f'the simulator did not start {task_id} seed {seed} '
                                    'within 30 s')
            event = self._started(task_id, seed)
            if event.get('event') == 'error':
                raise ArmGraphError(f'the simulator refused the episode: {event["message"]}')
            instruction = event['instruction']
        elif not instruction or not str(instruction).strip():
            raise ArmGraphError('with a real arm the task instruction comes from you: pass '
                                '--instruction "..." (and arrange the scene before starting)')
        # the scene's objects are the person's (real arm) or the simulator node's: unknown here
        self.spec = EpisodeSpec(task_id, int(seed), str(instruction).strip(), {}, [], [])
        self._fresh_frame()
        return self.observe()

    def _started(self, task_id, seed):
        for event in self.events:
            if event.get('event') == 'error' or (
                    event.get('event') == 'start' and event.get('task') == task_id
                    and event.get('seed') == int(seed)):
                return event
        return None

    def success(self):
        """The simulator's success event in this episode (a real arm: the person says)."""
        with self.lock:
            return any(e.get('event') == 'success' for e in self.events)

    # ---- acting ----------------------------------------------------------------------------
    def step(self, action):
        """Execute a primitive (or a raw 8-D delta) through the bridge and wait for its
        outcome and a camera frame taken after it."""
        if self.spec is None:
            raise RuntimeError('call reset() before step()')
        primitive = None
        if isinstance(action, (np.ndarray, list, tuple)):
            delta = np.asarray(action, dtype=np.float64).reshape(-1)
        else:
            primitive = self.vocab.resolve(action)
            delta = primitive.delta_array()
        with self.lock:
            self.decision += 1
            decision = self.decision
            image_stamp_ns = self.frame[3] if self.frame else None
        if primitive is not None:
            self.phrase_pub.publish(self.messages.string(primitive.phrase))
        self.delta_pub.publish(self.messages.delta_command(delta, decision, image_stamp_ns))
        if not self._wait(lambda: decision in self.outcomes, self.step_timeout, heartbeat=True):
            raise ArmGraphError(f'the arm bridge gave no outcome for step {decision} within '
                                f'{self.step_timeout:.0f} s (did it die?)')
        with self.lock:
            outcome = self.outcomes.pop(decision)
        status = str(outcome.get('status', '?'))
        message = str(outcome.get('message') or '')
        if status == Outcome.DRY_RUN:
            message = ('the bridge is in dry run (enable_actuation:=false): nothing moved. '
                       'Restart the graph with enable_actuation:=true to teach the arm')
        if status not in NOT_EXECUTED:
            self._fresh_frame()
        return StepResult(status, message, primitive, self.success())

    def _fresh_frame(self):
        """Wait for a frame that began after now (the one arriving may be mid-exposure)."""
        with self.lock:
            seen = self.frames
        if not self._wait(lambda: self.frames >= seen + 2, self.frame_timeout):
            raise ArmGraphError(f'no new camera frame within {self.frame_timeout:.0f} s: the '
                                'camera stopped (the episode so far is kept until you say '
                                '"done" or "failed")')

    def observe(self):
        with self.lock:
            rgb, stamp, _, _ = self.frame
            # the state joints in the arm description's order, then any others heard of
            names = self.state_names + [n for n in self.joints.names
                                        if n not in self.state_names]
            reading = self.joints.positions(names)
        # no tool pose: the arm's kinematics live in the bridge; time is the frame's stamp
        return Observation(rgb, names, reading.positions, reading.velocities, None, None,
                           self.spec.instruction if self.spec else '', stamp)

    def render(self, size=None):
        with self.lock:
            rgb = self.frame[0]
        return resize_rgb(rgb, size) if size else rgb

    def camera_intrinsics(self, width, height):
        """fx, fy, cx, cy of the camera (its camera_info; else an ideal pinhole)."""
        if self.intrinsics and self.intrinsics[:2] == (width, height):
            return self.intrinsics[2:]
        return pinhole_intrinsics(width, height, self.fov_deg)

    def close(self):
        self.spun.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

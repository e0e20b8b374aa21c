"""VLA inference: newest camera frame + active instruction -> the next motion primitive.

Step-wise as CLIP-RT: one decision, then wait for the bridge's outcome of it, then decide again
from a frame taken after the motion finished (``control.decision.DecisionGate``). Publishes the
primitive's canonical phrase (``primitive``), its delta (``primitive_delta``, see
``ros.messages``), the top-k (``primitive_topk``, JSON) and a status (``vla_status``, JSON) that
doubles as the bridge's heartbeat, plus ``/diagnostics``.

A managed (lifecycle) node: ``configure`` loads the model (a bad one fails it, with the reason
logged; the node stays unconfigured and alive), only ``active`` decides (``self.deciding``);
inactive, it still follows the instruction, the e-stop and the bridge and reports ``inactive``
on ``vla_status``. At start-up it configures itself and, with ``autostart`` (default true: it
moves nothing by itself), activates too.

Stuck detection (``control.stuck``): every decision the bridge reports on ``primitive_status``
feeds the detector with its outcome and message (as ``eval-sim`` feeds it the simulator's);
when the recent ones make no progress (back and forth, A/B/A/B, gripper cycling, pushing
against the workspace boundary or unreachable targets again and again) the node stops
deciding and reports ``stuck`` on ``vla_status`` and an ERROR on ``/diagnostics`` with the
reason, until the next message on ``active_instruction`` (any new instruction, the same words
said again too) resets it. The bridge holds the arm while ``vla_status`` says ``stuck``.

Loop breaking (``control.loops``, parameter ``loop_breaking``): the same reported outcomes keep
the arm state the decisions made (their summed motion and the gripper command since the
instruction); a primitive already executed from the current state is passed over for the next
best (``primitive_topk`` lists the ones passed over in ``avoided``). The policy has no memory,
so without it a decision that returns the arm where it was repeats for ever.
"""

from dataclasses import dataclass
import time

from diagnostic_msgs.msg import DiagnosticArray
import numpy as np
from rclpy.lifecycle import LifecycleNode, TransitionCallbackReturn
from std_msgs.msg import Float64MultiArray, String
import torch

from contrastive_vla.control.decision import (
    FUTURE_IMAGE,
    STALE_IMAGE,
    STATE_STALE,
    STATE_WAIT,
    STOPPED,
    ClockSkew,
    DecisionGate,
    state_freshness,
)
from contrastive_vla.control.loops import LoopBreaker
from contrastive_vla.control.stuck import STUCK, StuckDetector, StuckLimits
from contrastive_vla.core.images import ImageError, image_to_rgb
from contrastive_vla.core.joints import JointStateError, JointStateMerger, MissingJointsError
from contrastive_vla.core.msgfields import NS_PER_S, stamp_to_ns
from contrastive_vla.core.topics import topic
from contrastive_vla.model.config import state_joint_names
from contrastive_vla.model.policy import CheckpointError, ClipRTPolicy, check_device
from contrastive_vla.model.preprocess import InputError
from contrastive_vla.ros import messages, params, qos
from contrastive_vla.ros.node_parameters import NODES
from contrastive_vla.ros.runtime import (
    ConfiguredEntities,
    NodeStartupError,
    RateMeter,
    diagnostics,
    freeze_heap,
    guarded,
    resolved_node,
    run_node,
    start_managed,
    warn_by_reason,
)


@dataclass(frozen=True)
class LatencyStats:
    p50: float
    p99: float
    last: float | None


@dataclass(frozen=True)
class VLAStatus:
    """The ``vla_status`` JSON payload (also the bridge's heartbeat)."""

    state: str
    instruction: str | None
    stopped: bool
    decisions: int
    decisions_per_s: float
    latency_ms: LatencyStats
    frames: int
    dropped_frames: int
    future_frames: int  # of the dropped: stamped in the future, never decided on
    bad_frames: int
    bad_joint_states: int
    stale_joint_states: int
    outcome_timeouts: int
    clock_offset_s: float | None  # median receive time - stamp of recent frames (+: behind)
    confidence: float | None
    primitive: str | None
    last_outcome: str | None
    stuck: str | None = None  # why the node stopped deciding (state 'stuck'), else None


def softmax(scores):
    z = np.asarray(scores, dtype=np.float64)
    z = np.exp(z - z.max())
    return z / z.sum()


class VLANode(LifecycleNode):
    def __init__(self):
        super().__init__('vla')
        self.p = params.declare(self, NODES['vla'], on_change=self.on_parameters)
        # only its releases on estop_state / listener_stop count (qos.EstopInput)
        self.listener_node = resolved_node(self, 'vla', 'listener_node')
        self.policy = self.state_names = None  # loaded by on_configure
        self.entities = None   # what on_configure created (ConfiguredEntities)
        # lifecycle state active: the one check of the decision path (the tick timer and the
        # decide_soon guard condition run tick() only while it holds)
        self.deciding = False
        self.gate = DecisionGate(self.p['max_image_age'], self.p['done_timeout'],
                                 wait_for_outcome=self.p['wait_for_outcome'],
                                 max_future_stamp=self.p['max_future_stamp'])
        self.skew = ClockSkew()  # the camera's clock against this node's
        self.stuck = self._stuck_detector()  # None: stuck_detection off
        self.loops = LoopBreaker()  # used while loop_breaking is on
        # (decision id, delta, name, vocabulary index, passed over the policy's choice) of the
        # decision the arm executes
        self.motion = None

        self.frame = None            # newest Image message
        self.frame_dropped = False   # that frame already counted as dropped
        self.joints = None           # state_names positions, once every joint was heard of
        # by joint name, merged over every publisher (a UR driver's own joint order; the
        # gripper in separate messages from another node)
        self.joint_states = JointStateMerger()
        self.decision_id = 0
        self.frames = self.dropped = self.bad_frames = self.bad_joint_states = 0
        self.stale_joint_states = 0
        self.joints_stamp = None
        self.frame_age_ms = None
        self.wants_state = False      # a decidable frame waits for joint_states
        self.state_wait_since = None  # monotonic time a decidable frame began to wait for its
        # joint state (the wait is not restarted by every newer frame, or a stream of frames
        # with a late joint-state publisher would wait for ever)
        self.latencies = []
        self.meter = RateMeter(window=10.0)
        self.reason = 'starting'
        self.last = {}
        # Decide as soon as a frame allows: the callbacks that can make a frame decidable (a
        # frame, a joint state the frame waits for, the outcome of the last primitive, an
        # instruction) trigger this guard condition, and the executor runs tick() right after
        # the callback returns. The timer is only the fallback for what no message announces:
        # the end of the joint-state wait, the done_timeout, a frame growing stale.
        self.decide_soon = self.create_guard_condition(self._if_deciding(self.tick))
        start_managed(self, self.p['autostart'])

    # ---- lifecycle ---------------------------------------------------------------------------
    def on_configure(self, state):
        try:
            self.policy = self._load_policy()
        except Exception as exc:  # noqa: BLE001 - whatever it is, the reason is logged
            self.policy = self.state_names = None
            reason = str(exc) if isinstance(exc, NodeStartupError) else \
                f'vla: cannot load model {self.p["model"]!r}: {type(exc).__name__}: {exc}'
            self.get_logger().error(reason)
            self.reason = f'unconfigured: {reason}'
            return TransitionCallbackReturn.FAILURE
        with ConfiguredEntities(self) as self.entities:
            # decisions: lifecycle publishers, silent unless the node is active
            self.primitive_pub = self.create_lifecycle_publisher(
                String, topic('primitive').name, qos.command())
            self.delta_pub = self.create_lifecycle_publisher(
                Float64MultiArray, topic('primitive_delta').name, qos.command())
            self.topk_pub = self.create_lifecycle_publisher(String, topic('primitive_topk').name,
                                                            10)
            self.status_pub = self.create_publisher(String, topic('vla_status').name, 10)
            self.diag_pub = self.create_publisher(DiagnosticArray, topic('diagnostics').name, 10)
            self.create_subscription(messages.msg_class('image'), topic('image').name,
                                     guarded(self, 'image', self.on_image),
                                     qos.sensor(reliable=self.p['reliable_images']))
            self.create_subscription(messages.msg_class('joint_states'),
                                     topic('joint_states').name,
                                     guarded(self, 'joint_states', self.on_joint_states),
                                     qos.joint_states())
            self.create_subscription(String, topic('active_instruction').name,
                                     guarded(self, 'active_instruction', self.on_instruction),
                                     qos.latched())
            # estop from anyone (default QoS) + estop_state (latched, the listener's relay)
            self.estop_input = qos.EstopInput(self, self.on_estop, self.listener_node)
            self.create_subscription(String, topic('primitive_status').name,
                                     guarded(self, 'primitive_status', self.on_status),
                                     qos.command())
            self.create_timer(self.p['tick_period'], self._if_deciding(self.tick))
            self.create_timer(self.p['status_period'], self.report)
        self.reason = 'inactive'
        self.get_logger().info(f'policy {self.p["model"]!r} loaded '
                               f'({len(self.policy.vocab)} primitives)')
        freeze_heap()  # the model's objects: no full garbage collection pauses a decision
        return super().on_configure(state)

    def on_activate(self, state):
        self.deciding = True
        self.reason = 'active'
        self.get_logger().info('active: deciding')
        return super().on_activate(state)

    def on_deactivate(self, state):
        self.stop_deciding()
        return super().on_deactivate(state)

    def on_cleanup(self, state):
        self.release()
        return super().on_cleanup(state)

    def on_shutdown(self, state):
        self.release()
        return super().on_shutdown(state)

    def stop_deciding(self):
        if self.deciding:
            self.get_logger().info('inactive: no more decisions')
        self.deciding = False
        self.reason = 'inactive'

    def release(self):
        """cleanup / shutdown: no more decisions, then drop what on_configure made."""
        self.stop_deciding()
        if self.entities is not None:
            self.entities.destroy()
            self.entities = None
        self.policy = self.state_names = None

    def _if_deciding(self, callback):
        """``callback`` run only while the node is active (the decision path's gate)."""
        def gated():
            if self.deciding:
                callback()
        return gated

    def _stuck_detector(self):
        if not self.p['stuck_detection']:
            return None
        try:
            return StuckDetector(StuckLimits(
                window=self.p['stuck_window'], min_progress=self.p['stuck_min_progress'],
                min_path=self.p['stuck_min_path'], cycles=self.p['stuck_cycles'],
                gripper_toggles=self.p['stuck_gripper_toggles'],
                loop_breaks=self.p['stuck_loop_breaks']))
        except ValueError as exc:
            raise NodeStartupError(f'vla: {exc}') from None

    def _load_policy(self):
        if self.p['threads'] > 0:
            torch.set_num_threads(self.p['threads'])
        try:
            check_device(self.p['device'])
        except ValueError as exc:
            raise NodeStartupError(f'vla: parameter device {self.p["device"]!r}: {exc}') from None
        try:
            policy = ClipRTPolicy.load(self.p['model'], device=self.p['device'])
        except (CheckpointError, OSError, ValueError, RuntimeError) as exc:
            raise NodeStartupError(f'vla: cannot load model {self.p["model"]!r}: {exc}') from None
        policy.primitive_embeddings()  # fill the cache before the first decision
        # the first decision would pay the backend's first-call costs (30 ms on 2 cores,
        # 170 ms on a GPU): pay them now, and fail here on a device that cannot run the model
        try:
            took = policy.warm_up()
        except (InputError, RuntimeError) as exc:
            raise NodeStartupError(f'vla: model {self.p["model"]!r} cannot decide on '
                                   f'{self.p["device"]}: {exc}') from None
        self.get_logger().info(f'warmed up: {took[0]:.1f} ms, then {took[-1]:.1f} ms a '
                               'decision')
        self.state_names = None
        if policy.cfg.state_dim and self.p['use_joint_states']:
            self.state_names = state_joint_names()
        return policy

    def on_parameters(self, values, changed):
        """``ros2 param set`` of a dynamic parameter (checked by params.declare): the decision
        gate takes the new ages; top_k, min_confidence and the joint_state_* are read when
        used. (use_joint_states stays read-only: a model with proprioception cannot decide
        without the joints, one without ignores them.)"""
        self.gate.set_limits(values['max_image_age'], values['done_timeout'],
                             values['max_future_stamp'])

    def now(self):
        return self.get_clock().now().nanoseconds * 1e-9

    # ---- inputs ----------------------------------------------------------------------------
    def on_image(self, msg):
        self.frames += 1
        self.frame = msg
        self.frame_dropped = False
        stamp = stamp_to_ns(msg.header.stamp) / NS_PER_S
        now = self.now()
        if now > 0:  # under use_sim_time, 0 until the first /clock: no offset to learn
            self.skew.add(stamp, now)
        if self.gate.may_decide(stamp):
            self.decide_soon.trigger()

    def on_joint_states(self, msg):
        if self.state_names is None:
            return
        try:  # unstamped: as received
            self.joint_states.update_msg(msg, self.get_clock().now().nanoseconds)
        except JointStateError as exc:
            self.bad_joint_states += 1
            warn_by_reason(self, f'joint_states refused: {exc}; ignored')
            return
        try:
            reading = self.joint_states.positions(self.state_names)
        except MissingJointsError:
            return  # not every joint heard of yet: tick() says which are missing
        # as current as the oldest joint state it merges (state_freshness checks it)
        self.joints, self.joints_stamp = reading.positions, reading.stamp_ns / NS_PER_S
        if self.wants_state:  # a decidable frame waits for the joint state
            self.decide_soon.trigger()

    def on_instruction(self, msg):
        self.loops.reset()  # a new instruction (or the same one again): every state is new
        if self.stuck is not None:  # a new instruction (or the same one again): start afresh
            was_stuck = self.stuck.stuck
            self.stuck.reset()
            if was_stuck:  # say so at once: the bridge lifts its hold 'stuck' on this status
                self.get_logger().info('new instruction: no longer stuck')
                self.reason = 'new instruction'
                self.report()
        self.gate.set_instruction(msg.data, self.now())
        self.get_logger().info(f'acting on: {msg.data!r}')
        self.say_reading(msg.data)
        self.encode_ahead(msg.data)
        self.decide_soon.trigger()  # a frame stamped with the instruction (a replayed bag)

    def encode_ahead(self, instruction):
        """Encode a new instruction as it arrives (the policy caches it), so the first
        decision on it is one image pass: the text tower is off the camera -> command path."""
        if self.policy is None or not instruction.strip():
            return
        try:
            self.policy.instruction_encoding(instruction)
        except InputError:
            pass  # the decision reports it

    def say_reading(self, instruction):
        """Log how the model reads colour names it never saw (core/colours.py)."""
        if self.policy is None:
            return
        try:
            reading = self.policy.read_instruction(instruction)
        except InputError:
            return  # the decision reports it
        if reading.unclear:
            self.get_logger().warning(f'the model may not understand it: '
                                      f'{reading.describe()}')
        elif reading.swaps:
            self.get_logger().info(f'the model reads it as {reading.text!r} '
                                   f'({reading.describe()})')

    def on_estop(self, raised):
        """The combined e-stop (qos.EstopInput), after every message on either topic."""
        if raised != self.gate.stopped:
            self.get_logger().info('stopped' if raised else 'stop released')
        self.gate.set_stopped(raised, self.now())

    def on_status(self, msg):
        status = messages.parse_json(msg)
        if status is not None and self.gate.finished(status.get('decision'), self.now()):
            self.last['outcome'] = status.get('status')
            self._check_progress(status.get('decision'), status.get('status'),
                                 status.get('message'))
            self.decide_soon.trigger()  # a frame stamped after the outcome may be here already

    def _check_progress(self, decision_id, outcome, message):
        """Feed the stuck detector the decision the bridge just reported with its outcome and
        message (the detector ignores refused, rejected, dry-run primitives; it counts
        unreachable ones and pushes against the workspace boundary as not moving the arm)."""
        motion, self.motion = self.motion, None
        if motion is None or motion[0] != decision_id or not isinstance(outcome, str):
            return
        self.loops.observe(motion[3], motion[1], outcome, message)
        if self.stuck is None:
            return
        reason = self.stuck.observe(motion[1], motion[2], outcome, message,
                                    passed_over=motion[4])
        if reason is not None:
            self.reason = STUCK
            self.get_logger().error(f'stuck after {self.stuck.decisions} decisions: {reason}; '
                                    'no more decisions until a new instruction')

    # ---- deciding --------------------------------------------------------------------------
    def tick(self):
        """Decide if the gate is open (called by the decide_soon guard condition right after a
        callback that may have opened it, and by the fallback timer)."""
        if self.stuck is not None and self.stuck.stuck:
            # a stop said meanwhile is what the user did last: say that (stuck stays in
            # vla_status' 'stuck' until a new instruction)
            self.reason = STOPPED if self.gate.stopped else STUCK
            return
        frame = self.frame
        stamp_ns = stamp_to_ns(frame.header.stamp) if frame is not None else None
        stamp = stamp_ns / NS_PER_S if frame is not None else None
        verdict = self.gate.check(stamp, self.now())
        self.reason = verdict.reason
        self.wants_state = False
        # a frame too old or stamped in the future (counted by the gate too) is dropped
        if verdict.reason in (STALE_IMAGE, FUTURE_IMAGE) and not self.frame_dropped:
            self.dropped += 1
            self.frame_dropped = True
        if not verdict.ready:
            self.state_wait_since = None
            return
        started = time.perf_counter()
        # how old the frame is when the decision starts: transport + scheduling (the bench's
        # breakdown of camera -> command)
        self.frame_age_ms = (self.get_clock().now().nanoseconds - stamp_ns) * 1e-6
        state = self._paired_state(stamp)
        if state is False:
            return
        try:
            # a view of the message's bytes where possible: the frame is only read, and the
            # message is not reused before this decision ends
            rgb = image_to_rgb(frame, copy=False)
        except ImageError as exc:
            self._bad_frame(f'camera frame rejected: {exc}')
            return
        try:
            scores = self.policy.scores(rgb, self.gate.instruction, state)
        except InputError as exc:
            self._bad_frame(f'cannot decide: {exc}')
            return
        self._publish_decision(scores, stamp, stamp_ns, started)

    def _paired_state(self, stamp):
        """The joint positions to decide with (None: the model needs none), or False while
        a decidable frame waits for them (then a joint state triggers the next try)."""
        if self.state_names is None:
            return None
        if self.joints is None:
            self.wants_state = True
            missing = self.joint_states.missing(self.state_names)
            self.reason = 'waiting for joint_states' + (
                f' of {", ".join(missing)}' if self.joint_states.names else '')
            if self.joint_states.names:
                self.get_logger().warning(
                    f'no joint state for joint(s) {", ".join(missing)} (heard of: '
                    f'{", ".join(self.joint_states.names)}): cannot decide',
                    throttle_duration_sec=5.0)
            return False
        now = time.monotonic()
        if self.state_wait_since is None:
            self.state_wait_since = now
        freshness = state_freshness(
            self.joints_stamp, stamp, now - self.state_wait_since,
            self.p['joint_state_tolerance'], self.p['joint_state_wait'])
        if freshness == STATE_WAIT:
            self.wants_state = True
            self.reason = 'waiting for the joint state taken with the frame'
            return False
        self.state_wait_since = None
        if freshness == STATE_STALE:
            self.stale_joint_states += 1
        return self.joints

    def _publish_decision(self, scores, stamp, stamp_ns, started):
        probabilities = softmax(scores)
        order = np.argsort(-scores, kind='stable')
        # the policy's choice, unless it was already executed from this arm state
        if self.p['loop_breaking']:
            chosen, passed_over = self.loops.choose(scores), self.loops.passed_over
        else:
            chosen, passed_over = int(order[0]), []
        avoided = [self.policy.vocab[i].phrase for i in passed_over]
        best = self.policy.vocab[chosen]
        confidence = float(probabilities[chosen])
        latency_ms = (time.perf_counter() - started) * 1e3
        self.latencies = (self.latencies + [latency_ms])[-500:]
        self.last.update(primitive=best.phrase, confidence=round(confidence, 4),
                         latency_ms=round(latency_ms, 2))
        topk = [{'primitive': self.policy.vocab[int(i)].phrase, 'score': float(scores[i]),
                 'probability': float(probabilities[i])} for i in order[:self.p['top_k']]]
        if confidence < self.p['min_confidence']:
            self.reason = f'low confidence {confidence:.2f} < {self.p["min_confidence"]:.2f}'
            self.gate.frame_used(stamp)  # wait for a new frame
            self.topk_pub.publish(messages.json_string({'acted': False, 'top': topk}))
            return
        self.decision_id += 1
        # the arm's command first: the phrase and the top-k are for people and recorders
        self.delta_pub.publish(messages.delta_command(best.delta_array(), self.decision_id,
                                                      stamp_ns))
        self.primitive_pub.publish(messages.string(best.phrase))
        self.topk_pub.publish(messages.json_string({
            'acted': True, 'decision': self.decision_id, 'decision_ms': round(latency_ms, 3),
            'frame_age_ms': round(self.frame_age_ms, 3), 'image_stamp_ns': stamp_ns,
            'top': topk, 'avoided': avoided}))
        self.gate.decided(self.decision_id, self.now(), stamp)
        self.motion = (self.decision_id, best.delta_array(), best.name, chosen,
                       bool(passed_over))
        self.meter.tick()
        self.get_logger().info(f'#{self.decision_id} {best.phrase!r} (p={confidence:.2f}, '
                               f'{latency_ms:.1f} ms)' + (
                                   f'; passed over, already tried from here: {avoided}'
                                   if avoided else ''))

    def _bad_frame(self, message):
        self.bad_frames += 1
        self.dropped += 1
        self.frame = None
        warn_by_reason(self, message, 2.0)

    # ---- reporting -------------------------------------------------------------------------
    def status(self):
        lat = np.asarray(self.latencies) if self.latencies else np.zeros(1)
        return VLAStatus(
            state=self.reason, instruction=self.gate.instruction, stopped=self.gate.stopped,
            decisions=self.decision_id, decisions_per_s=round(self.meter.rate(), 3),
            latency_ms=LatencyStats(round(float(np.percentile(lat, 50)), 3),
                                    round(float(np.percentile(lat, 99)), 3),
                                    self.last.get('latency_ms')),
            frames=self.frames, dropped_frames=self.dropped,
            future_frames=self.gate.future_frames, bad_frames=self.bad_frames,
            bad_joint_states=self.bad_joint_states, stale_joint_states=self.stale_joint_states,
            outcome_timeouts=self.gate.timeouts,
            clock_offset_s=None if self.skew.offset is None else round(self.skew.offset, 4),
            confidence=self.last.get('confidence'),
            primitive=self.last.get('primitive'), last_outcome=self.last.get('outcome'),
            stuck=self.stuck.reason if self.stuck is not None else None)

    def report(self):
        status = self.status()
        self.status_pub.publish(messages.json_string(status))
        level = 'warn' if self.reason in (STALE_IMAGE, FUTURE_IMAGE, 'no image yet') and \
            self.gate.instruction else 'ok'
        message = self.reason
        # a camera clock off by more than a frame may be: every frame is dropped, say why
        skewed = self.skew.warning(self.gate.max_image_age, self.gate.max_future_stamp)
        if skewed is not None:
            level, message = 'warn', skewed
            self.get_logger().warning(skewed, throttle_duration_sec=10.0)
        if status.stuck is not None:  # no decisions until a new instruction: say why
            level, message = 'error', f'stuck: {status.stuck}; waiting for a new instruction'
        self.diag_pub.publish(diagnostics(self, 'contrastive_vla: vla', level, message, {
            'decisions': status.decisions, 'decisions_per_s': status.decisions_per_s,
            'latency_p50_ms': status.latency_ms.p50,
            'dropped_frames': status.dropped_frames, 'future_frames': status.future_frames,
            'clock_offset_s': status.clock_offset_s, 'confidence': status.confidence,
            'stuck': status.stuck}))


def main(args=None):
    return run_node(VLANode, args)


if __name__ == '__main__':
    raise SystemExit(main())

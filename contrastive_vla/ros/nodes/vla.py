"""VLA inference: newest camera frame + active instruction -> the next motion primitive.

Step-wise as CLIP-RT: one decision, then wait for the bridge's outcome of it, then decide again
from a frame taken after the motion finished (``control.decision.DecisionGate``). Publishes the
primitive's canonical phrase (``primitive``), its delta (``primitive_delta``, see
``ros.messages``), the top-k (``primitive_topk``, JSON) and a status (``vla_status``, JSON) that
doubles as the bridge's heartbeat, plus ``/diagnostics``.
"""

from dataclasses import dataclass
import time

from diagnostic_msgs.msg import DiagnosticArray
import numpy as np
from rclpy.node import Node
from std_msgs.msg import Bool, Float64MultiArray, String
import torch

from contrastive_vla.control.decision import (
    STALE_IMAGE,
    STATE_STALE,
    STATE_WAIT,
    DecisionGate,
    state_freshness,
)
from contrastive_vla.core.images import ImageError, image_to_rgb
from contrastive_vla.core.msgfields import NS_PER_S, stamp_to_ns
from contrastive_vla.core.topics import topic
from contrastive_vla.model.config import state_joint_names
from contrastive_vla.model.policy import CheckpointError, ClipRTPolicy
from contrastive_vla.model.preprocess import InputError
from contrastive_vla.ros import messages, params, qos
from contrastive_vla.ros.node_parameters import NODES
from contrastive_vla.ros.runtime import NodeStartupError, RateMeter, diagnostics, run_node


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
    bad_frames: int
    bad_joint_states: int
    stale_joint_states: int
    outcome_timeouts: int
    confidence: float | None
    primitive: str | None
    last_outcome: str | None


def softmax(scores):
    z = np.asarray(scores, dtype=np.float64)
    z = np.exp(z - z.max())
    return z / z.sum()


class VLANode(Node):
    def __init__(self):
        super().__init__('vla')
        self.p = params.declare(self, NODES['vla'])
        self.policy = self._load_policy()
        self.gate = DecisionGate(self.p['max_image_age'], self.p['done_timeout'],
                                 wait_for_outcome=self.p['wait_for_outcome'])

        self.primitive_pub = self.create_publisher(String, topic('primitive').name,
                                                   qos.command())
        self.delta_pub = self.create_publisher(Float64MultiArray, topic('primitive_delta').name,
                                               qos.command())
        self.topk_pub = self.create_publisher(String, topic('primitive_topk').name, 10)
        self.status_pub = self.create_publisher(String, topic('vla_status').name, 10)
        self.diag_pub = self.create_publisher(DiagnosticArray, topic('diagnostics').name, 10)
        self.create_subscription(messages.msg_class('image'), topic('image').name,
                                 self.on_image, qos.sensor(reliable=self.p['reliable_images']))
        self.create_subscription(messages.msg_class('joint_states'), topic('joint_states').name,
                                 self.on_joint_states, qos.sensor())
        self.create_subscription(String, topic('active_instruction').name, self.on_instruction,
                                 qos.latched())
        self.create_subscription(Bool, topic('estop').name, self.on_estop, qos.latched())
        self.create_subscription(String, topic('primitive_status').name, self.on_status,
                                 qos.command())
        self.frame = None            # newest Image message
        self.frame_dropped = False   # that frame already counted as dropped
        self.joints = None
        self.decision_id = 0
        self.frames = self.dropped = self.bad_frames = self.bad_joint_states = 0
        self.stale_joint_states = 0
        self.joints_stamp = None
        self.frame_arrival = time.monotonic()
        self.latencies = []
        self.meter = RateMeter(window=10.0)
        self.reason = 'starting'
        self.last = {}
        self.create_timer(self.p['tick_period'], self.tick)
        self.create_timer(self.p['status_period'], self.report)
        self.get_logger().info(f'policy {self.p["model"]!r} loaded '
                               f'({len(self.policy.vocab)} primitives)')

    def _load_policy(self):
        if self.p['threads'] > 0:
            torch.set_num_threads(self.p['threads'])
        try:
            policy = ClipRTPolicy.load(self.p['model'], device=self.p['device'])
        except (CheckpointError, OSError, ValueError, RuntimeError) as exc:
            raise NodeStartupError(f'vla: cannot load model {self.p["model"]!r}: {exc}') from None
        policy.primitive_embeddings()  # fill the cache before the first decision
        self.state_names = None
        if policy.cfg.state_dim and self.p['use_joint_states']:
            self.state_names = state_joint_names()
        return policy

    def now(self):
        return self.get_clock().now().nanoseconds * 1e-9

    # ---- inputs ----------------------------------------------------------------------------
    def on_image(self, msg):
        self.frames += 1
        self.frame = msg
        self.frame_arrival = time.monotonic()
        self.frame_dropped = False

    def on_joint_states(self, msg):
        positions = dict(zip(msg.name, msg.position))
        if self.state_names is None:
            return
        try:
            q = np.array([positions[n] for n in self.state_names], dtype=np.float64)
        except KeyError as exc:
            self.bad_joint_states += 1
            self.get_logger().warning(f'joint_states lacks joint {exc}; ignored',
                                      throttle_duration_sec=5.0)
            return
        if not np.all(np.isfinite(q)):
            self.bad_joint_states += 1
            self.get_logger().warning('joint_states has non-finite positions; ignored',
                                      throttle_duration_sec=5.0)
            return
        self.joints = q
        stamp = messages.stamp_seconds(msg.header.stamp)
        self.joints_stamp = stamp if stamp > 0 else self.now()  # unstamped: as received

    def on_instruction(self, msg):
        self.gate.set_instruction(msg.data, self.now())
        self.get_logger().info(f'acting on: {msg.data!r}')

    def on_estop(self, msg):
        self.gate.set_stopped(bool(msg.data), self.now())
        self.get_logger().info('stopped' if msg.data else 'stop released')

    def on_status(self, msg):
        status = messages.parse_json(msg)
        if status is not None and self.gate.finished(status.get('decision'), self.now()):
            self.last['outcome'] = status.get('status')

    # ---- deciding --------------------------------------------------------------------------
    def tick(self):
        frame = self.frame
        stamp_ns = stamp_to_ns(frame.header.stamp) if frame is not None else None
        stamp = stamp_ns / NS_PER_S if frame is not None else None
        verdict = self.gate.check(stamp, self.now())
        self.reason = verdict.reason
        if verdict.reason == STALE_IMAGE and not self.frame_dropped:
            self.dropped += 1
            self.frame_dropped = True
        if not verdict.ready:
            return
        started = time.perf_counter()
        try:
            rgb = image_to_rgb(frame)
        except ImageError as exc:
            self._bad_frame(f'camera frame rejected: {exc}')
            return
        state = None
        if self.state_names is not None:
            if self.joints is None:
                self.reason = 'waiting for joint_states'
                return
            freshness = state_freshness(
                self.joints_stamp, stamp, time.monotonic() - self.frame_arrival,
                self.p['joint_state_tolerance'], self.p['joint_state_wait'])
            if freshness == STATE_WAIT:
                self.reason = 'waiting for the joint state taken with the frame'
                return
            if freshness == STATE_STALE:
                self.stale_joint_states += 1
            state = self.joints
        try:
            scores = self.policy.scores(rgb, self.gate.instruction, state)
        except InputError as exc:
            self._bad_frame(f'cannot decide: {exc}')
            return
        probabilities = softmax(scores)
        order = np.argsort(-scores, kind='stable')
        best = self.policy.vocab[int(order[0])]
        confidence = float(probabilities[order[0]])
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
        self.primitive_pub.publish(messages.string(best.phrase))
        self.delta_pub.publish(messages.delta_command(best.delta_array(), self.decision_id,
                                                      stamp_ns))
        self.topk_pub.publish(messages.json_string({
            'acted': True, 'decision': self.decision_id, 'decision_ms': round(latency_ms, 3),
            'image_stamp_ns': stamp_ns, 'top': topk}))
        self.gate.decided(self.decision_id, self.now(), stamp)
        self.meter.tick()
        self.get_logger().info(f'#{self.decision_id} {best.phrase!r} (p={confidence:.2f}, '
                               f'{latency_ms:.1f} ms)')

    def _bad_frame(self, message):
        self.bad_frames += 1
        self.dropped += 1
        self.frame = None
        self.get_logger().warning(message, throttle_duration_sec=2.0)

    # ---- reporting -------------------------------------------------------------------------
    def status(self):
        lat = np.asarray(self.latencies) if self.latencies else np.zeros(1)
        return VLAStatus(
            state=self.reason, instruction=self.gate.instruction, stopped=self.gate.stopped,
            decisions=self.decision_id, decisions_per_s=round(self.meter.rate(), 3),
            latency_ms=LatencyStats(round(float(np.percentile(lat, 50)), 3),
                                    round(float(np.percentile(lat, 99)), 3),
                                    self.last.get('latency_ms')),
            frames=self.frames, dropped_frames=self.dropped, bad_frames=self.bad_frames,
            bad_joint_states=self.bad_joint_states, stale_joint_states=self.stale_joint_states,
            outcome_timeouts=self.gate.timeouts, confidence=self.last.get('confidence'),
            primitive=self.last.get('primitive'), last_outcome=self.last.get('outcome'))

    def report(self):
        status = self.status()
        self.status_pub.publish(messages.json_string(status))
        level = 'warn' if self.reason in (STALE_IMAGE, 'no image yet') and \
            self.gate.instruction else 'ok'
        self.diag_pub.publish(diagnostics(self, 'contrastive_vla: vla', level, self.reason, {
            'decisions': status.decisions, 'decisions_per_s': status.decisions_per_s,
            'latency_p50_ms': status.latency_ms.p50,
            'dropped_frames': status.dropped_frames, 'confidence': status.confidence}))


def main(args=None):
    return run_node(VLANode, args)


if __name__ == '__main__':
    raise SystemExit(main())

"""Bag player: publishes a recorded bag's camera and instruction into the running graph at the
original rate (or scaled), with ``/clock`` following bag time, so the graph runs on the bag's
clock (use_sim_time) and the recorded stamps are fresh to it. After the last message it
publishes ``{"event": "end"}`` on ``replay_status`` (latched) and idles."""

import dataclasses
import threading
import time

from rclpy.node import Node
from rosgraph_msgs.msg import Clock
from std_msgs.msg import String

from contrastive_vla.bag import BagError, find_bags, open_bag
from contrastive_vla.core.msgfields import NS_PER_S, ns_to_time_fields, stamp_to_ns
from contrastive_vla.core.topics import topic
from contrastive_vla.ros import messages, params, qos
from contrastive_vla.ros.node_parameters import NODES
from contrastive_vla.ros.runtime import NodeStartupError, guarded, run_node

LOCKSTEP_TIMEOUT = 10.0
# While waiting for a decision, the clock creeps on by at most this much: timers on the graph's
# clock (the VLA node's decision tick) fire only when it moves.
LOCKSTEP_CLOCK_NS = 50_000_000


class BagPlayer(Node):
    def __init__(self):
        super().__init__('player')
        self.p = params.declare(self, NODES['player'])
        try:
            self.bags = find_bags([self.p['bag']]) if self.p['bag'] else []
        except (FileNotFoundError, ValueError) as exc:
            raise NodeStartupError(f'player: {exc}') from None
        if not self.bags:
            raise NodeStartupError('player: no bag given (bag:=PATH)')
        self.pubs = {
            self.p['image_topic']: self.create_publisher(
                messages.msg_class('image'), topic('image').name, qos.sensor_publisher()),
            self.p['instruction_topic']: self.create_publisher(
                String, topic('instruction').name, qos.command()),
            self.p['joint_states_topic']: self.create_publisher(
                messages.msg_class('joint_states'), topic('joint_states').name, 10)}
        self.clock_pub = self.create_publisher(Clock, topic('clock').name, 10)
        self.status_pub = self.create_publisher(String, topic('replay_status').name,
                                                qos.latched())
        self.published = 0
        self.clock_floor = None  # the newest /clock published (ns)
        self.decided = set()   # stamps (ns) the VLA decided on since the last frame (lockstep)
        self.decided_lock = threading.Lock()  # filled by the executor, read by the play thread
        self.decided_event = threading.Event()
        if self.p['lockstep']:
            self.create_subscription(String, topic('primitive_topk').name,
                                     guarded(self, 'primitive_topk', self.on_topk), 50)
        self.stop = threading.Event()
        self.start_signal = threading.Event()
        if self.p['wait_for_start']:
            # latched: the scorer's start whenever this node came up; default: a hand-typed one
            for profile in (qos.latched(), qos.default()):
                self.create_subscription(String, topic('replay_start').name,
                                         lambda _msg: self.start_signal.set(), profile)
        else:
            self.start_signal.set()
        self.thread = threading.Thread(target=self.play, daemon=True)
        self.thread.start()

    def on_topk(self, msg):
        event = messages.parse_json(msg)
        if event and event.get('acted') and \
                messages.bounded_int(event.get('image_stamp_ns'), 0, 2 ** 64 - 1) is not None:
            with self.decided_lock:
                self.decided.add(event['image_stamp_ns'])
            self.decided_event.set()

    def _wait_for_decision(self, stamp_ns):
        deadline = time.monotonic() + LOCKSTEP_TIMEOUT
        held = self.clock_floor
        while not self.stop.is_set() and time.monotonic() < deadline:
            with self.decided_lock:
                if stamp_ns in self.decided:
                    return
            if held is not None and self.clock_floor < held + LOCKSTEP_CLOCK_NS:
                self._publish_clock(self.clock_floor + 1_000_000)
            self.decided_event.wait(0.005)
            self.decided_event.clear()
        self.get_logger().warning(f'no decision on the frame stamped {stamp_ns * 1e-9:.3f} s '
                                  f'within {LOCKSTEP_TIMEOUT:.0f} s; playing on')

    def _wait_for_subscribers(self, timeout=180.0):
        deadline = time.monotonic() + timeout
        names = (topic('image').name, topic('instruction').name)
        while time.monotonic() < deadline and not self.stop.is_set():
            if all(self.count_subscribers(n) >= 1 for n in names):
                return
            time.sleep(0.1)
        self.get_logger().warning(f'no subscribers on {names} after {timeout:.0f} s; playing')

    def play(self):
        self._wait_for_subscribers()
        while not self.start_signal.wait(0.1):
            if self.stop.is_set():
                return
        time.sleep(self.p['start_delay'])
        clock_ns = None     # graph time: bag time shifted so it never goes back between bags
        for path in self.bags:
            try:
                reader = open_bag(path)
            except (BagError, OSError) as exc:
                self.get_logger().error(f'skipping {path}: {exc}')
                continue
            with reader:
                clock_ns = self._play_bag(path, reader, clock_ns)
            if self.stop.is_set():
                return
        self.status_pub.publish(messages.json_string({'event': 'end',
                                                      'published': self.published}))
        self.get_logger().info(f'replay finished: {self.published} message(s)')
        while not self.stop.is_set() and self.p['publish_clock'] and clock_ns is not None:
            clock_ns += 20_000_000   # keep the clock running so timers downstream still fire
            self._publish_clock(clock_ns)
            time.sleep(0.02 / self.p['rate'])

    def _publish_clock(self, ns):
        """Publish /clock at ``ns``, never going back (lock-step may have run it ahead)."""
        if self.clock_floor is not None:
            ns = max(ns, self.clock_floor)
        self.clock_floor = ns
        if self.p['publish_clock']:
            self.clock_pub.publish(Clock(clock=messages.time_msg(ns * 1e-9)))

    def _play_bag(self, path, reader, clock_ns):
        topics = [self.p['image_topic'], self.p['instruction_topic']]
        missing = [t for t in topics if t not in reader.topics]
        if self.p['joint_states_topic'] in reader.topics:
            topics.append(self.p['joint_states_topic'])
        if missing:
            self.get_logger().error(f'skipping {path}: no topic(s) {missing} (it has '
                                    f'{sorted(reader.topics)})')
            return clock_ns
        store = reader.typestore
        start_bag = reader.start_ns
        offset = 0 if clock_ns is None else clock_ns + NS_PER_S - start_bag
        self.status_pub.publish(messages.json_string({'event': 'bag', 'bag': str(path),
                                                      'offset_ns': offset}))
        start_wall = time.monotonic()
        last = start_bag + offset
        pending = None  # (frame stamp, bag time) of the frame awaiting a decision (lockstep)
        for m in reader.messages(topics):
            if self.stop.is_set():
                break
            if pending is not None and m.timestamp_ns > pending[1]:
                # the frame and everything recorded at its instant (its joint state) are out:
                # wait for the decision before the bag goes on
                start_wall += self._lockstep_pause(pending[0])
                pending = None
            due = start_wall + (m.timestamp_ns - start_bag) * 1e-9 / self.p['rate']
            while not self.stop.is_set():
                now = time.monotonic()
                elapsed_ns = int((now - start_wall) * self.p['rate'] * 1e9)
                self._publish_clock(min(start_bag + offset + elapsed_ns,
                                        m.timestamp_ns + offset))
                if now >= due:
                    break
                time.sleep(min(0.01, due - now))
            msg = m.msg
            if self.p['lockstep'] and m.topic == self.p['image_topic']:
                with self.decided_lock:  # only the decision on the frame about to go out counts
                    self.decided.clear()
            if offset and hasattr(msg, 'header'):
                msg = shift_header(msg, offset)
            self.pubs[m.topic].publish(bytes(store.serialize_cdr(msg, m.msgtype)))
            self.published += 1
            last = m.timestamp_ns + offset
            if self.p['lockstep'] and m.topic == self.p['image_topic']:
                stamp = msg.header.stamp
                pending = (stamp_to_ns(stamp), m.timestamp_ns)
        if pending is not None and not self.stop.is_set():
            self._lockstep_pause(pending[0])
        return last

    def _lockstep_pause(self, stamp_ns):
        """Wait for the VLA's decision on the frame stamped ``stamp_ns``; returns the seconds
        waited (the bag clock waits too)."""
        paused = time.monotonic()
        self._wait_for_decision(stamp_ns)
        return time.monotonic() - paused

    def destroy_node(self):
        self.stop.set()
        self.thread.join(timeout=2)
        super().destroy_node()


def shift_header(msg, offset_ns):
    """A copy of a rosbags message with its header stamp moved by ``offset_ns``."""
    stamp = msg.header.stamp
    sec, nanosec = ns_to_time_fields(stamp_to_ns(stamp) + offset_ns)
    new_stamp = dataclasses.replace(stamp, sec=sec, nanosec=nanosec)
    return dataclasses.replace(msg, header=dataclasses.replace(msg.header, stamp=new_stamp))


def main(args=None):
    return run_node(BagPlayer, args)


if __name__ == '__main__':
    raise SystemExit(main())

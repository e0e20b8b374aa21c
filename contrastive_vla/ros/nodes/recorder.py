"""Records topics of a running graph into a rosbag2 bag (MCAP or sqlite3), raw CDR.

Messages are stored exactly as they arrived (serialized CDR, the bytes ``ros2 bag record``
stores), so any message type works and the bag opens with ``ros2 bag info`` / ``ros2 bag play``.
Each subscription copies the QoS of the topic's publishers (reliability, durability), like
rosbag2: latched topics (the active instruction, the e-stop) deliver their current value, and a
reliable camera is recorded without loss; the queue is deep so bursts are not dropped.
Flushed to disk about once a second: a recorder killed hard leaves a partial bag
(``contrastive-vla record --recover``) missing at most the last second.
"""

import threading
import time

from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

from contrastive_vla.bag import BagWriter
from contrastive_vla.ros.messages import type_class


def publisher_qos(node, topic, depth=1000):
    """A subscription QoS matching the publishers of ``topic`` (rosbag2's adaptation)."""
    infos = node.get_publishers_info_by_topic(topic)
    reliable = bool(infos) and all(i.qos_profile.reliability == ReliabilityPolicy.RELIABLE
                                   for i in infos)
    latched = bool(infos) and all(i.qos_profile.durability == DurabilityPolicy.TRANSIENT_LOCAL
                                  for i in infos)
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=depth,
                      reliability=ReliabilityPolicy.RELIABLE if reliable
                      else ReliabilityPolicy.BEST_EFFORT,
                      durability=DurabilityPolicy.TRANSIENT_LOCAL if latched
                      else DurabilityPolicy.VOLATILE), latched


class BagRecorder:
    """Subscribes ``topics`` on ``node`` (raw) and writes them to ``path`` until ``close``."""

    def __init__(self, node, topics, path, storage='mcap', discovery_timeout=5.0):
        self.node = node
        self.writer = BagWriter(path, storage=storage)
        self.writer.open()
        self.lock = threading.Lock()
        self.counts = {}
        self.subscriptions = []
        self.pending = list(topics)
        deadline = time.monotonic() + discovery_timeout
        while self.pending and time.monotonic() < deadline:
            self.poll()
            if self.pending:
                time.sleep(0.1)

    def poll(self):
        """Subscribe to requested topics that have publishers now (call it periodically)."""
        if not self.pending:
            return
        types = dict(self.node.get_topic_names_and_types())
        for topic in list(self.pending):
            name = topic if topic.startswith('/') else self._absolute(topic)
            if name in types and self.node.get_publishers_info_by_topic(name):
                self._subscribe(name, types[name][0])
                self.pending.remove(topic)

    def _absolute(self, topic):
        ns = self.node.get_namespace().rstrip('/')
        return f'{ns}/{topic}'

    def _subscribe(self, topic, type_name):
        qos, latched = publisher_qos(self.node, topic)
        self.writer.add_topic(topic, type_name, latched=latched)
        self.counts[topic] = 0

        def callback(raw, topic=topic):
            stamp = self.node.get_clock().now().nanoseconds
            with self.lock:
                if self.writer is not None:
                    self.writer.write_raw(topic, stamp, raw)
                    self.counts[topic] += 1

        self.subscriptions.append(self.node.create_subscription(
            type_class(type_name), topic, callback, qos, raw=True))

    def flush(self):
        """Put everything received so far on disk (call it periodically: a recorder killed
        with SIGKILL then loses at most the time since the last call)."""
        with self.lock:
            if self.writer is not None:
                self.writer.flush()

    def close(self):
        with self.lock:
            writer, self.writer = self.writer, None
        for sub in self.subscriptions:
            self.node.destroy_subscription(sub)
        if writer is not None:
            writer.close()
        return dict(self.counts)

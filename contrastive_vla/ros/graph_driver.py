"""Closed-loop episodes through the running ROS graph (the demo and its success figure).

A driver node talks to the graph only through its topics, as a person would: it asks the
simulator node for an episode (``episode_request``), says the task's instruction on
``instruction``, counts the bridge's primitive outcomes against the task's step budget, listens
for the simulator's ``success`` event, then says "stop" (the listener raises the stop, the arm
halts) before the next episode. The episodes are the ones ``eval-sim`` runs for the same tasks
and seeds, so the two success rates compare the ROS layer with the in-process loop.
"""

from dataclasses import dataclass, field
import queue
import threading
import time

import numpy as np
from std_msgs.msg import String

from contrastive_vla.core.images import ImageError, image_to_rgb
from contrastive_vla.core.topics import topic
from contrastive_vla.ros import messages, qos
from contrastive_vla.ros.launcher import GraphError
from contrastive_vla.ros.runtime import SpunNode

# subscribers that show the sim graph is up: listener, simulator, bridge
SIM_GRAPH_INPUTS = ('instruction', 'episode_request', 'primitive_delta')


@dataclass
class GraphEpisode:
    task: str
    seed: int
    instruction: str = ''
    success: bool = False
    steps: int = 0
    statuses: dict = field(default_factory=dict)
    decision_ms: list = field(default_factory=list)
    command_latency_ms: list = field(default_factory=list)
    wall_s: float = 0.0
    ended_by: str = ''

    def to_dict(self):
        return {'task': self.task, 'seed': self.seed, 'instruction': self.instruction,
                'success': self.success, 'steps': self.steps, 'statuses': self.statuses,
                'ended_by': self.ended_by, 'wall_s': round(self.wall_s, 2),
                'decision_ms': self.decision_ms}


class GraphDriver:
    """An rclpy node (``demo_driver``) spun in a background thread."""

    def __init__(self, namespace=''):
        self.messages = messages
        self.spun = SpunNode('demo_driver', namespace, own_context=False)
        self.node = n = self.spun.node
        self.instruction_pub = n.create_publisher(String, topic('instruction').name,
                                                  qos.command())
        self.request_pub = n.create_publisher(String, topic('episode_request').name,
                                              qos.command())
        self.events = queue.Queue()
        self.outcomes = queue.Queue()
        self.decisions = queue.Queue()
        self.vla_status = {}
        self.vla_status_at = 0.0  # time.monotonic() of the last vla_status
        self.frame_sink = None
        self._sink_lock = threading.Lock()
        n.create_subscription(String, topic('episode').name,
                              lambda m: self._put(self.events, m), qos.latched())
        n.create_subscription(String, topic('primitive_status').name,
                              lambda m: self._put(self.outcomes, m), qos.command())
        n.create_subscription(String, topic('primitive_topk').name,
                              lambda m: self._put(self.decisions, m), 10)
        n.create_subscription(String, topic('vla_status').name, self._on_vla_status, 10)
        n.create_subscription(messages.msg_class('image'), topic('image').name, self._on_image,
                              qos.sensor())
        self.spun.start()

    def _put(self, q, msg):
        payload = self.messages.parse_json(msg)
        if payload is not None:
            q.put(payload)

    def _on_vla_status(self, msg):
        payload = self.messages.parse_json(msg)
        if payload is not None:
            self.vla_status, self.vla_status_at = payload, time.monotonic()

    def _on_image(self, msg):
        # under the lock: set_frame_sink(None) must not return while a frame is being written
        # (closing a video writer in the middle of a write crashes OpenCV)
        with self._sink_lock:
            sink = self.frame_sink
            if sink is None:
                return
            try:
                sink(image_to_rgb(msg))
            except ImageError:
                pass

    def set_frame_sink(self, sink):
        """Send every camera frame to ``sink(rgb)`` (None: stop); safe against the spin thread."""
        with self._sink_lock:
            self.frame_sink = sink

    def say(self, text):
        self.instruction_pub.publish(self.messages.string(text))

    def wait_for_graph(self, timeout=180.0, is_alive=None, inputs=SIM_GRAPH_INPUTS):
        """Until every topic key in ``inputs`` has a subscriber and the VLA node reports."""
        n, deadline = self.node, time.monotonic() + timeout
        names = [topic(key).name for key in inputs]
        while time.monotonic() < deadline:
            if is_alive is not None:
                is_alive()
            if all(n.count_subscribers(name) >= 1 for name in names) and self.vla_status:
                return
            time.sleep(0.2)
        raise GraphError(f'the graph did not come up within {timeout:.0f} s (no subscriber on '
                         f'one of {names}, or no status from the VLA node)')

    def run_episode(self, task, seed, step_budget=None, timeout=120.0, is_alive=None):
        for q in (self.events, self.outcomes, self.decisions):
            _drain(q)
        self.request_pub.publish(self.messages.json_string({'task': task, 'seed': int(seed)}))
        start = self._wait_event(lambda e: e.get('event') == 'start' and e.get('task') == task
                                 and e.get('seed') == seed, 30.0, is_alive)
        if start is None:
            raise GraphError(f'the simulator did not start {task} seed {seed} within 30 s')
        episode = GraphEpisode(task, seed, start['instruction'])
        budget = step_budget or start['step_budget']
        began = time.monotonic()
        first_outcome = None  # when this episode's first outcome came (its decisions began)
        self.say(episode.instruction)
        while True:
            if is_alive is not None:
                is_alive()
            self._collect_decisions(episode)
            event = next_item(self.events, 0.0)
            if event and event.get('event') == 'success' and event.get('seed') == seed:
                episode.success, episode.ended_by = True, 'success'
                # success shows during the last primitive: count it once the bridge reports it
                # done (as eval-sim counts the step that succeeded)
                self._count(episode, next_item(self.outcomes, 2.0))
                break
            self._count(episode, next_item(self.outcomes, 0.05))
            if episode.steps and first_outcome is None:
                first_outcome = time.monotonic()
            # the VLA node gave up (its stuck detector) and decides no more until a new
            # instruction: end the episode there, as a person watching would. Only a status
            # sent after this episode's decisions began counts (not the last episode's)
            stuck = self.vla_status.get('stuck')
            if stuck and first_outcome is not None and self.vla_status_at > first_outcome:
                episode.ended_by = f'stuck ({stuck})'
                break
            if episode.steps >= budget:
                # the last primitive may still succeed: give its success event a moment
                event = self._wait_event(lambda e: e.get('event') == 'success', 0.5, is_alive)
                episode.success = event is not None
                episode.ended_by = 'success' if event else 'step budget'
                break
            if time.monotonic() - began > timeout:
                episode.ended_by = f'timeout ({timeout:.0f} s)'
                break
        self.say('stop')
        time.sleep(0.3)
        self._collect_decisions(episode)
        episode.wall_s = time.monotonic() - began
        return episode

    @staticmethod
    def _count(episode, outcome):
        if outcome and outcome.get('decision') is not None:
            episode.steps += 1
            status = outcome.get('status', '?')
            episode.statuses[status] = episode.statuses.get(status, 0) + 1
            if outcome.get('latency_ms') is not None:
                episode.command_latency_ms.append(outcome['latency_ms'])

    def _collect_decisions(self, episode):
        while True:
            d = next_item(self.decisions, 0.0)
            if d is None:
                return
            if d.get('acted') and d.get('decision_ms') is not None:
                episode.decision_ms.append(d['decision_ms'])

    def _wait_event(self, predicate, timeout, is_alive):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if is_alive is not None:
                is_alive()
            event = next_item(self.events, 0.05)
            if event is not None and predicate(event):
                return event
        return None

    def close(self):
        self.spun.close()


def _drain(q):
    while True:
        try:
            q.get_nowait()
        except queue.Empty:
            return


def next_item(q, timeout):
    try:
        return q.get(timeout=timeout) if timeout > 0 else q.get_nowait()
    except queue.Empty:
        return None


def percentiles(values):
    if not values:
        return {'p50': None, 'p99': None}
    v = np.asarray(values, dtype=np.float64)
    return {'p50': round(float(np.percentile(v, 50)), 3),
            'p99': round(float(np.percentile(v, 99)), 3)}

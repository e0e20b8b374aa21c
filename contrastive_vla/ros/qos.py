"""QoS of every topic of the graph, decided once: the profiles, who uses which (``ENDPOINTS``, the
README table and the ``ros2 topic info -v`` check of the tests are made from it) and the e-stop
input every e-stop-aware node uses (``EstopInput``).

Why these choices. A subscription receives from a publisher only when their QoS match; the two
policies that bite are reliability (a best-effort publisher never feeds a reliable
subscription) and durability: a *transient local* subscription does not match a *volatile*
publisher, and a volatile subscription matches both but is never given the history a
transient-local ("latched") publisher keeps for late joiners. ``ros2 topic pub`` and most
drivers publish with the ROS default (reliable, volatile, keep last 10, ``DEFAULT``), so:

- every subscription a person or another driver may feed matches ``DEFAULT``: commands are
  ``default`` themselves; sensor subscriptions are best effort (they match reliable and
  best-effort publishers; newest frame only; joint states keep the last 10, since several
  publishers may each send part of the robot);
- ``active_instruction`` (listener -> VLA node, both ours, never fed by hand: say instructions
  on ``instruction``) stays transient local on both sides, so a VLA node started late learns
  the instruction in force;
- the e-stop is fed from outside (``ros2 topic pub --once /estop std_msgs/msg/Bool "{data:
  true}"``, a hardware button driver) and must also reach nodes started later. ``estop`` is the
  input: every node listens to it with a volatile subscription (matches volatile and latched
  publishers). The instruction listener (always running) relays every ``estop`` message it
  hears, latched, on ``estop_state``, and publishes its own stop (a stop sentence), latched, on
  ``listener_stop``: two holders, kept apart so that the listener releasing its own stop never
  lifts an e-stop raised from outside (``control.stops``). It never listens to
  ``estop_state`` itself, so it never hears its own echo. The bridge and the VLA node listen
  to all three (``EstopInput``): ``estop`` directly (no hop through the listener; works while
  the listener is down), ``estop_state`` (what a node started after the e-stop missed) and
  ``listener_stop``. ``ros2 topic pub --once`` publishes as soon as *one* subscription
  matched, so any single node may miss a given ``estop`` message: the relay covers the nodes
  that missed it;
- a player waiting for ``replay_start`` listens with both a latched subscription (the scorer's
  latched start, whenever the player came up) and a default one (a hand-typed start).

``ENDPOINTS`` must agree with the nodes: ``test/ros/test_qos.py`` compares it with what a
running graph reports (``ros2 topic info -v``: reliability and durability; a remote endpoint's
depth is not discovered) and with the README table. The recorder node is not listed: it takes
each topic's QoS from the publishers it finds.
"""

from dataclasses import dataclass
import time

from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from std_msgs.msg import Bool

from contrastive_vla.control.stops import OutsideStop
from contrastive_vla.core.topics import load_topics, topic
from contrastive_vla.ros.runtime import GraphSenders


def sensor(reliable=False):
    """Camera frames at the consumer: newest only; best effort unless asked
    (best effort matches every publisher; reliable keeps large frames from being lost)."""
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1,
                      reliability=ReliabilityPolicy.RELIABLE if reliable
                      else ReliabilityPolicy.BEST_EFFORT,
                      durability=DurabilityPolicy.VOLATILE)


def joint_states(depth=10):
    """Joint states at the consumer: best effort (matches every publisher) and keep the last
    ``depth``: an arm driver and a gripper driver publish back to back, and with keep-last 1 a
    busy node only ever took the second message of each pair, so it never heard the arm's
    joints (a fresh-clone test run on a loaded machine caught it). The merger
    (``core.joints``) keeps the newest state of each joint, so taking every queued message costs
    a few dictionary writes and loses nothing."""
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=depth,
                      reliability=ReliabilityPolicy.BEST_EFFORT,
                      durability=DurabilityPolicy.VOLATILE)


def sensor_publisher(depth=10):
    """Publishers of frames: reliable so large frames are not lost between processes (best
    effort lost ~40% of 640x480 frames here); a best-effort subscriber still matches. The
    writer keeps the last 10 frames (1/3 s at 30 Hz) for a reliable subscriber that falls behind
    for a moment: with 2, a recorder descheduled for 230 ms on a loaded 2-core machine lost 7
    frames in a row. Keep-last never blocks the publisher; a subscriber's own depth still
    decides how stale the frames it reads are (the VLA node keeps 1)."""
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=depth,
                      reliability=ReliabilityPolicy.RELIABLE,
                      durability=DurabilityPolicy.VOLATILE)


def command(depth=10):
    """Commands and outcomes: reliable, volatile, keep the last few: the ROS default, so
    ``ros2 topic pub`` and the nodes talk to each other either way."""
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=depth,
                      reliability=ReliabilityPolicy.RELIABLE,
                      durability=DurabilityPolicy.VOLATILE)


def default(depth=10):
    """The ROS default profile (``ros2 topic pub``, ``create_publisher(..., 10)``)."""
    return command(depth)


def latched():
    """The active instruction, the e-stop state, episode and replay events: reliable +
    transient local, so late nodes get the current value. A latched *subscription* does not
    match a volatile publisher: pair it with a default one where outsiders publish."""
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1,
                      reliability=ReliabilityPolicy.RELIABLE,
                      durability=DurabilityPolicy.TRANSIENT_LOCAL)


# What ``ros2 topic pub`` uses unless told otherwise (ros2topic: --qos-profile default).
DEFAULT = default()

PROFILES = {
    'default': default(),
    'default_50': default(50),
    'sensor': sensor(),
    'sensor_reliable': sensor(reliable=True),
    'joint_states': joint_states(),
    'sensor_publisher': sensor_publisher(),
    'latched': latched(),
}


@dataclass(frozen=True)
class Endpoint:
    node: str        # node name (or what publishes from outside the graph)
    topic: str       # key in config/topics.yaml
    side: str        # 'pub' or 'sub'
    profile: str     # key in PROFILES
    when: str = ''   # 'PARAMETER: VALUE' when only that parameter value makes it this way


def _pubs(node, **topics):
    return [Endpoint(node, key, 'pub', profile) for key, profile in topics.items()]


def _subs(node, **topics):
    return [Endpoint(node, key, 'sub', profile) for key, profile in topics.items()]


HAND_TYPED = 'ros2 topic pub'

ENDPOINTS = (
    *_pubs('camera', image='sensor_publisher', camera_info='sensor_publisher',
           diagnostics='default'),
    *_pubs('simulator', clock='default', joint_states='default', image='sensor_publisher',
           camera_info='sensor_publisher', episode='latched', diagnostics='default'),
    *_subs('simulator', joint_trajectory='default', gripper_command='default',
           episode_request='default'),
    *_pubs('instruction_listener', active_instruction='latched', estop_state='latched',
           listener_stop='latched'),
    *_subs('instruction_listener', instruction='default', estop='default'),
    *_pubs('vla', primitive='default', primitive_delta='default', primitive_topk='default',
           vla_status='default', diagnostics='default'),
    Endpoint('vla', 'image', 'sub', 'sensor', 'reliable_images: false'),
    Endpoint('vla', 'image', 'sub', 'sensor_reliable', 'reliable_images: true'),
    *_subs('vla', joint_states='joint_states', active_instruction='latched', estop='default',
           estop_state='latched', listener_stop='latched', primitive_status='default'),
    *_pubs('arm_bridge', joint_trajectory='default', servo_twist='default',
           gripper_command='default', primitive_status='default', diagnostics='default'),
    *_subs('arm_bridge', primitive_delta='default', joint_states='joint_states', estop='default',
           estop_state='latched', listener_stop='latched', vla_status='default',
           episode='latched'),
    Endpoint('arm_bridge', 'robot_description', 'sub', 'latched',
             "arm_config: ur5e/fr3, urdf: ''"),
    *_pubs('player', image='sensor_publisher', instruction='default', joint_states='default',
           clock='default', replay_status='latched'),
    Endpoint('player', 'primitive_topk', 'sub', 'default_50', 'lockstep: true'),
    Endpoint('player', 'replay_start', 'sub', 'latched', 'wait_for_start: true'),
    Endpoint('player', 'replay_start', 'sub', 'default', 'wait_for_start: true'),
    # not nodes of the graph: what feeds it from outside
    *_pubs(HAND_TYPED, instruction='default', estop='default', primitive_delta='default',
           episode_request='default'),
    *_pubs('contrastive-vla eval-bag --live', replay_start='latched'),
    *_pubs('robot_state_publisher', robot_description='latched'),
)

# Subscriptions that need not match a hand-typed (default QoS) publisher, and why.
OURS_ONLY = {
    'robot_description': 'latched, from robot_state_publisher (read once at configure); or '
                         'give the bridge the urdf file parameter',
    'active_instruction': 'from the instruction listener only; say instructions on '
                          '`instruction`',
    'estop_state': 'from the instruction listener only (nodes also listen to `estop`); raise '
                   'the e-stop on `estop`',
    'listener_stop': 'from the instruction listener only; say a stop sentence on `instruction` '
                     'or raise the e-stop on `estop`',
    'episode': 'from the simulator only (its episode starts: the bridge expects the arm to '
               'jump there); ask for an episode on `episode_request`',
}


def _describe(profile):
    p = PROFILES[profile]
    reliability = 'reliable' if p.reliability == ReliabilityPolicy.RELIABLE else 'best effort'
    durability = ('transient local' if p.durability == DurabilityPolicy.TRANSIENT_LOCAL
                  else 'volatile')
    return f'{reliability}, {durability}, keep last {p.depth}'


def markdown_table():
    """The README's QoS table: one row per topic, every node's publisher and subscription."""
    lines = ['| topic | type | published by (QoS) | subscribed by (QoS) |', '|---|---|---|---|']
    used = {e.topic for e in ENDPOINTS}
    for key in [k for k in load_topics() if k in used]:
        cells = []
        for side in ('pub', 'sub'):
            cells.append('<br>'.join(
                f'`{e.node}` ({e.profile}{f"; {e.when}" if e.when else ""})'
                for e in ENDPOINTS if e.topic == key and e.side == side) or '-')
        t = topic(key)
        lines.append(f'| `{t.name}` | {t.type.replace("/msg/", "/")} | {cells[0]} | '
                     f'{cells[1]} |')
    lines += ['', '| QoS | reliability, durability, history |', '|---|---|']
    lines += [f'| {name} | {_describe(name)} |' for name in PROFILES]
    return '\n'.join(lines)


class EstopInput:
    """A node's three e-stop subscriptions feeding one idempotent handler,
    ``on_change(raised)``, called with the combined state after every message: ``estop``
    (default QoS, from anyone) and ``estop_state`` (latched, the instruction listener's relay
    of ``estop``) make the ``outside`` stop (``control.stops.OutsideStop``: released only from
    outside), ``listener_stop`` (latched) the listener's own stop (``listener``). Raised while
    either holds; the node may read the two parts (``outside``, ``listener``).

    ``listener_node`` (a fully qualified node name): a release (False) on ``estop_state`` or
    ``listener_stop`` counts only from that node's publishers (resolved from the ROS graph);
    one from any other publisher, or one the graph does not know, is ignored and counted in
    ``refused_releases``: a stray ``ros2 topic pub /listener_stop ... "{data: false}"`` cannot
    lift a stop a person said. A raise counts from anyone. None: not checked."""

    def __init__(self, node, on_change, listener_node=None):
        self.node = node
        self.on_change = on_change
        self.listener_node = listener_node
        self.senders = GraphSenders(node)
        self.refused_releases = 0
        self.outside_stop = OutsideStop()
        self.listener = False     # the newest value on listener_stop
        node.create_subscription(Bool, topic('estop').name, self._on_direct, default())
        node.create_subscription(Bool, topic('estop_state').name, self._on_relayed, latched())
        node.create_subscription(Bool, topic('listener_stop').name, self._on_listener,
                                 latched())

    @property
    def outside(self):
        return self.outside_stop.raised

    @property
    def raised(self):
        return self.outside or self.listener

    def _on_direct(self, msg):
        self.outside_stop.heard_direct(bool(msg.data))
        self.on_change(self.raised)

    def _on_relayed(self, msg, info):
        if self._counts('estop_state', bool(msg.data), info):
            self.outside_stop.heard_relayed(bool(msg.data))
        self.on_change(self.raised)

    def _on_listener(self, msg, info):
        if self._counts('listener_stop', bool(msg.data), info):
            self.listener = bool(msg.data)
        self.on_change(self.raised)

    def _counts(self, key, raised, info):
        """Whether a message on the listener's topic ``key`` counts (``info``: rclpy's message
        info, which it passes since the callbacks take two arguments; None: unchecked)."""
        if raised or self.listener_node is None or info is None:
            return True
        sender = self.senders.sender_of(key, info, time.monotonic())
        if sender == self.listener_node:
            return True
        self.refused_releases += 1
        who = sender or 'a publisher the ROS graph does not know'
        self.node.get_logger().warning(
            f'a release on {topic(key).name} from {who} ignored: only {self.listener_node} '
            '(listener_node) releases its stops', throttle_duration_sec=2.0)
        return False

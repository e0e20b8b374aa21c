"""Who sent a message, and a watchdog that counts only the right senders: pure, no ROS.

A topic is open to anyone: a second publisher on ``vla_status`` (a stray test node, a replay,
a hostile one) would keep a dead VLA node "alive" if every message fed the bridge's watchdog.
So each message's publisher (its DDS endpoint id, the ``publisher_gid`` rclpy hands a
subscription callback) is resolved to the node that owns it, from the ROS graph
(``get_publishers_info_by_topic``: endpoint id, node name, namespace), and the watchdog is fed
only by the watched nodes' messages.

:class:`SenderRegistry` caches endpoint id -> node; an id the graph does not know yet
(discovery of a new publisher can lag its first messages) is looked up again at most every
``retry_period`` s, so a flood of messages from unknown publishers costs a few graph queries
a second. The graph can know an endpoint before it knows its node's name: it then names the
node ``_NODE_NAME_UNKNOWN_`` (rmw's placeholder, until the node's own discovery message
arrives). Such an entry counts as not known, never cached: cached, a VLA node that sent its
first heartbeats in that moment would stay a stranger to the bridge for good, and every motion
it commanded would be halted by the watchdog.

:class:`CheckedWatchdog` wraps ``safety.CommandWatchdog``: fed by the VLA node
(``vla_node``) and by the node whose primitive is executing (its commander: teleoperation's
heartbeat, while no VLA node runs), and by the start of a primitive (its sender just spoke).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Hashable

from contrastive_vla.control.safety import CommandWatchdog

UNKNOWN = '(unknown publisher)'
RMW_UNKNOWN_NAME = '_NODE_NAME_UNKNOWN_'  # rmw's node name for an endpoint not yet placed


def sender_gid(info: object) -> bytes | None:
    """The publisher's gid of a message (the message info rclpy passes a subscription
    callback: ``info['publisher_gid']['data']``), None when not given."""
    try:
        return gid_key(info['publisher_gid']['data'])  # type: ignore[index]
    except (TypeError, KeyError):
        return None


def gid_key(gid: Iterable[int]) -> bytes:
    """A gid as bytes, zero padding dropped (the graph and the message info may pad
    differently)."""
    return bytes(gid).rstrip(b'\0')


def node_fqn(namespace: str, name: str) -> str:
    """'/ns/name' from a node's namespace and name ('/' + name in the root namespace)."""
    namespace = '/' + str(namespace).strip('/')
    return (namespace.rstrip('/') + '/' + str(name).strip('/')) if name else namespace


def resolve_node(name: str, namespace: str) -> str:
    """A node name as a parameter gives it: absolute ('/ns/vla') as is, relative ('vla')
    in ``namespace`` (the bridge's own)."""
    name = str(name).strip()
    if not name or name == '/':
        raise ValueError('a node name is needed')
    if name.startswith('/'):
        return '/' + name.strip('/')
    return node_fqn(namespace, name)


class SenderRegistry:
    """publisher endpoint id -> the fully qualified name of its node, per topic, cached.

    ``lookup(topic)`` returns the topic's publishers as ``{endpoint id: node fqn}`` (from the
    ROS graph); ids are any hashable (bytes of the gid)."""

    MAX_CACHED = 1024   # endpoint ids kept per topic (publishers come and go)

    def __init__(self, lookup: Callable[[str], dict[Hashable, str]],
                 retry_period: float = 0.2) -> None:
        self.lookup = lookup
        self.retry_period = float(retry_period)
        self._known: dict[str, dict[Hashable, str]] = {}
        self._looked: dict[str, float] = {}
        self.lookups = 0

    def node_of(self, topic: str, sender: Hashable | None, now: float) -> str | None:
        """The node that published a message on ``topic`` from endpoint ``sender`` (None: not
        known, yet or at all)."""
        if sender is None:
            return None
        known = self._known.setdefault(topic, {})
        if sender not in known and (topic not in self._looked
                                    or now - self._looked[topic] >= self.retry_period
                                    or now < self._looked[topic]):
            self._looked[topic] = now
            self.lookups += 1
            found = {gid: node for gid, node in self.lookup(topic).items()
                     if node is not None and RMW_UNKNOWN_NAME not in node}
            if len(known) + len(found) > self.MAX_CACHED:
                known.clear()
            known.update(found)
        return known.get(sender)

    def label(self, topic: str, sender: Hashable | None, now: float) -> str:
        """The node's name, or a short form of the endpoint id when the graph does not know
        it; for messages to a person."""
        node = self.node_of(topic, sender, now)
        if node is not None:
            return node
        if isinstance(sender, (bytes, bytearray)):
            return f'publisher {bytes(sender).hex()[:16]}'
        return UNKNOWN if sender is None else f'publisher {sender}'


class CheckedWatchdog:
    """A command watchdog fed only by the watched nodes' messages.

    Watched: ``vla_node`` always, and the commander of the primitive executing (the node that
    sent it), while it executes. Everything else heard is counted in ``ignored`` (by node) and
    does not feed it."""

    def __init__(self, timeout: float, vla_node: str) -> None:
        self.watchdog = CommandWatchdog(timeout)
        self.vla_node = str(vla_node)
        self.commander: str | None = None
        self.ignored: dict[str, int] = {}

    @property
    def timeout(self) -> float:
        return self.watchdog.timeout

    def set_timeout(self, timeout: float) -> None:
        self.watchdog.set_timeout(timeout)

    def watched(self, node: str | None) -> bool:
        return node is not None and node in (self.vla_node, self.commander)

    def heard(self, node: str | None, now: float) -> bool:
        """A message from ``node`` (None: a sender not known): True when it fed the watchdog.
        A sender not watched is counted (:meth:`warn_now` says when to warn)."""
        if self.watched(node):
            self.watchdog.feed(now)
            return True
        key = node or UNKNOWN
        self.ignored[key] = self.ignored.get(key, 0) + 1
        return False

    def warn_now(self, node: str | None) -> bool:
        """Whether to warn about the message just ignored from ``node``: at its first, once
        per node; for senders the graph does not know (None), at the 20th, since discovery
        can lag a new publisher's first messages."""
        return self.ignored.get(node or UNKNOWN) == (1 if node is not None else 20)

    def feed(self, now: float) -> None:
        """Fed without a sender check (the start of a primitive, a test)."""
        self.watchdog.feed(now)

    def start(self, commander: str | None, now: float) -> None:
        """A primitive starts: its sender just spoke, and is watched until :meth:`finish`."""
        self.commander = commander
        self.watchdog.feed(now)

    def finish(self) -> None:
        self.commander = None

    def expired(self, now: float) -> bool:
        return self.watchdog.expired(now)

    def age(self, now: float) -> float:
        return self.watchdog.age(now)

    @property
    def last(self) -> float | None:
        return self.watchdog.last

    def ignored_total(self) -> int:
        return sum(self.ignored.values())

    def describe_ignored(self, limit: int = 3) -> str:
        names: Iterable[str] = sorted(self.ignored, key=self.ignored.get, reverse=True)
        return ', '.join(f'{n} ({self.ignored[n]})' for n in list(names)[:limit])

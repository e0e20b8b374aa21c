"""Joint states read by joint NAME, merged from any number of publishers.

``sensor_msgs/JointState`` says which joint each position belongs to only through its ``name``
array: a UR driver publishes its six joints in its own order (``elbow_joint`` first), and a
gripper driver often publishes the fingers in a separate message from another node. Reading
``position`` by index would permute the joints without a word. ``JointStateMerger`` keeps the
newest position, velocity and stamp of every joint it has heard of, and hands them back in the
order the caller asks for, or says which joints it has not heard of.

Pure (numpy only): the ROS nodes, the data module and the evaluations use the same merger, on
rclpy messages or rosbags messages (anything with ``name``, ``position``, ``velocity`` and
``header.stamp``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from contrastive_vla.core.msgfields import stamp_to_ns


class JointStateError(ValueError):
    """A joint state message that cannot be used, or a joint state that is not available."""


class MalformedJointStateError(JointStateError):
    """A message whose names and values do not fit together (the message is not used)."""


class MissingJointsError(JointStateError):
    """Joints asked for that no message named (yet); ``missing`` lists them, in order."""

    def __init__(self, missing: Sequence[str], known: Sequence[str]) -> None:
        self.missing = tuple(missing)
        self.known = tuple(known)
        heard = ', '.join(self.known) if self.known else 'none'
        super().__init__(f'no joint state for joint(s) {", ".join(self.missing)} '
                         f'(joints heard of: {heard})')


class StaleJointsError(JointStateError):
    """Joints whose newest state is older than asked for; ``stale`` lists them, in order."""

    def __init__(self, stale: Sequence[str], oldest_ns: int, at_ns: int,
                 tolerance_ns: int) -> None:
        self.stale = tuple(stale)
        self.oldest_ns = int(oldest_ns)
        super().__init__(f'joint state of {", ".join(self.stale)} is older than '
                         f'{tolerance_ns} ns before {at_ns} ns (oldest at {oldest_ns} ns)')


class JointReading(NamedTuple):
    """Positions (and velocities; 0 where a publisher sent none) in the order asked for, and
    the stamp of the oldest joint state used: the reading is as current as that stamp."""

    positions: np.ndarray
    velocities: np.ndarray
    stamp_ns: int


class JointStateMerger:
    """The newest state of every joint heard of, by name, from any number of publishers.

    Each ``update`` replaces the joints its message names and leaves the others as they were,
    so an arm driver and a gripper driver publishing separately add up to the whole robot.
    The newest message wins (arrival order, not stamp order: a simulator reset or a looping
    replay moves stamps back, and a merger that kept the larger stamp would freeze there).
    A malformed message (names and positions of different lengths, duplicate names,
    non-finite positions or velocities) is refused as a whole: nothing of it is kept.
    """

    def __init__(self) -> None:
        self._position: dict[str, float] = {}
        self._velocity: dict[str, float] = {}
        self._stamp: dict[str, int] = {}
        self.newest_ns: int | None = None   # stamp of the last message taken

    def update(self, names: Sequence[str], positions: ArrayLike,
               velocities: ArrayLike | None = None, stamp_ns: int = 0) -> None:
        """Take one message's joints. ``velocities`` may be empty (JointState allows it).

        Raises:
            MalformedJointStateError: the message does not fit together; nothing is kept.

        """
        names = [str(n) for n in names]
        pos = np.asarray(positions, dtype=np.float64).reshape(-1)
        vel = np.asarray([] if velocities is None else velocities, np.float64).reshape(-1)
        if not names:
            raise MalformedJointStateError('joint state names no joint')
        if pos.size != len(names):
            raise MalformedJointStateError(f'joint state has {len(names)} names but '
                                           f'{pos.size} positions')
        if vel.size not in (0, len(names)):
            raise MalformedJointStateError(f'joint state has {len(names)} names but '
                                           f'{vel.size} velocities')
        if len(set(names)) != len(names):
            dup = sorted({n for n in names if names.count(n) > 1})
            raise MalformedJointStateError(f'joint state names joint(s) {", ".join(dup)} '
                                           'more than once')
        bad = [n for n, p in zip(names, pos) if not np.isfinite(p)]
        if bad:
            raise MalformedJointStateError(f'joint state has non-finite positions for '
                                           f'{", ".join(bad)}')
        if vel.size and not np.all(np.isfinite(vel)):
            bad = [n for n, v in zip(names, vel) if not np.isfinite(v)]
            raise MalformedJointStateError(f'joint state has non-finite velocities for '
                                           f'{", ".join(bad)}')
        stamp_ns = int(stamp_ns)
        for i, name in enumerate(names):
            self._position[name] = float(pos[i])
            self._velocity[name] = float(vel[i]) if vel.size else 0.0
            self._stamp[name] = stamp_ns
        self.newest_ns = stamp_ns

    def update_msg(self, msg: Any, received_ns: int | None = None) -> None:
        """Take a ``sensor_msgs/JointState`` (rclpy or rosbags). An unstamped message
        (stamp 0) counts as taken at ``received_ns`` when given."""
        stamp = getattr(getattr(msg, 'header', None), 'stamp', None)
        stamp_ns = stamp_to_ns(stamp) if stamp is not None else 0
        if stamp_ns <= 0 and received_ns is not None:
            stamp_ns = int(received_ns)
        self.update(list(msg.name), list(msg.position), list(msg.velocity), stamp_ns)

    @property
    def names(self) -> list[str]:
        """Every joint heard of, in the order first heard."""
        return list(self._position)

    def missing(self, names: Iterable[str]) -> list[str]:
        """The joints of ``names`` not heard of yet, in order."""
        return [n for n in names if n not in self._position]

    def has(self, names: Iterable[str]) -> bool:
        return not self.missing(names)

    def positions(self, names: Sequence[str], at_ns: int | None = None,
                  tolerance_ns: int = 0) -> JointReading:
        """The state of ``names``, in that order, and the oldest stamp among them.

        With ``at_ns``, every joint's state must be stamped no earlier than
        ``at_ns - tolerance_ns`` (e.g. a camera frame's stamp).

        Raises:
            MissingJointsError: a joint was never heard of (names it).
            StaleJointsError: with ``at_ns``, a joint's state is too old (names it).

        """
        names = list(names)
        missing = self.missing(names)
        if missing:
            raise MissingJointsError(missing, self.names)
        stamps = [self._stamp[n] for n in names]
        oldest = min(stamps) if stamps else (self.newest_ns or 0)
        if at_ns is not None:
            floor = int(at_ns) - int(tolerance_ns)
            stale = [n for n, s in zip(names, stamps) if s < floor]
            if stale:
                raise StaleJointsError(stale, oldest, int(at_ns), int(tolerance_ns))
        return JointReading(np.array([self._position[n] for n in names], np.float64),
                            np.array([self._velocity[n] for n in names], np.float64),
                            int(oldest))

    def clear(self) -> None:
        self._position.clear()
        self._velocity.clear()
        self._stamp.clear()
        self.newest_ns = None

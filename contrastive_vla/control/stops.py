"""The arm bridge's stop as a set of independent holders: pure, no ROS.

The arm moves only while no holder holds a stop. Each holder raises and releases only its own
stop, so one source's release never lifts another's stop: an e-stop raised on ``estop`` holds
after the instruction listener released its own "stop" on a new task sentence, and a joint
state that became trustworthy again does not lift an e-stop.

Holders of the arm bridge (``HOLDERS``):

- ``outside``: the ``estop`` topic (anyone: ``ros2 topic pub``, a button driver), heard
  directly or relayed by the instruction listener on ``estop_state``; released only from
  outside (a False on ``estop``), see :class:`OutsideStop`;
- ``listener``: the instruction listener's own stop (a stop sentence), on ``listener_stop``;
  released by the listener (a release word or a new task sentence);
- ``watchdog``: the node commanding the motion fell silent (``command_timeout``); released by
  the next word of the VLA node or the next command;
- ``lifecycle``: the bridge is not active;
- ``joint_states``: the joint states are not trustworthy (``control.joint_trust``);
- ``stuck``: the VLA node's own ``vla_status`` says it is stuck (``control.stuck``); released
  when its status no longer does (a new instruction) or it sends a new command.
"""

from __future__ import annotations

HOLDERS = ('outside', 'listener', 'watchdog', 'lifecycle', 'joint_states', 'stuck')


class StopHolders:
    """Who holds the stop, and why. ``held`` while any holder holds."""

    def __init__(self, holders: tuple[str, ...] = HOLDERS) -> None:
        self.holders = tuple(holders)
        self._reasons: dict[str, str] = {}

    def _check(self, holder: str) -> None:
        if holder not in self.holders:
            raise ValueError(f'unknown stop holder {holder!r} (holders: '
                             f'{", ".join(self.holders)})')

    def raise_(self, holder: str, reason: str) -> bool:
        """``holder`` holds the stop (the reason replaced when it already did); True when it
        did not hold before."""
        self._check(holder)
        new = holder not in self._reasons
        self._reasons[holder] = str(reason)
        return new

    def release(self, holder: str) -> bool:
        """``holder`` releases its own stop (the others' stay); True when it held one."""
        self._check(holder)
        return self._reasons.pop(holder, None) is not None

    def set(self, holder: str, raised: bool, reason: str = '') -> bool:
        """Raise or release; True when that changed whether ``holder`` holds."""
        return self.raise_(holder, reason) if raised else self.release(holder)

    def holds(self, holder: str) -> bool:
        self._check(holder)
        return holder in self._reasons

    @property
    def held(self) -> bool:
        return bool(self._reasons)

    @property
    def reasons(self) -> dict[str, str]:
        """holder -> reason, of the holders that hold, in ``holders`` order."""
        return {h: self._reasons[h] for h in self.holders if h in self._reasons}

    def summary(self) -> str:
        """'held by outside: reason; listener: reason', or '' when nobody holds."""
        if not self._reasons:
            return ''
        return 'held by ' + '; '.join(f'{h}: {r}' for h, r in self.reasons.items())


class OutsideStop:
    """The e-stop raised from outside, as one node hears it on two paths: ``estop`` directly
    (default QoS, from anyone) and ``estop_state``, the instruction listener's latched relay of
    every ``estop`` message it heard (a node started later, or one that missed a message).

    Raised while either path says raised, so a raise heard on one path is never undone by a
    stale message on the other. A raise heard directly is undone by a release heard directly,
    or by a release on the relay once the listener confirmed it knew of a raise (a True on the
    relay after the direct raise): the relay carries only what was said on ``estop``, so a
    release this node missed still arrives, and a release the listener relays without ever
    having heard the raise does not lift it."""

    def __init__(self) -> None:
        self.direct = False       # the newest value heard on estop
        self.relayed = False      # the newest value heard on estop_state
        self.confirmed = True     # a relayed True came after the newest direct raise

    @property
    def raised(self) -> bool:
        return self.direct or self.relayed

    def heard_direct(self, raised: bool) -> bool:
        self.direct = bool(raised)
        if self.direct:
            self.confirmed = False
        return self.raised

    def heard_relayed(self, raised: bool) -> bool:
        self.relayed = bool(raised)
        if self.relayed:
            self.confirmed = True
        elif self.confirmed:
            self.direct = False
        return self.raised

"""Whether the arm's joint states can be trusted to plan from: pure, no ROS.

``joint_states`` is open to anyone: a joint_state_publisher left running, a bag replay or
another robot on the same domain sends plausible positions, and a bridge that planned from
them would send the real arm trajectories that begin far from where it is (a jump to the
planned start at many times its velocity limit). :class:`JointStateTrust` judges each message
that names arm joints before the bridge uses it:

- **one publisher per arm joint**: two different publishers (``publisher_gid``) sending the
  same arm joint within ``settle`` s is a conflict. Split publishers are fine (the arm's
  joints from the driver, the fingers from a gripper node: only arm joints are judged);
- **no jumps**: an arm joint that moved more since the previous message than its velocity
  limit allows (times ``slack``, over at least ``min_dt`` s against delivery jitter) is a
  jump; that message is not used (the next one is compared with it, so a real
  discontinuity - a simulator reset - is accepted after a few consistent messages).

On either the state is *distrusted*: the bridge halts any motion and refuses to plan until
the state is consistent again: a single publisher for ``settle`` s and ``consistent``
messages in a row without a jump. Times are the receiving node's clock (seconds).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
import math

from numpy.typing import ArrayLike

JUMPED = 'joint_states jumped'  # the start of a jump's reason


class JointStateTrust:
    """Judges joint state messages of the arm joints ``joint_names`` (velocity limits
    ``velocity`` rad/s, one per joint; empty: no jump check)."""

    def __init__(self, joint_names: Sequence[str], velocity: Sequence[float] = (),
                 slack: float = 2.0, settle: float = 1.0, min_dt: float = 0.05,
                 consistent: int = 3,
                 describe: Callable[[Hashable | None], str] | None = None) -> None:
        if velocity and len(velocity) != len(joint_names):
            raise ValueError('one velocity limit per arm joint is needed')
        self.velocity = tuple(float(v) for v in velocity)
        self.limit = dict(zip(joint_names, self.velocity))
        self.arm = set(joint_names)
        self.set_limits(slack, settle)
        self.min_dt, self.consistent = float(min_dt), int(consistent)
        self.describe = describe or (lambda sender: str(sender))
        self._owner: dict[str, tuple[Hashable | None, float]] = {}   # joint -> (sender, t)
        self._last: dict[str, tuple[float, float]] = {}              # joint -> (position, t)
        self.reason: str | None = None        # why the state is distrusted (None: trusted)
        self._conflict_at: float | None = None
        self._clean = 0                       # messages without a jump since the last one
        self.jumps = 0                        # messages rejected for a jump
        self.conflicts = 0                    # messages from a second publisher

    def set_limits(self, slack: float, settle: float) -> None:
        """New jump slack and settle time (ValueError, nothing changed, when invalid)."""
        if not (math.isfinite(slack) and slack >= 1.0):
            raise ValueError(f'jump slack must be >= 1, got {slack!r}')
        if not (math.isfinite(settle) and settle > 0):
            raise ValueError(f'settle time must be positive, got {settle!r}')
        self.slack, self.settle = float(slack), float(settle)

    @property
    def trusted(self) -> bool:
        return self.reason is None

    @property
    def jumped(self) -> bool:
        """Distrusted for a jump (not for a second publisher)."""
        return self.reason is not None and self.reason.startswith(JUMPED)

    def update(self, sender: Hashable | None, names: Sequence[str], positions: ArrayLike,
               now: float) -> bool:
        """Judge one message (``sender``: its publisher's id; None when unknown). True when its
        arm joints may be used; False while the state is distrusted (this message's arm
        positions must not be used). A message naming no arm joint, or one that does not fit
        together (the joint state merger refuses it), is not judged: it changes nothing, the
        verdict so far is returned (it never makes a distrusted state trusted)."""
        try:
            values = [float(p) for p in positions]
        except (TypeError, ValueError):
            return self.reason is None
        if len(values) != len(names) or not all(map(math.isfinite, values)):
            return self.reason is None
        arm = [(str(n), p) for n, p in zip(names, values) if str(n) in self.arm]
        if not arm:
            return self.reason is None
        now = float(now)
        conflict = self._conflicts(sender, arm, now)
        jump = self._jump(arm, now)
        if conflict or jump:
            self._clean = 0
            if conflict:
                self.conflicts += 1
                self._conflict_at = now
            if jump:
                self.jumps += 1
            # a second publisher says more than the jumps it causes
            self.reason = conflict or self.reason or jump
            return False
        self._clean += 1
        if self.reason is not None and self._clean >= self.consistent and (
                self._conflict_at is None or not 0 <= now - self._conflict_at < self.settle):
            self.reason = None
            self._conflict_at = None
        return self.reason is None

    def _conflicts(self, sender, arm, now):
        other = None
        for name, _ in arm:
            owner = self._owner.get(name)
            if owner is not None and owner[0] != sender and 0 <= now - owner[1] < self.settle:
                other = owner[0]
            self._owner[name] = (sender, now)
        if other is None:
            return None
        return (f'two publishers of the arm joints on joint_states: '
                f'{self.describe(other)} and {self.describe(sender)}')

    def _jump(self, arm, now):
        worst = None
        for name, position in arm:
            last = self._last.get(name)
            self._last[name] = (position, now)
            if last is None or name not in self.limit:
                continue
            dt = max(now - last[1], self.min_dt)   # time moved back (a replay): the floor
            moved = abs(position - last[0])
            allowed = self.slack * self.limit[name] * dt
            if moved > allowed and (worst is None or moved / allowed > worst[0]):
                worst = (moved / allowed, name, moved, now - last[1])
        if worst is None:
            return None
        _, name, moved, dt = worst
        return (f'{JUMPED}: {name} moved {moved:.3f} rad in {max(dt, 0.0):.3f} s '
                f'(limit {self.limit[name]:.2f} rad/s x {self.slack:g})')

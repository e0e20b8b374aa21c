"""When the VLA node may decide: CLIP-RT's step-wise rhythm as a small state machine.

The node decides only while an instruction is active and no stop is raised, never while the
arm is still executing the previous primitive, and only from a frame taken *after* that
primitive finished (or after the instruction arrived): a decision never races the arm or looks
at a stale picture. A primitive whose outcome never arrives is given up after ``done_timeout``
so a lost status message cannot stall the robot forever. Without ``wait_for_outcome`` (bag
replay: no arm answers) it decides on every new frame instead. Times are seconds on one clock
(the node's, which is the simulator's under use_sim_time).

A frame stamped in the future (more than ``max_future_stamp`` ahead of the node's now: a camera
whose clock runs ahead) is never decided on, and counted: acting on it would also make it the
frame every later one must be newer than. :class:`ClockSkew` estimates the offset between the
camera's clock and the node's from the frames' receive times, and says when it makes every
frame unusable (a camera behind by more than ``max_image_age``: every frame is stale).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
import statistics

# Reasons the gate gives for not deciding (also shown in the node's status).
NO_INSTRUCTION = 'no active instruction'
STOPPED = 'stopped'
BUSY = 'waiting for the arm to finish the previous primitive'
NO_IMAGE = 'no image yet'
STALE_IMAGE = 'newest image is too old'
FUTURE_IMAGE = 'newest image is stamped in the future'
OLD_IMAGE = 'waiting for an image taken after the last motion'
READY = 'ready'


@dataclass
class Verdict:
    ready: bool
    reason: str


class DecisionGate:
    def __init__(self, max_image_age: float, done_timeout: float,
                 wait_for_outcome: bool = True, max_future_stamp: float = 0.05) -> None:
        self.set_limits(max_image_age, done_timeout, max_future_stamp)
        self.future_frames = 0  # frames refused for a stamp in the future (each counted once)
        self._future_stamp: float | None = None  # the last one counted
        self.wait_for_outcome = bool(wait_for_outcome)
        self.instruction: str | None = None
        self.stopped = False
        self.pending: int | None = None  # id of the decision the arm is executing
        self.pending_since: float | None = None
        self.min_stamp = float('-inf')
        self.timeouts = 0

    def set_limits(self, max_image_age: float, done_timeout: float,
                   max_future_stamp: float) -> None:
        """The gate's time limits (s), at construction and when the node's parameters change."""
        if not max_image_age > 0 or not done_timeout > 0:
            raise ValueError('max_image_age and done_timeout must be positive')
        if not max_future_stamp >= 0:
            raise ValueError('max_future_stamp must not be negative')
        self.max_image_age = float(max_image_age)
        self.done_timeout = float(done_timeout)
        self.max_future_stamp = float(max_future_stamp)

    def set_instruction(self, text: str, now: float) -> None:
        if text != self.instruction:
            self.instruction = text
            # a frame stamped at the very moment the instruction arrives counts as after it
            # (a replayed bag publishes both at the same bag time)
            self.min_stamp = max(self.min_stamp, now - 1e-6)

    def clear_instruction(self) -> None:
        self.instruction = None

    def set_stopped(self, stopped: bool, now: float) -> None:
        if stopped:
            self.pending = None
        elif self.stopped:
            self.min_stamp = max(self.min_stamp, now)
        self.stopped = bool(stopped)

    def decided(self, decision_id: int, now: float, frame_stamp: float | None = None) -> None:
        """A decision was published (from the frame stamped ``frame_stamp``): wait for its
        outcome, or (not waiting for outcomes) for the next frame."""
        if frame_stamp is not None:
            self.frame_used(frame_stamp)
        if self.wait_for_outcome:
            self.pending, self.pending_since = decision_id, now

    def frame_used(self, frame_stamp: float) -> None:
        """The frame stamped ``frame_stamp`` was decided on (or judged not worth acting on):
        the next decision needs a newer one."""
        self.min_stamp = max(self.min_stamp, frame_stamp)

    def finished(self, decision_id: int | None, now: float) -> bool:
        """The bridge reported the outcome of ``decision_id``; True if it was the pending one."""
        if self.pending is None or decision_id != self.pending:
            return False
        self.pending = None
        self.min_stamp = max(self.min_stamp, now)
        return True

    def may_decide(self, frame_stamp: float | None) -> bool:
        """Whether a frame stamped ``frame_stamp`` could be decided on now, ignoring its age
        and the done timeout: the cheap test a frame's arrival makes before asking
        :meth:`check` (which the caller still must). No side effects."""
        return (self.instruction is not None and not self.stopped and self.pending is None
                and frame_stamp is not None and frame_stamp > self.min_stamp)

    def check(self, frame_stamp: float | None, now: float) -> Verdict:
        if self.instruction is None:
            return Verdict(False, NO_INSTRUCTION)
        if self.stopped:
            return Verdict(False, STOPPED)
        if self.pending is not None:
            if now - self.pending_since <= self.done_timeout:
                return Verdict(False, BUSY)
            self.pending = None
            self.timeouts += 1
            self.min_stamp = max(self.min_stamp, now)
        if frame_stamp is None:
            return Verdict(False, NO_IMAGE)
        # a frame once refused stays refused, even when the clock has caught up with its stamp
        if frame_stamp - now > self.max_future_stamp or frame_stamp == self._future_stamp:
            if frame_stamp != self._future_stamp:  # the same frame is checked on every tick
                self._future_stamp = frame_stamp
                self.future_frames += 1
            return Verdict(False, FUTURE_IMAGE)
        if now - frame_stamp > self.max_image_age:
            return Verdict(False, STALE_IMAGE)
        if frame_stamp <= self.min_stamp:
            return Verdict(False, OLD_IMAGE)
        return Verdict(True, READY)


# ---- the robot state a decision pairs with its frame ---------------------------------------
STATE_CURRENT, STATE_WAIT, STATE_STALE = 'current', 'wait', 'stale'


def state_freshness(state_stamp: float | None, frame_stamp: float, waited: float,
                    tolerance: float, max_wait: float) -> str:
    """Whether a model with proprioception may decide on a frame with the newest joint state.

    A decision should see the robot as the frame shows it: a joint state stamped no earlier
    than ``tolerance`` seconds before the frame is current. An older one (the joint state of
    the same instant may be a few milliseconds behind the frame, e.g. a gripper that just
    closed) is waited for, ``max_wait`` seconds at most (``waited``: seconds since a frame
    first could be decided on but for its state; newer frames do not restart the wait, or a
    steady stream of frames with a lagging joint-state publisher would never decide); then the
    decision goes ahead with the state it has ('stale', to be counted).
    """
    if state_stamp is not None and state_stamp >= frame_stamp - tolerance:
        return STATE_CURRENT
    return STATE_WAIT if waited < max_wait else STATE_STALE


# ---- the camera's clock against the node's ------------------------------------------------
class ClockSkew:
    """The offset between the camera's clock and the node's: the median of receive time minus
    stamp over the last ``window`` frames (positive: the camera is behind, or the transport
    slow; the median ignores a frame held up now and then)."""

    def __init__(self, window: int = 50) -> None:
        self.offsets: deque[float] = deque(maxlen=max(1, int(window)))

    def add(self, stamp: float, received: float) -> None:
        self.offsets.append(float(received) - float(stamp))

    @property
    def offset(self) -> float | None:
        return statistics.median(self.offsets) if self.offsets else None

    def warning(self, max_image_age: float, max_future_stamp: float) -> str | None:
        """What to tell the operator when the offset makes every frame unusable (a frame older
        than ``max_image_age`` or more than ``max_future_stamp`` ahead is never decided on);
        None while it does not."""
        offset = self.offset
        hint = 'check time sync (chrony/PTP) or use_sim_time'
        if offset is None:
            return None
        if offset > max_image_age:
            return f'camera clock {offset:.1f} s behind this node: every frame is stale; {hint}'
        if -offset > max_future_stamp:
            return (f'camera clock {-offset:.1f} s ahead of this node: every frame is stamped '
                    f'in the future; {hint}')
        return None

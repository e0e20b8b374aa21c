"""Stuck detection: the policy keeps moving the arm but gets nowhere.

A policy that cannot find its target (told "reach the blue block" with no blue block in view)
may thrash: up 10 cm, down 10 cm, up, down... for as long as nobody stops it. The
:class:`StuckDetector` is fed every *executed* decision (its 8-D delta, see ``core.delta``, with
the outcome and message the bridge or the simulator reported for it) and says when the recent
ones show no progress. Four rules, each over the last ``window`` executed decisions (oldest
dropped first):

1. **No progress**: the window is full, the gross path (the sum of each decision's motion) is at
   least ``min_path`` and the net displacement (the length of their sum) is below
   ``min_progress``: the arm travelled, but ended where it began.
2. **Cycling**: the last decisions repeat one cycle of primitives whose motions cancel:
   A, B, A, B, ... with A + B = 0 (up/down, left/right, roll left/roll right), a cycle of 3
   or 4 (down 10, up 5, up 5; up, back, down, forward), ``cycles`` times in a row; or a
   longer cycle of 5 to 8 (right 10, left 5, then left 1 five times: a policy homing in on a
   target that is not there, overshooting, and starting again), repeated until the repeats
   cover ``cycles`` x 4 decisions, at least 3 times. Dithering or looping, however small the
   steps (looked at beyond the window).
3. **Gripper cycling**: the gripper command changed state (open -> close or close -> open)
   ``gripper_toggles`` times or more within the window.
4. **Blocked**: ``window`` decisions in a row did not move the arm: pushed against the
   workspace boundary it was already at (``clamped`` with the ``core.status.AT_BOUNDARY``
   message), ``unreachable`` (IK) or ``obstructed`` (contact held it back). Any decision that
   moved the arm (``done``, ``clamped`` with motion, or a gripper action) starts the count
   again; outcomes where nothing was tried (refused, rejected, halted, dry run) are ignored.
5. **Loops broken again and again**: the loop breaker (``control.loops``) passed over the
   policy's own choice in ``loop_breaks`` or more of the window's decisions: the policy keeps
   steering back to where it was, and only the breaker moves it on (rule 2 cannot see those
   loops: the breaker ends them before they repeat).

Motion is measured from the commanded deltas, the only motion the VLA node knows (it has no
tool pose): translations in metres, rotations (roll, pitch, yaw, wrist) counted as
``rotation_m_per_rad`` metres per radian (CLIP-RT's weighting, 0.785 rad like 0.1 m), their
sums taken per axis. A motion clamped at the workspace boundary therefore counts in full in
rules 1-3 (``moved`` outcomes only: done, clamped, obstructed); rule 4 reads the outcome. The
detector only says "stuck" and why; the caller stops deciding. It starts afresh with
:meth:`reset` (a new instruction). No ROS, no torch.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from contrastive_vla.core.delta import GRIPPER_INDEX, as_delta
from contrastive_vla.core.status import AT_BOUNDARY, Outcome

ROTATION_M_PER_RAD = 0.1 / 0.785  # CLIP-RT: 0.1 m of translation weighs like 0.785 rad
STUCK = 'stuck'  # the VLA node's state (vla_status) while the detector holds it
SHORT_CYCLE = 4  # cycles up to this long repeat `cycles` times (rule 2) ...
MAX_CYCLE = 8  # ... longer ones, up to this, until they cover as many decisions
OUTCOMES = frozenset(o.value for o in Outcome)


@dataclass(frozen=True)
class StuckLimits:
    """When the detector fires (see the module docstring for the rules)."""

    window: int = 8             # executed decisions looked at (rules 1, 3 and 4)
    min_progress: float = 0.03  # m: a full window netting less made no progress (rule 1) ...
    min_path: float = 0.45      # m: ... if its gross path was at least this long
    cycles: int = 4             # repeats of a cancelling cycle of 2-4 primitives (rule 2); 0: off
    # (a cycle of 5-8 repeats until it covers cycles x 4 decisions, at least 3 times)
    gripper_toggles: int = 4    # gripper state changes within the window (rule 3); 0 = off
    loop_breaks: int = 4        # decisions the loop breaker changed within the window (rule 5)
    rotation_m_per_rad: float = ROTATION_M_PER_RAD

    def __post_init__(self):
        if self.window < 2:
            raise ValueError(f'stuck window must be at least 2 decisions, got {self.window}')
        if not self.min_progress >= 0 or not self.min_path > self.min_progress:
            raise ValueError('stuck limits need 0 <= min_progress < min_path, got '
                             f'{self.min_progress} and {self.min_path}')
        if self.cycles < 0 or self.gripper_toggles < 0 or self.loop_breaks < 0:
            raise ValueError('stuck cycles, gripper_toggles and loop_breaks must not be '
                             'negative')

    def repeats(self, period: int) -> int:
        """How many times in a row a cancelling cycle of ``period`` primitives must repeat
        for rule 2 (0: the rule is off)."""
        if not self.cycles or period <= SHORT_CYCLE:
            return self.cycles
        return max(3, -(-self.cycles * SHORT_CYCLE // period))


class StuckDetector:
    """Feed :meth:`observe` one executed decision at a time; :attr:`reason` says why it is
    stuck (None while it is not). Once stuck it stays stuck until :meth:`reset`."""

    def __init__(self, limits: StuckLimits | None = None) -> None:
        self.limits = limits or StuckLimits()
        self.reset()

    def reset(self) -> None:
        """Forget every decision (a new instruction, a new episode)."""
        self.motions: deque = deque(maxlen=max(
            [self.limits.window] + [p * self.limits.repeats(p)
                                    for p in range(2, MAX_CYCLE + 1)]))
        self.gripper: deque = deque(maxlen=self.limits.window)  # True: changed the gripper
        self.passed_over: deque = deque(maxlen=self.limits.window)  # True: the breaker's pick
        self._grip_state: float | None = None
        self.blocked: list[tuple[str, str | None]] = []  # (kind, name): the run not moving
        self.decisions = 0
        self.reason: str | None = None
        self.fired_at: int | None = None  # decisions fed when it fired

    @property
    def stuck(self) -> bool:
        return self.reason is not None

    def observe(self, delta: ArrayLike, name: str | None = None, outcome: str | None = None,
                message: object = '', passed_over: bool = False) -> str | None:
        """One decision (``delta``: the 8-D primitive delta; ``name`` for the reason) and what
        became of it (``outcome``, a ``core.status.Outcome`` or its string, and its
        ``message``; None: it moved the arm); ``passed_over``: the loop breaker chose it
        instead of the policy's own choice. Decisions that tried nothing (refused, rejected,
        halted, dry run) or an unknown outcome are ignored. Returns the reason when this
        decision makes the detector fire, else None."""
        if self.stuck:
            return None
        kind = blocked_kind(outcome, message)
        if kind is None and not moved_arm(outcome):
            return None
        d = as_delta(delta)
        self.decisions += 1
        self.passed_over.append(bool(passed_over))
        if kind is None:
            self.blocked.clear()
        else:
            self.blocked.append((kind, name))
        if moved_arm(outcome):  # rules 1-3: the commanded motion
            motion = np.concatenate([d[:3], d[3:GRIPPER_INDEX] * self.limits.rotation_m_per_rad])
            self.motions.append((motion, name))
            grip = float(np.sign(d[GRIPPER_INDEX]))
            toggled = grip != 0 and self._grip_state is not None and grip != self._grip_state
            if grip != 0:
                self._grip_state = grip
            self.gripper.append(toggled)
        self.reason = self._check()
        if self.reason is not None:
            self.fired_at = self.decisions
        return self.reason

    def _check(self) -> str | None:
        lim = self.limits  # the most specific reason first: a cycle also makes no progress
        for period in range(2, MAX_CYCLE + 1) if lim.cycles else ():
            reason = self._cycling(period)
            if reason is not None:
                return reason
        if len(self.blocked) >= lim.window:
            return self._blocked_reason()
        recent = list(self.motions)[-lim.window:]
        if len(recent) == lim.window:
            gross = sum(float(np.linalg.norm(m)) for m, _ in recent)
            net = float(np.linalg.norm(sum(m for m, _ in recent)))
            if gross >= lim.min_path and net < lim.min_progress:
                return (f'no progress: the last {lim.window} decisions moved '
                        f'{gross * 100:.0f} cm in all but {net * 100:.1f} cm net')
        toggles = sum(self.gripper)
        if lim.gripper_toggles and toggles >= lim.gripper_toggles:
            return (f'gripper cycling: opened/closed {toggles} times in the last '
                    f'{len(self.gripper)} decisions')
        broken = sum(self.passed_over)
        if lim.loop_breaks and broken >= lim.loop_breaks:
            return (f"going in circles: the loop breaker passed over the policy's choice "
                    f'{broken} times in the last {len(self.passed_over)} decisions')
        return None

    def _cycling(self, period: int) -> str | None:
        """Rule 2 for cycles of ``period`` decisions."""
        repeats = self.limits.repeats(period)
        n = period * repeats
        if len(self.motions) < n:
            return None
        tail = list(self.motions)[-n:]
        cycle = [m for m, _ in tail[-period:]]
        size = sum(float(np.linalg.norm(m)) for m in cycle)
        if size == 0 or float(np.linalg.norm(sum(cycle))) > 1e-6 * size:
            return None  # no motion (gripper only), or the cycle gets somewhere
        if not all(np.allclose(tail[i][0], tail[i - period][0], atol=1e-9)
                   for i in range(period, n)):
            return None
        names = '/'.join(str(name) for _, name in tail[-period:])
        return f'cycling: {names} repeated {repeats} times'

    def _blocked_reason(self) -> str:
        """Rule 4's reason: what kept the arm still, and which primitives were tried."""
        run = self.blocked[-self.limits.window:]
        kinds = {kind for kind, _ in run}
        rule = BLOCKED_RULES[kinds.pop()] if len(kinds) == 1 else 'blocked'
        names = sorted({str(name) for _, name in run})
        return (f'{rule}: the last {len(run)} decisions ({", ".join(names)}) '
                'did not move the arm')


BLOCKED_RULES = {'boundary': 'pushing against the workspace boundary',
                 'unreachable': 'unreachable', 'obstructed': 'obstructed'}


def moved_arm(outcome: object) -> bool:
    """The decision moved the arm: ``outcome`` None (as commanded) or a known outcome that
    moves it (done, clamped, obstructed); False for those that tried nothing and unknown
    ones."""
    return outcome is None or (isinstance(outcome, str) and outcome in OUTCOMES
                               and Outcome(outcome).moved)


def blocked_kind(outcome: str | None, message: object = '') -> str | None:
    """Why a decision's outcome left the arm where it was (rule 4): 'boundary', 'unreachable',
    'obstructed'; None when it moved the arm or tried nothing."""
    if outcome == Outcome.CLAMPED and isinstance(message, str) \
            and message.startswith(AT_BOUNDARY):
        return 'boundary'
    if outcome == Outcome.UNREACHABLE:
        return 'unreachable'
    if outcome == Outcome.OBSTRUCTED:
        return 'obstructed'
    return None

"""Loop breaking: never take the same primitive twice from the same arm state.

A CLIP-RT policy decides from the image, the instruction and the joint state only; it has no
memory. When a decision brings the arm back where it was (up 10 cm, then down 10 cm; or a
square: back, right, forward, left), the scene looks the same and the policy says the same
thing again, for ever: most failed episodes of the shipped model ended in such a loop
(docs/model-history.md, "Loop breaking"). The stuck detector (``control.stuck``) notices it
after four rounds and stops; the :class:`LoopBreaker` acts on the first repeat instead.

It keeps the arm's state as the policy's decisions made it: the sum of the executed motions
(the commanded deltas, like the stuck detector; a decision that did not move the arm, pushed
against the workspace boundary, unreachable or obstructed, adds nothing) and the gripper's last
command. For each state it remembers which primitives were executed from it. :meth:`choose`
takes the policy's scores and returns the best primitive not yet executed from the current
state: the policy's own choice unless that already led somewhere and back here. The first
visit to a state therefore always follows the policy; only a revisit can differ. When every
primitive was tried from here it follows the policy again.

Only the commanded state is known (no tool pose): two decisions that reach the same point by
different routes are the same state, and a block the arm pushed away in between does not make
it another. No ROS, no torch; the VLA node and ``eval-sim`` both use it.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from contrastive_vla.control.stuck import blocked_kind, moved_arm
from contrastive_vla.core.delta import GRIPPER_INDEX, as_delta

KEY_DECIMALS = 4  # the state is the commanded motion rounded to 0.1 mm / 0.1 mrad
LOOP_MODES = ('on', 'off')  # eval-sim --loops, curve --loops


class LoopBreaker:
    """Feed :meth:`observe` each executed decision; ask :meth:`choose` for the next one."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget every state (a new instruction, a new episode)."""
        self._motion = np.zeros(GRIPPER_INDEX)
        self._grip = 0.0
        self._tried: dict[tuple, set[int]] = {}
        self.broken = 0  # decisions that differed from the policy's first choice
        # the primitives (vocabulary indices, best first) the last choice passed over: empty
        # when it was the policy's own
        self.passed_over: list[int] = []

    def _key(self) -> tuple:
        return (*np.round(self._motion, KEY_DECIMALS).tolist(), self._grip)

    def _ranked(self, scores: ArrayLike) -> tuple[list[int], int]:
        """The vocabulary indices best first, and how many lead them that were already
        executed from the current state (0 when every one was: the policy's choice stands)."""
        order = np.argsort(-np.asarray(scores, dtype=np.float64), kind='stable').tolist()
        tried = self._tried.get(self._key(), set())
        return order, next((k for k, index in enumerate(order) if index not in tried), 0)

    def avoided(self, scores: ArrayLike) -> list[int]:
        """The primitives (vocabulary indices, best first) the policy preferred to the one
        :meth:`choose` returns: those already executed from the current state."""
        order, skipped = self._ranked(scores)
        return order[:skipped]

    def choose(self, scores: ArrayLike) -> int:
        """The vocabulary index to execute: the best-scoring primitive not yet executed from
        the current state (the best one when all were); :attr:`passed_over` says which it
        passed over."""
        order, skipped = self._ranked(scores)
        self.passed_over = order[:skipped]
        self.broken += bool(skipped)
        return order[skipped]

    def observe(self, index: int, delta: ArrayLike, outcome: str | None = None,
                message: object = '') -> None:
        """Primitive ``index`` (its 8-D ``delta``) was executed with ``outcome`` (a
        ``core.status.Outcome`` or its string; None: it moved the arm as commanded). Outcomes
        that tried nothing (refused, rejected, halted, dry run) or an unknown one change
        nothing."""
        kind = blocked_kind(outcome, message)
        if kind is None and not moved_arm(outcome):
            return
        d = as_delta(delta)
        self._tried.setdefault(self._key(), set()).add(int(index))
        if kind is not None:
            return  # the arm stayed put: the same state, this primitive now tried from it
        self._motion = self._motion + d[:GRIPPER_INDEX]
        if d[GRIPPER_INDEX] != 0:
            self._grip = float(np.sign(d[GRIPPER_INDEX]))

"""The arm bridge's bookkeeping of one primitive: the one in flight and the outcome it reports.

A primitive runs in phases: the arm moves (a trajectory or servo twists, then a settle time),
then the gripper acts (if the primitive opens or closes it); each phase ends at ``until``
(seconds on the bridge's clock). Its outcome goes out on ``primitive_status`` as
:class:`PrimitiveStatus`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
import enum

import numpy as np
from numpy.typing import NDArray

from contrastive_vla.control.arm_commands import JointPlan
from contrastive_vla.core.status import Outcome


class Phase(enum.Enum):
    MOVE = 'move'
    GRIPPER = 'gripper'


@dataclass(frozen=True)
class PrimitiveStatus:
    """The outcome of one primitive command (the ``primitive_status`` JSON payload)."""

    decision: int | None
    delta: list[float]     # the commanded delta, rounded for reading
    # camera frame's stamp -> the bridge sent the command (planning included) or refused it,
    # when the frame is known
    latency_ms: float | None
    status: Outcome
    message: str


def status_of(decision: int | None, delta: Iterable[float], latency_ms: float | None,
              status: Outcome, message: str) -> PrimitiveStatus:
    return PrimitiveStatus(decision, [round(float(v), 5) for v in delta], latency_ms,
                           status, message)


@dataclass(eq=False)
class ActivePrimitive:
    """The primitive the bridge executes; ``status``/``message`` start as the plan's and turn
    into the outcome (an obstruction found after the motion overrides them)."""

    decision: int | None
    delta: NDArray[np.float64]
    latency_ms: float | None
    plan: JointPlan
    status: Outcome
    message: str
    phase: Phase = Phase.MOVE
    until: float = 0.0        # the current phase ends (trajectory + settle time, or gripper)
    goal: NDArray[np.float64] | None = None  # joint target of the motion (to judge tracking)
    twist: tuple[NDArray[np.float64], NDArray[np.float64]] | None = None  # servo: (lin, ang)
    twist_until: float = 0.0          # servo mode: twists stop (then zero) at this time

    def report(self, status: Outcome, message: str) -> PrimitiveStatus:
        return status_of(self.decision, self.delta, self.latency_ms, status, message)

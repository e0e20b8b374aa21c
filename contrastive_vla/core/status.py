"""What became of a primitive: one Enum for the simulator, the arm bridge, rollouts and teleop.

A ``StrEnum``, so a status is also its plain string on the wire (``primitive_status`` JSON),
in bags and in result files, and compares equal to it.
"""

from enum import StrEnum


class Outcome(StrEnum):
    DONE = 'done'                # reached the target
    CLAMPED = 'clamped'          # moved, but stopped at the workspace boundary
    OBSTRUCTED = 'obstructed'    # moved, but contact kept the arm >1 cm / >5 deg from the target
    UNREACHABLE = 'unreachable'  # no motion: IK cannot reach the target within the joint limits
    REJECTED = 'rejected'        # no motion: the delta itself is invalid (NaN, wrong length)
    REFUSED = 'refused'          # no motion: the bridge would not start it (e-stop, busy, stale)
    HALTED = 'halted'            # stopped mid-motion (e-stop, silent VLA node, tracking error)
    DRY_RUN = 'dry_run'          # planned and checked, not sent (actuation off)
    GAVE_UP = 'gave_up'          # the policy returned no primitive
    RELABELLED = 'relabelled'    # a relabelled twin's step: the decision was never executed

    @property
    def moved(self) -> bool:
        """The arm moved toward the target."""
        return self in MOVED

    @property
    def executed(self) -> bool:
        """False for the outcomes where nothing was sent to the arm."""
        return self not in NOT_EXECUTED


MOVED = frozenset({Outcome.DONE, Outcome.CLAMPED, Outcome.OBSTRUCTED})
NOT_EXECUTED = frozenset({Outcome.REJECTED, Outcome.UNREACHABLE, Outcome.REFUSED,
                          Outcome.DRY_RUN})
# how a CLAMPED outcome's message begins when the arm did not really move (its target lay
# straight beyond the workspace boundary it was already at: under 2 mm / 1 deg of motion,
# robot.kinematics.BOUNDARY_STILL_M)
AT_BOUNDARY = 'already at the workspace boundary'

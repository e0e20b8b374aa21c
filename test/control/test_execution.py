import numpy as np

from contrastive_vla.control.arm_commands import JointPlan
from contrastive_vla.control.execution import ActivePrimitive, Phase, PrimitiveStatus, status_of
from contrastive_vla.core.status import Outcome


def test_the_outcome_reports_the_command_rounded():
    outcome = status_of(None, np.array([0.0123456789, 0, 0, 0, 0, 0, 0, -1]), None,
                        Outcome.REFUSED, 'the e-stop is raised')
    assert outcome == PrimitiveStatus(None, [0.01235, 0, 0, 0, 0, 0, 0, -1.0], None,
                                      Outcome.REFUSED, 'the e-stop is raised')


def test_an_active_primitive_starts_moving_and_reports_its_outcome():
    delta = np.zeros(8)
    delta[0] = 0.05
    plan = JointPlan(Outcome.CLAMPED, 'clamped into the workspace', None, None, 0)
    active = ActivePrimitive(4, delta, 12.5, plan, plan.status, plan.message)
    assert active.phase is Phase.MOVE and active.twist is None and active.goal is None
    outcome = active.report(Outcome.HALTED, 'e-stop raised')
    assert (outcome.decision, outcome.delta[0], outcome.latency_ms, outcome.status) == (
        4, 0.05, 12.5, Outcome.HALTED)

"""DecisionGate.may_decide: the side-effect-free test a frame's arrival makes before the VLA
node asks the gate properly (check)."""

from contrastive_vla.control.decision import READY, DecisionGate


def test_may_decide_follows_the_step_wise_rhythm():
    gate = DecisionGate(max_image_age=0.5, done_timeout=10.0)
    assert not gate.may_decide(1.0)                    # no instruction yet
    gate.set_instruction('touch the red block', now=1.0)
    assert not gate.may_decide(None)                   # no frame
    assert not gate.may_decide(0.5)                    # taken before the instruction
    assert gate.may_decide(1.1)
    assert gate.check(1.1, 1.2).reason == READY        # the check agrees
    gate.decided(1, now=1.2, frame_stamp=1.1)
    assert not gate.may_decide(1.3)                    # the arm executes decision 1
    assert gate.finished(1, now=1.5)
    assert not gate.may_decide(1.4)                    # taken during the motion
    assert gate.may_decide(1.6)
    gate.set_stopped(True, now=1.7)
    assert not gate.may_decide(1.8)


def test_may_decide_has_no_side_effects():
    gate = DecisionGate(max_image_age=0.5, done_timeout=0.1)
    gate.set_instruction('go', now=0.0)
    gate.decided(1, now=0.0, frame_stamp=0.0)
    before = dict(vars(gate))
    assert not gate.may_decide(5.0)  # pending: the done timeout is the check's business
    assert vars(gate) == before
    gate.check(5.0, 5.0)  # the check gives the outcome up ...
    assert gate.timeouts == 1 and gate.pending is None
    assert gate.may_decide(5.1)  # ... and a frame taken after that may be decided on

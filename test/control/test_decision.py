from contrastive_vla.control import decision as d


def gate():
    return d.DecisionGate(max_image_age=0.5, done_timeout=2.0)


def test_needs_an_instruction_and_a_fresh_frame():
    g = gate()
    assert g.check(1.0, 1.0).reason == d.NO_INSTRUCTION
    g.set_instruction('touch the red block', now=1.0)
    assert g.check(None, 1.1).reason == d.NO_IMAGE
    assert g.check(0.9, 1.1).reason == d.OLD_IMAGE   # taken before the instruction
    assert g.check(1.05, 1.1).ready
    assert g.check(1.05, 1.7).reason == d.STALE_IMAGE


def test_one_decision_at_a_time_and_a_frame_after_the_motion():
    g = gate()
    g.set_instruction('x', 0.0)
    assert g.check(0.1, 0.1).ready
    g.decided(1, 0.1)
    assert g.check(0.2, 0.2).reason == d.BUSY
    assert not g.finished(7, 0.5)             # someone else's outcome
    assert g.check(0.5, 0.5).reason == d.BUSY
    assert g.finished(1, 0.6)
    assert g.check(0.55, 0.65).reason == d.OLD_IMAGE
    assert g.check(0.62, 0.65).ready


def test_lost_outcome_times_out():
    g = gate()
    g.set_instruction('x', 0.0)
    g.decided(1, 0.0)
    assert g.check(1.0, 1.0).reason == d.BUSY
    assert g.check(2.5, 2.5).reason == d.OLD_IMAGE  # gave up waiting; wants a newer frame
    assert g.timeouts == 1
    assert g.check(2.6, 2.7).ready


def test_stop_blocks_and_release_needs_a_new_frame():
    g = gate()
    g.set_instruction('x', 0.0)
    g.decided(1, 0.1)
    g.set_stopped(True, 0.2)
    assert g.pending is None
    assert g.check(0.3, 0.3).reason == d.STOPPED
    g.set_stopped(False, 1.0)
    assert g.check(0.9, 1.0).reason == d.OLD_IMAGE
    assert g.check(1.1, 1.1).ready


def test_a_decision_waits_briefly_for_the_joint_state_of_its_frame():
    def check(state, waited):
        return d.state_freshness(state, 10.0, waited, tolerance=0.02, max_wait=0.2)

    assert check(10.0, 0.0) == d.STATE_CURRENT      # same instant
    assert check(9.99, 0.0) == d.STATE_CURRENT      # within the tolerance
    assert check(10.5, 0.0) == d.STATE_CURRENT      # newer than the frame
    assert check(9.5, 0.05) == d.STATE_WAIT         # the previous step's state: wait for a newer
    assert check(None, 0.05) == d.STATE_WAIT
    assert check(9.5, 0.25) == d.STATE_STALE        # never came: decide anyway, counted


def test_a_used_frame_is_not_decided_on_again():
    g = gate()
    g.set_instruction('x', 0.0)
    assert g.check(0.3, 0.35).ready
    g.frame_used(0.3)                        # e.g. judged not worth acting on
    assert g.check(0.3, 0.4).reason == d.OLD_IMAGE
    assert g.check(0.4, 0.45).ready


def test_without_waiting_for_outcomes_every_new_frame_is_decided_on():
    g = d.DecisionGate(max_image_age=0.5, done_timeout=2.0, wait_for_outcome=False)
    g.set_instruction('x', 0.0)
    g.decided(1, 0.35, frame_stamp=0.3)
    assert g.pending is None
    assert g.check(0.3, 0.4).reason == d.OLD_IMAGE
    assert g.check(0.4, 0.45).ready

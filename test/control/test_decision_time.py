"""Frame time in the decision gate: a frame stamped in the future is never decided on (it is
refused with a reason and counted once), and the clock offset between the camera and the node is
estimated from the frames' receive times and said when it makes every frame unusable."""

import pytest

from contrastive_vla.control import decision as d


def gate(**kw):
    g = d.DecisionGate(max_image_age=0.5, done_timeout=2.0, **kw)
    g.set_instruction('touch the red block', now=100.0)
    return g


def test_a_frame_from_the_future_is_refused_and_counted_once():
    g = gate()
    assert g.max_future_stamp == 0.05
    future = 100.1 + 3600.0  # an hour ahead
    for now in (100.1, 100.2, 100.3):  # the same frame, checked on every tick
        verdict = g.check(future, now)
        assert not verdict.ready and verdict.reason == d.FUTURE_IMAGE
    assert g.future_frames == 1
    assert g.check(future + 1.0, 100.4).reason == d.FUTURE_IMAGE  # a second such frame
    assert g.future_frames == 2
    # still refused once the clock has caught up with its stamp: never acted on
    assert g.check(future + 1.0, future + 1.0).reason == d.FUTURE_IMAGE
    assert g.future_frames == 2
    # it never became the frame to beat: a correctly stamped frame is decided on next
    assert g.min_stamp < 100.5
    assert g.check(100.45, 100.5).ready


def test_a_frame_slightly_ahead_is_within_the_tolerance():
    g = gate()
    assert g.check(100.14, 100.1).ready            # 40 ms ahead: camera jitter
    assert g.check(100.2, 100.1).reason == d.FUTURE_IMAGE
    g.max_future_stamp = 0.2
    assert g.check(100.25, 100.1).ready            # a later frame, within the new tolerance
    assert g.future_frames == 1


def test_the_future_tolerance_is_checked():
    with pytest.raises(ValueError):
        d.DecisionGate(0.5, 2.0, max_future_stamp=-0.1)
    assert d.DecisionGate(0.5, 2.0, max_future_stamp=0.0).max_future_stamp == 0.0


def test_a_stale_frame_is_still_refused():
    assert gate().check(99.0, 100.6).reason == d.STALE_IMAGE


def test_the_clock_offset_is_the_median_of_receive_minus_stamp():
    skew = d.ClockSkew(window=5)
    assert skew.offset is None
    assert skew.warning(0.5, 0.05) is None
    for stamp in range(10):
        skew.add(stamp, stamp + 1.0)       # a camera 1 s behind this node
    skew.add(10.0, 10.0 + 40.0)            # one frame held up in transport: the median ignores it
    assert skew.offset == pytest.approx(1.0)
    assert len(skew.offsets) == 5          # the recent frames only


def test_a_camera_behind_makes_every_frame_stale_and_says_so():
    skew = d.ClockSkew()
    for i in range(20):
        skew.add(i * 0.04, i * 0.04 + 1.0)
    message = skew.warning(max_image_age=0.5, max_future_stamp=0.05)
    assert message == ('camera clock 1.0 s behind this node: every frame is stale; check time '
                       'sync (chrony/PTP) or use_sim_time')


def test_a_camera_ahead_makes_every_frame_future_and_says_so():
    skew = d.ClockSkew()
    for i in range(20):
        skew.add(i * 0.04 + 2.0, i * 0.04)
    message = skew.warning(max_image_age=0.5, max_future_stamp=0.05)
    assert message.startswith('camera clock 2.0 s ahead of this node: every frame is stamped '
                              'in the future')
    assert 'chrony/PTP' in message


def test_a_synchronised_camera_gives_no_warning():
    skew = d.ClockSkew()
    for i in range(20):
        skew.add(i * 0.04, i * 0.04 + 0.03)  # 30 ms of transport
    assert skew.offset == pytest.approx(0.03)
    assert skew.warning(max_image_age=0.5, max_future_stamp=0.05) is None

"""The message-class-agnostic field conventions shared by the bag and ros builders."""

from types import SimpleNamespace

import numpy as np

from contrastive_vla.core.msgfields import (
    NS_PER_S,
    camera_info_fields,
    ns_to_time_fields,
    seconds_to_ns,
    stamp_to_ns,
)


def test_time_fields_round_trip_and_normalize():
    for ns in (0, 7, 3_000_000_007, 1_700_000_000_123_456_789, -1):
        sec, nanosec = ns_to_time_fields(ns)
        assert 0 <= nanosec < NS_PER_S
        assert stamp_to_ns(SimpleNamespace(sec=sec, nanosec=nanosec)) == ns
    assert ns_to_time_fields(-1) == (-1, 999_999_999)
    assert stamp_to_ns(SimpleNamespace(sec=1, nanosec=2_500_000_000)) == 3_500_000_000


def test_seconds_to_ns_keeps_the_fraction_of_epoch_times():
    assert seconds_to_ns(1.5) == 1_500_000_000
    assert seconds_to_ns(-0.25) == -250_000_000
    seconds = 1_700_000_000.123456
    assert abs(seconds_to_ns(seconds) - 1_700_000_000_123_456_000) < 250  # the float's ulp
    # a fraction that rounds up to a whole second carries into the seconds
    assert ns_to_time_fields(seconds_to_ns(2.9999999999)) == (3, 0)


def test_camera_info_fields_of_a_pinhole():
    fields = camera_info_fields(6, 4, 5.0, 5.5, 3.0, 2.0)
    assert (fields['width'], fields['height'], fields['distortion_model']) == (6, 4, 'plumb_bob')
    np.testing.assert_array_equal(fields['k'], [5.0, 0, 3.0, 0, 5.5, 2.0, 0, 0, 1])
    np.testing.assert_array_equal(fields['p'], [5.0, 0, 3.0, 0, 0, 5.5, 2.0, 0, 0, 0, 1, 0])
    np.testing.assert_array_equal(fields['r'], np.eye(3).reshape(-1))
    np.testing.assert_array_equal(fields['d'], np.zeros(5))
    assert all(fields[k].dtype == np.float64 for k in 'dkrp')
